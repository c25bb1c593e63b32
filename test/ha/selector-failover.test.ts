// Selectors across a failover (issue 12): a selector lives on its consumer, so a consumer that
// reattaches to the promoted backup selects again from the replicated queue, and the other
// messages are still there for others; an exchange subscription's selector is its queue's
// qpid.filter, replicated with the queue, so the promoted backup goes on filtering what enters it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import rhea from 'rhea';
import { connect, openReceiver, openSender, receiveN, sendAll } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';

const durableQueue = (address: string) => ({ address, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
const selector = (text: string): Record<string, unknown> => rhea.filter.selector(text) as Record<string, unknown>;
const coloured = (n: number) => Array.from({ length: n }, (_, i) => ({ durable: true, body: `m${i + 1}`, application_properties: { colour: i % 2 === 0 ? 'red' : 'blue' } }));

let cluster: Cluster | null = null;
after(async () => {
  await cluster?.stop();
});

test('after the primary dies, selective consumers reattached to the promoted backup get only their matches', async () => {
  cluster = await Cluster.start({ size: 2 });
  await cluster.promoteAndWait(0);
  await cluster.waitForState(1, 'ready');
  let conn = await connect(cluster.ports[0] as number);
  // A durable subscription with a selector on amq.fanout: its queue (and qpid.filter) replicate.
  const subscription = { address: 'amq.fanout', durable: 2, expiry_policy: 'never', filter: selector("colour = 'blue'") };
  const subscriber = await connect(cluster.ports[0] as number, { containerId: 'blue-subscriber' });
  (await openReceiver(subscriber.connection, subscription, { name: 'blues' })).detach();
  await subscriber.close();
  const sender = await openSender(conn.connection, durableQueue('paint'));
  assert.ok((await sendAll(sender, coloured(10))).every((o) => o.state === 'accepted'));
  const fanout = await openSender(conn.connection, 'amq.fanout');
  assert.ok((await sendAll(fanout, coloured(4))).every((o) => o.state === 'accepted'));
  await conn.close();

  await cluster.kill(0);
  await cluster.promote(1);
  await cluster.waitForState(1, 'active');
  conn = await connect(cluster.ports[1] as number);
  const reds = await openReceiver(conn.connection, { address: 'paint', filter: selector("colour = 'red'") });
  const gotRed = await receiveN(reds, 5);
  const extraRed = await receiveN(reds, 1, { timeoutMs: 300, atMost: true });
  for (const r of gotRed) r.delivery.accept();
  assert.deepEqual([...gotRed, ...extraRed].map((r) => r.message.body), ['m1', 'm3', 'm5', 'm7', 'm9']);
  const blues = await openReceiver(conn.connection, { address: 'paint', filter: selector("colour = 'blue'") });
  const gotBlue = await receiveN(blues, 5);
  for (const r of gotBlue) r.delivery.accept();
  assert.deepEqual(gotBlue.map((r) => r.message.body), ['m2', 'm4', 'm6', 'm8', 'm10']);

  // The subscription queue came across with what its selector let in. (Bindings to built-in
  // exchanges are not replicated: the reattach binds it again.) The promoted backup filters
  // with the replicated selector.
  const resubscriber = await connect(cluster.ports[1] as number, { containerId: 'blue-subscriber' });
  const resumed = await openReceiver(resubscriber.connection, subscription, { name: 'blues' });
  const before = await receiveN(resumed, 2);
  for (const r of before) r.delivery.accept();
  assert.deepEqual(before.map((r) => r.message.body), ['m2', 'm4']);
  const later = await openSender(conn.connection, 'amq.fanout');
  assert.ok((await sendAll(later, coloured(4).map((m) => ({ ...m, body: `after-${String(m.body)}` })))).every((o) => o.state === 'accepted'));
  const got = await receiveN(resumed, 2);
  const extra = await receiveN(resumed, 1, { timeoutMs: 300, atMost: true });
  assert.deepEqual([...got, ...extra].map((r) => r.message.body), ['after-m2', 'after-m4']);
  await conn.close();
  await resubscriber.close();
});
