// Issue 16: a backup whose disk fills leaves the ack gate (closing its replication link with the
// reason) instead of stalling producers or dying, and catches up again once it can. A real
// two-broker cluster; b1 runs on a 6 MiB tmpfs (a private mount namespace), far smaller than
// what the producer sends through b0.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { connect, openSender, sendAll } from '../helpers/amqp.js';
import { waitFor } from '../helpers/broker-process.js';
import { Cluster } from '../helpers/cluster.js';
import { namespacesWork, tmpfsLauncher } from '../helpers/tmpfs.js';
import { queueNode } from '../integration/support.js';

const clusters: Cluster[] = [];
const innerPids: number[] = [];
after(async () => {
  // The launcher first (so it starts nothing again), then the broker inside its namespace.
  for (const c of clusters) await c.stop();
  for (const pid of innerPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

test('a backup whose disk fills leaves the gate: producers are not stalled, nobody dies, and it catches up once the primary drains', { timeout: 240_000 }, async (t) => {
  const c = await Cluster.start({ size: 2, heartbeatS: 1 });
  clusters.push(c);
  const why = namespacesWork(c.dataDirs[1]!);
  if (why !== null) {
    t.skip(`cannot mount a small tmpfs in a private namespace: ${why}`);
    return;
  }
  await c.kill(1);
  const b1 = await c.startBroker(1, ['--store-reserve-bytes', '256K'], tmpfsLauncher(c.dataDirs[1]!, 6 * 1024 * 1024, 0));
  innerPids.push(Number((await b1.waitForLog((l) => l.msg === 'launcher: broker started'))['pid']));
  await c.promoteAndWait(0);
  const conn = await connect(c.ports[0]!);
  const sender = await openSender(conn.connection, queueNode('big', { durable: true }));
  const body = 'z'.repeat(8000);
  const started = Date.now();
  let accepted = 0;
  for (let round = 0; round < 10; round++) {
    const outcomes = await sendAll(sender, Array.from({ length: 200 }, () => ({ durable: true, body })), 60_000);
    accepted += outcomes.filter((o) => o.state === 'accepted').length;
  }
  assert.equal(accepted, 2000, 'every message accepted: the full backup held no producer back');
  const left = await b1.waitForLog((l) => l.msg === 'leaving the ack gate to catch up again' && /store full/.test(String(l['reason'])), 30_000);
  assert.ok(left, 'b1 left the gate because its store was full');
  assert.ok(Date.now() - started < 120_000);
  assert.equal(c.broker(0).child.exitCode, null, 'the primary is up');
  assert.equal(b1.logs.some((l) => l.msg === 'launcher: broker exited'), false, 'the backup did not die');

  // Drain the primary: the backup's next catch-up fits, and it is ready again.
  const { drain } = await import('../helpers/amqp.js');
  const drained = await drain(c.ports[0]!, 'big', 500);
  assert.equal(drained.length, 2000);
  await conn.close();
  await waitFor(async () => (await c.status(1)).state === 'ready', 'b1 to be ready again', 120_000, 200);
});
