// A store that knows it is behind (issue 15): a backup that left the ack gate (SIGSTOPped past
// --ha-confirm-timeout while producers went on, settled by the other backup alone) hears, when
// it comes back, how far the primary has gone. The cluster then fails entirely before it has
// caught up, and only that backup is restarted: nothing else is reachable, yet its promotion is
// refused, naming the gap, because what it heard is recorded in its data dir. --force promotes it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventContext } from 'rhea';
import { connect, openSender } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/broker-process.js';

let cluster: Cluster | null = null;
after(async () => {
  await cluster?.stop();
});

test('a backup that left the gate and was cut off mid catch-up refuses promotion alone, naming the gap', async () => {
  cluster = await Cluster.start({ size: 3, heartbeatS: 1, extraArgs: ['--ha-confirm-timeout', '1'] });
  const c = cluster;
  await c.promoteAndWait(0);

  const conn = await connect(c.ports[0] as number);
  const sender = await openSender(conn.connection, { address: 'orders', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  let accepted = 0;
  sender.on('accepted', () => accepted++);
  const body = 'x'.repeat(1024);
  const pump = setInterval(() => {
    while (sender.sendable()) sender.send({ durable: true, body });
  }, 5);
  try {
    await waitFor(() => accepted >= 500 || null, 'messages accepted by the whole cluster', 20_000);
    // b2 stops; the primary drops it from the gate and settles with b1 alone meanwhile.
    await c.kill(2, 'SIGSTOP');
    const before = accepted;
    await waitFor(() => accepted >= before + 20_000 || null, 'the primary to settle a backlog without b2', 60_000);
  } finally {
    clearInterval(pump);
  }
  // b2 resumes, reconnects and hears where the primary is; it is stopped again before it has
  // applied the backlog, and the whole cluster then dies.
  const resumedAt = c.broker(2).logs.length;
  c.broker(2).kill('SIGCONT');
  const b2 = c.broker(2);
  await b2.waitForLog((l) => b2.logs.indexOf(l) >= resumedAt && /catching up|wiping the store to catch up/.test(String(l.msg)), 30_000);
  c.broker(2).kill('SIGSTOP');
  const primary = await c.status(0);
  await c.kill(0);
  await c.kill(1);
  c.broker(2).kill('SIGCONT');
  await c.kill(2);
  await conn.close().catch(() => {});

  await c.startBroker(2);
  const status = await c.status(2);
  assert.ok(status.heard, 'the restarted backup remembers the primary position it heard');
  assert.ok(status.heard.lsn > status.lastLsn, `heard LSN ${status.heard.lsn} beyond its store's ${status.lastLsn} (the primary was at ${primary.lastLsn})`);
  const query = await c.tool('qpid-ha', ['-b', `127.0.0.1:${c.ports[2]}`, 'query']);
  assert.match(query.stdout, /heard: the primary of epoch \d+ at LSN \d+ \(this store ends at \d+: behind/);

  const refused = await c.tool('qpid-ha', ['--cluster-manager', '-b', `127.0.0.1:${c.ports[2]}`, 'promote']);
  assert.notEqual(refused.code, 0, 'promotion refused');
  assert.match(refused.stderr, new RegExp(`this store ends at LSN ${status.lastLsn.toLocaleString('en-US')}; the primary of epoch ${status.heard.epoch} had reached ${status.heard.lsn.toLocaleString('en-US')}`));
  assert.equal((await c.status(2)).state, 'joining');

  await c.promote(2, { force: true });
  await c.waitForState(2, 'active', 30_000);
});
