// Catch-up that converges (issue 15): a backup catching up incrementally that stops gaining
// (SIGSTOPped here, the extreme of a backup that cannot outrun ingest) makes the primary pause
// its producers for --ha-catchup-share of each second after --ha-catchup-stall-timeout; they
// keep the rest of each second. Once the backup runs again and gains, the producers are
// unthrottled and the backup becomes ready with every message.
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

test('a stalled catch-up pauses producers for their share of each second, and only until it gains', async () => {
  cluster = await Cluster.start({ size: 2, heartbeatS: 5, extraArgs: ['--ha-catchup-stall-timeout', '0.5', '--ha-catchup-share', '0.4'] });
  const c = cluster;
  await c.promoteAndWait(0);
  const conn = await connect(c.ports[0] as number);
  const sender = await openSender(conn.connection, { address: 'orders', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  const acceptedAt: number[] = [];
  sender.on('accepted', (_ctx: EventContext) => acceptedAt.push(Date.now()));
  const body = 'x'.repeat(512);
  const pump = setInterval(() => {
    while (sender.sendable()) sender.send({ durable: true, body });
  }, 2);
  try {
    // The backup is away while a backlog builds up, then comes back for it and stops at once.
    await c.kill(1);
    await waitFor(() => acceptedAt.length >= 10_000 || null, 'a backlog while the backup is away', 60_000);
    const b1 = await c.startBroker(1);
    await b1.waitForLog((l) => /catching up incrementally/.test(String(l.msg)), 30_000);
    b1.kill('SIGSTOP');
    const primary = c.broker(0);
    const stall = await primary.waitForLog((l) => /catch-up stalled/.test(String(l.msg)), 15_000);
    assert.deepEqual(stall['backups'], [c.name(1)]);
    const stalledAt = Date.now();
    await new Promise((r) => setTimeout(r, 2000));
    const during = acceptedAt.filter((t) => t >= stalledAt);
    assert.ok(during.length > 0, 'producers keep most of each second');
    // Paused for 400 ms of each second: some gap between acceptances is near that long.
    let longestGap = 0;
    for (let i = 1; i < during.length; i++) longestGap = Math.max(longestGap, (during[i] as number) - (during[i - 1] as number));
    assert.ok(longestGap >= 250, `longest gap between acceptances while stalled: ${longestGap} ms`);
    assert.ok(longestGap < 2000, `producers were never paused for a whole second: longest gap ${longestGap} ms`);

    b1.kill('SIGCONT');
    await primary.waitForLog((l) => /catch-up gaining again/.test(String(l.msg)), 30_000);
  } finally {
    clearInterval(pump);
  }
  await c.waitForState(1, 'ready', 60_000);
  await conn.close().catch(() => {});
});
