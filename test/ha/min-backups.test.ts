// No accepting alone (issue 15, --ha-min-backups): a 3-broker cluster's primary cut off from
// both backups (both SIGSTOPped) settles nothing once they have left its ack gate, and says so
// (qpid-ha status, /readyz). After the harness fences it (kill -9) and promotes a backup, every
// message it accepted is there: none was accepted alone.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventContext } from 'rhea';
import { connect, drain, openSender } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/broker-process.js';

let cluster: Cluster | null = null;
after(async () => {
  await cluster?.stop();
});

test('a primary partitioned from its backups accepts nothing alone; after fencing and a promotion nothing accepted is lost', async () => {
  cluster = await Cluster.start({ size: 3, heartbeatS: 0.5, extraArgs: ['--http-port', '0'] });
  const c = cluster;
  await c.promoteAndWait(0);
  assert.equal((await c.status(0)).gate?.minBackups, 1, 'the default with three brokers');

  const conn = await connect(c.ports[0] as number);
  const sender = await openSender(conn.connection, { address: 'orders', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  const acceptedAt = new Map<string, number>();
  let sent = 0;
  sender.on('accepted', (ctx: EventContext) => acceptedAt.set(String((ctx.delivery as unknown as { body: string }).body), Date.now()));
  const pump = setInterval(() => {
    while (sender.sendable() && sent < 1_000_000) {
      const body = `m${sent++}`;
      const delivery = sender.send({ durable: true, body }) as unknown as { body: string };
      delivery.body = body;
    }
  }, 5);
  try {
    await waitFor(() => acceptedAt.size >= 200, 'some messages accepted while the cluster is whole', 20_000);
    await c.kill(1, 'SIGSTOP');
    await c.kill(2, 'SIGSTOP');
    const stoppedAt = Date.now();
    // Both leave the gate after twice the heartbeat; from then on nothing may settle.
    const short = await waitFor(async () => ((await c.status(0)).gate?.short ? Date.now() : null), 'the primary to see its gate short of backups', 15_000);
    const listening = await c.broker(0).waitForLog((l) => l.msg === 'listening');
    const readyz = await fetch(`http://127.0.0.1:${String(listening['httpPort'])}/readyz`);
    assert.equal(readyz.status, 503);
    assert.match(String(((await readyz.json()) as { reason?: string }).reason), /waiting for backups/);
    await new Promise((r) => setTimeout(r, 3000));
    const aloneAccepted = [...acceptedAt.values()].filter((t) => t > short + 100).length;
    assert.equal(aloneAccepted, 0, `${aloneAccepted} messages accepted while the primary was alone (backups stopped at ${stoppedAt})`);
  } finally {
    clearInterval(pump);
  }
  const accepted = [...acceptedAt.keys()];

  // The harness fences the old primary, wakes the backups and promotes the better of them.
  await c.kill(0);
  c.broker(1).kill('SIGCONT');
  c.broker(2).kill('SIGCONT');
  const statuses = await waitFor(
    async () => {
      const s = [await c.status(1), await c.status(2)];
      return s.every((x) => !x.connectedToPrimary) ? s : null;
    },
    'both backups to notice the primary is gone',
    20_000,
  );
  const best = (statuses[0]?.lastLsn ?? 0) >= (statuses[1]?.lastLsn ?? 0) ? 1 : 2;
  await c.promote(best);
  await c.waitForState(best, 'active', 30_000);
  const bodies = new Set((await drain(c.ports[best] as number, 'orders')).map((m) => String(m.body)));
  const lost = accepted.filter((b) => !bodies.has(b));
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${accepted.length} accepted messages lost`);
});
