// The queue types across a failover (issue 12): a queue's type comes with its replicated declare
// arguments, and each last-value replacement is a dequeue in the same replicated commit as the
// enqueue that replaced it. So the promoted backup rebuilds the same priority order, the same
// newest message per key (and goes on replacing), and the same group order; group ownership is
// not replicated (the consumers that held groups are gone), so every group starts free there.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from 'rhea';
import { connect, openReceiver, openSender, receiveN, sendAll, type TestConnection } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';

const typedQueue = (address: string, args: Record<string, unknown>) => ({ address, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true, ...args } });
const bodiesOf = (got: readonly { message: Message }[]) => got.map((r) => String(r.message.body));

let cluster: Cluster | null = null;
after(async () => {
  await cluster?.stop();
});

async function sendAccepted(conn: TestConnection, target: string | Record<string, unknown>, messages: readonly Message[]): Promise<void> {
  const sender = await openSender(conn.connection, target);
  const outcomes = await sendAll(sender, messages);
  assert.ok(outcomes.every((o) => o.state === 'accepted'), JSON.stringify(outcomes));
  sender.close();
}

async function takeAll(conn: TestConnection, address: string, count: number): Promise<string[]> {
  const receiver = await openReceiver(conn.connection, address);
  const got = await receiveN(receiver, count);
  for (const r of got) r.delivery.accept();
  const extra = await receiveN(receiver, 1, { timeoutMs: 300, atMost: true });
  receiver.close();
  return bodiesOf([...got, ...extra]);
}

test('a promoted backup delivers last-value, priority and grouped queues as the primary would have', async () => {
  cluster = await Cluster.start({ size: 2 });
  await cluster.promoteAndWait(0);
  await cluster.waitForState(1, 'ready');
  let conn = await connect(cluster.ports[0] as number);
  const quote = (symbol: string, price: number): Message => ({ durable: true, body: `${symbol}@${price}`, application_properties: { symbol } });
  await sendAccepted(conn, typedQueue('prices', { 'qpid.last_value_queue_key': 'symbol' }), [quote('IBM', 1), quote('RHT', 1), quote('IBM', 2), quote('MSFT', 1), quote('RHT', 2)]);
  const prioritised = (body: string, priority: number): Message => ({ durable: true, priority, body });
  await sendAccepted(conn, typedQueue('urgent', { 'qpid.priorities': 10 }), [prioritised('p1a', 1), prioritised('p9a', 9), prioritised('p5a', 5), prioritised('p1b', 1), prioritised('p9b', 9)]);
  const grouped = (body: string, user: string): Message => ({ durable: true, body, application_properties: { user } });
  await sendAccepted(conn, typedQueue('orders', { 'qpid.group_header_key': 'user', 'qpid.shared_msg_group': 1 }), [grouped('a1', 'alice'), grouped('b1', 'bob'), grouped('a2', 'alice'), grouped('b2', 'bob'), grouped('a3', 'alice')]);
  // A consumer on the primary holds alice's group (a1 unsettled) when the primary dies.
  const holder = await openReceiver(conn.connection, 'orders');
  assert.deepEqual(bodiesOf(await receiveN(holder, 1)), ['a1']);

  await cluster.kill(0);
  await cluster.promote(1);
  await cluster.waitForState(1, 'active');
  conn = await connect(cluster.ports[1] as number);

  assert.deepEqual(await takeAll(conn, 'urgent', 5), ['p9a', 'p9b', 'p5a', 'p1a', 'p1b']);
  // The newest per key, in queue order; and the promoted broker goes on replacing.
  await sendAccepted(conn, 'prices', [quote('IBM', 3)]);
  assert.deepEqual(await takeAll(conn, 'prices', 3), ['MSFT@1', 'RHT@2', 'IBM@3']);
  // Groups start free: a1 (never settled) comes first again, and alice's group sticks to
  // whoever takes it while bob's goes to the other consumer.
  const first = await openReceiver(conn.connection, 'orders');
  const alice = await receiveN(first, 1);
  const second = await openReceiver(conn.connection, 'orders');
  const bob = await receiveN(second, 2);
  const more = await receiveN(second, 1, { timeoutMs: 500, atMost: true });
  alice.push(...(await receiveN(first, 2)));
  assert.deepEqual(bodiesOf(alice), ['a1', 'a2', 'a3']);
  assert.ok((alice[0]?.message.delivery_count ?? 0) >= 1, 'a1 is marked as possibly delivered before');
  assert.deepEqual(bodiesOf([...bob, ...more]), ['b1', 'b2']);
  await conn.close();
});
