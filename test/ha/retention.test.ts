// Log retention and the gate's scope (issue 4): messages on queues that do not replicate never
// wait for a backup, even a frozen one; the primary's log stays within --store-log-max-bytes
// meanwhile; and the backup, once it runs again, carries on with the primary's state.
// (A backup falling further behind than the retained log and resyncing from a snapshot needs
// control over credit and timing that real processes do not give: the simulator covers it.)
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, openSender, sendAll } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';

let cluster: Cluster | null = null;
after(async () => {
  await cluster?.stop();
});

test('a frozen backup holds back only what it replicates, and carries on when it runs again', async () => {
  cluster = await Cluster.start({ size: 2, heartbeatS: 20, extraArgs: ['--store-log-max-bytes', '256K'] });
  const c = cluster;
  await c.promoteAndWait(0);
  const conn = await connect(c.ports[0] as number);
  const replicated = await openSender(conn.connection, { address: 'kept', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  await sendAll(replicated, [{ durable: true, body: 'before' }]);
  // Traffic on a queue that is not replicated fills the primary's log without waiting for the
  // (frozen) backup, which is still in the gate for what it replicates.
  const local = await openSender(conn.connection, { address: 'local', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true, 'qpid.replicate': 'none' } });
  await c.kill(1, 'SIGSTOP');
  const t0 = Date.now();
  // More than the 32 frames of credit the frozen backup gave, more than the primary holds in
  // memory for a live backup (8 MiB), and far more than its log keeps (256 KiB).
  const body = 'x'.repeat(16 * 1024);
  for (let round = 0; round < 12; round++) {
    const outcomes = await sendAll(local, Array.from({ length: 200 }, () => ({ durable: true, body })), 60_000);
    assert.ok(outcomes.every((o) => o.state === 'accepted'));
  }
  assert.ok(Date.now() - t0 < 20_000, 'the frozen backup (heartbeat 20 s) did not hold back unreplicated messages');
  const primaryStatus = await c.status(0);
  assert.ok(primaryStatus.firstLsn > 100, `the primary's log was truncated (first LSN ${primaryStatus.firstLsn})`);
  c.broker(1).kill('SIGCONT');
  await sendAll(replicated, [{ durable: true, body: 'after' }]);
  await c.waitForReplication(0, 30_000);
  await c.waitForState(1, 'ready');
  assert.deepEqual(await c.storedBodies(1, 'kept'), ['before', 'after']);
  assert.equal((await c.summary(1)).queues.some((q) => q.name === 'local'), false);
  await conn.close();
});
