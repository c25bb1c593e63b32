// Catch-up under load and configuration gating (issue 4): backups joining at different points
// while producers run all converge on the primary's state, and a configuration change returns
// only once every ready backup has it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, drain, openSender, sendAll } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';

const clusters: Cluster[] = [];
after(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
});

const queueNode = (address: string) => ({ address, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });

test('qpid-config add queue returns only once every ready backup has the queue', async () => {
  const c = await Cluster.start({ size: 3 });
  clusters.push(c);
  await c.promoteAndWait(0);
  for (let i = 0; i < 5; i++) {
    const result = await c.tool('qpid-config', ['-b', `127.0.0.1:${c.ports[0]}`, 'add', 'queue', `gated-${i}`, '--durable']);
    assert.equal(result.code, 0, result.stderr);
    // No waiting: the backups must already have it.
    for (const b of [1, 2]) assert.ok((await c.summary(b)).queues.some((q) => q.name === `gated-${i}`), `b${b} has gated-${i}`);
  }
});

test('backups catching up from different points while producers run end with the primary\'s messages', async () => {
  const c = await Cluster.start({ size: 3 });
  clusters.push(c);
  await c.promoteAndWait(0);
  const conn = await connect(c.ports[0] as number);
  const sender = await openSender(conn.connection, queueNode('moving'));
  const bodies: string[] = [];
  let batch = 0;
  const sendBatch = async (): Promise<void> => {
    const next = Array.from({ length: 200 }, (_, i) => `m${batch}-${i}`);
    batch++;
    const outcomes = await sendAll(sender, next.map((body) => ({ durable: true, body })));
    assert.ok(outcomes.every((o) => o.state === 'accepted'));
    bodies.push(...next);
  };
  await sendBatch();
  await c.kill(1);
  await sendBatch();
  const restart1 = c.startBroker(1);
  await sendBatch();
  await restart1;
  await c.kill(2);
  await sendBatch();
  const restart2 = c.startBroker(2);
  await Promise.all([sendBatch(), restart2]);
  await sendBatch();
  await conn.close();
  await c.waitForState(1, 'ready');
  await c.waitForState(2, 'ready');
  await c.waitForReplication(0);
  assert.deepEqual(await c.storedBodies(1, 'moving'), bodies);
  assert.deepEqual(await c.storedBodies(2, 'moving'), bodies);
  assert.deepEqual((await drain(c.ports[0] as number, 'moving')).map((m) => m.body), bodies);
});
