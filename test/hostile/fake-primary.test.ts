// A fake primary (issue 19): after the primary is killed, a process answers on its port as a
// primary with a high epoch and an empty snapshot. The backups must not wipe themselves for it:
// its epoch history shares none of theirs. They stay ready with their data and their epoch, and
// promoting one of them afterwards recovers every message accepted before.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, drain, openSender, sendAll } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/broker-process.js';
import { FakePrimary } from '../helpers/replication-peer.js';

let cluster: Cluster | null = null;
let fake: FakePrimary | null = null;
after(async () => {
  fake?.stop();
  await cluster?.stop();
});

test('backups refuse a fake primary with a high epoch and an empty log, keep their stores, and one is promoted with every accepted message', async () => {
  cluster = await Cluster.start({ size: 3 });
  await cluster.promoteAndWait(0);
  const conn = await connect(cluster.ports[0] as number);
  const sender = await openSender(conn.connection, { address: 'orders', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  const bodies = Array.from({ length: 500 }, (_, i) => `m${i}`);
  const outcomes = await sendAll(sender, bodies.map((body) => ({ durable: true, body })));
  assert.ok(outcomes.every((o) => o.state === 'accepted'));
  await conn.close();
  await cluster.waitForReplication(0);
  const before = [await cluster.status(1), await cluster.status(2)];

  const wipesBefore = [1, 2].map((i) => (cluster as Cluster).broker(i).logs.filter((l) => /wiping the store/.test(l.msg)).length);
  await cluster.kill(0);
  fake = await FakePrimary.start({ port: cluster.ports[0] as number, epoch: 1000 });
  await waitFor(() => fake?.joined.includes('b1') && fake.joined.includes('b2'), 'both backups to try the fake primary', 15_000);
  for (const i of [1, 2]) {
    await cluster.broker(i).waitForLog((l) => l.msg.startsWith('refusing a primary whose epoch history'), 5000);
    const status = await cluster.status(i);
    assert.equal(status.state, 'ready', `b${i} is still ready`);
    assert.equal(status.lastLsn, before[i - 1]?.lastLsn, `b${i} kept its store`);
    assert.equal(status.epoch, before[i - 1]?.epoch, `b${i} did not take the fake epoch`);
    assert.equal(cluster.broker(i).logs.filter((l) => /wiping the store/.test(l.msg)).length, wipesBefore[i - 1], `b${i} never wiped for the fake`);
  }
  fake.stop();
  fake = null;

  await cluster.promote(1);
  await cluster.waitForState(1, 'active');
  const received = (await drain(cluster.ports[1] as number, 'orders')).map((m) => String(m.body));
  assert.deepEqual(bodies.filter((b) => !received.includes(b)), [], 'every accepted message is on the promoted backup');
});
