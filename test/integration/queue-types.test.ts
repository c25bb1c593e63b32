// Issue 12, the queue types qpidd users declare, against a real qpidd process with a stock rhea
// client: a last-value queue keeps the newest message per key; a priority queue delivers the
// higher AMQP priority first; a message group sticks to one consumer until that consumer has
// settled all it holds of the group, or detaches; declared by create-on-demand node properties
// and by qpid-config's qpidd options, with bad values refused naming the argument. After kill -9
// the restarted broker rebuilds each queue's order and its last-value index from the store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import rhea, { type Message } from 'rhea';
import { connect, openReceiver, openSender, receiveN, sendAll, type TestConnection } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, TOOL, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { bodies, queueNode, queueStats, runNode, uniqueName } from './support.js';

let broker: BrokerProcess;
let dataDir: string;
let conn: TestConnection;

before(async () => {
  dataDir = tempDir('qpidd-qtypes-');
  broker = await startQpidd({ dataDir });
  conn = await connect(broker.port);
});

after(async () => {
  await conn?.close();
  broker?.kill('SIGKILL');
  await broker?.exited;
  if (dataDir) removeDir(dataDir);
});

const quote = (symbol: string, price: number): Message => ({ durable: true, body: `${symbol}@${price}`, application_properties: { symbol } });
const prioritised = (body: string, priority: number): Message => ({ durable: true, priority, body });
const grouped = (body: string, group: string | null): Message => ({ durable: true, body, ...(group === null ? {} : { application_properties: { user: group } }) });

async function sendAccepted(address: string | Record<string, unknown>, messages: readonly Message[], via: TestConnection = conn): Promise<void> {
  const sender = await openSender(via.connection, address);
  const outcomes = await sendAll(sender, messages);
  assert.deepEqual(outcomes.map((o) => o.state), messages.map(() => 'accepted'), JSON.stringify(outcomes.find((o) => o.state !== 'accepted')));
  sender.close();
}

async function takeAll(address: string, count: number, via: TestConnection = conn): Promise<string[]> {
  const receiver = await openReceiver(via.connection, address);
  const got = await receiveN(receiver, count);
  for (const r of got) r.delivery.accept();
  const extra = await receiveN(receiver, 1, { timeoutMs: 300, atMost: true });
  receiver.close();
  return bodies([...got, ...extra]);
}

async function qpidConfig(...args: string[]): Promise<{ code: number | null; stderr: string }> {
  return runNode(TOOL('qpid-config'), ['-b', `127.0.0.1:${broker.port}`, ...args]);
}

test('a last-value queue keeps only the newest message of each key, in queue order, and browsing shows those', async () => {
  const name = uniqueName('prices');
  await sendAccepted(queueNode(name, { durable: true, 'qpid.last_value_queue_key': 'symbol' }), [quote('IBM', 1), quote('RHT', 1), quote('IBM', 2), quote('RHT', 2), quote('MSFT', 1), quote('IBM', 3)]);
  assert.equal((await queueStats(broker.port, name))?.count, 3);
  const browser = await openReceiver(conn.connection, { address: name, distribution_mode: 'copy' });
  assert.deepEqual(bodies(await receiveN(browser, 3)), ['RHT@2', 'MSFT@1', 'IBM@3']);
  browser.close();
  assert.deepEqual(await takeAll(name, 3), ['RHT@2', 'MSFT@1', 'IBM@3']);
});

test('a last-value message a consumer holds is not taken from it: the newer one waits beside it', async () => {
  const name = uniqueName('held');
  await sendAccepted(queueNode(name, { 'qpid.last_value_queue_key': 'symbol' }), [quote('IBM', 1)]);
  const receiver = await openReceiver(conn.connection, name);
  const [held] = await receiveN(receiver, 1);
  await sendAccepted(name, [quote('IBM', 2), quote('IBM', 3)]);
  held?.delivery.accept();
  assert.deepEqual(bodies(await receiveN(receiver, 1)), ['IBM@3']);
  receiver.close();
});

test('a full last-value queue still takes a message that replaces one, and refuses one with a new key', async () => {
  const name = uniqueName('full-prices');
  await sendAccepted(queueNode(name, { 'qpid.last_value_queue_key': 'symbol', 'qpid.max_count': 2 }), [quote('IBM', 1), quote('RHT', 1), quote('IBM', 2)]);
  const sender = await openSender(conn.connection, name);
  const [refused] = await sendAll(sender, [quote('MSFT', 1)]);
  sender.close();
  assert.equal(refused?.state, 'rejected');
  assert.equal(refused?.condition, 'amqp:resource-limit-exceeded');
  assert.deepEqual(await takeAll(name, 2), ['RHT@1', 'IBM@2']);
});

test('a priority queue declared with qpid-config --priorities delivers higher priorities first, oldest first within one', async () => {
  const name = uniqueName('urgent');
  const added = await qpidConfig('add', 'queue', name, '--durable', '--priorities', '10');
  assert.equal(added.code, 0, added.stderr);
  await sendAccepted(name, [prioritised('low-1', 1), prioritised('low-2', 1), prioritised('default', 4), { durable: true, body: 'absent' }, prioritised('high-1', 9), prioritised('high-2', 9)]);
  // A browser sees the same order (qpidd's browsers do), and takes nothing.
  const browser = await openReceiver(conn.connection, { address: name, distribution_mode: 'copy' });
  assert.deepEqual(bodies(await receiveN(browser, 6)), ['high-1', 'high-2', 'default', 'absent', 'low-1', 'low-2']);
  browser.close();
  assert.deepEqual(await takeAll(name, 6), ['high-1', 'high-2', 'default', 'absent', 'low-1', 'low-2']);
});

test('two priority levels split AMQP priorities 0-4 from 5-9, as qpidd does', async () => {
  const name = uniqueName('two-levels');
  await sendAccepted(queueNode(name, { 'qpid.priorities': 2 }), [prioritised('p0', 0), prioritised('p4', 4), prioritised('p5', 5), prioritised('p9', 9), prioritised('p3', 3), prioritised('p7', 7)]);
  assert.deepEqual(await takeAll(name, 6), ['p5', 'p9', 'p7', 'p0', 'p4', 'p3']);
});

test('a selective consumer on a priority queue gets its matches highest priority first; the rest stay', async () => {
  const name = uniqueName('paint');
  const paint = (body: string, priority: number, colour: string): Message => ({ durable: true, priority, body, application_properties: { colour } });
  await sendAccepted(queueNode(name, { 'qpid.priorities': 10 }), [paint('red-low', 1, 'red'), paint('blue-high', 9, 'blue'), paint('red-high', 9, 'red'), paint('red-mid', 5, 'red')]);
  const reds = await openReceiver(conn.connection, { address: name, filter: rhea.filter.selector("colour = 'red'") });
  const got = await receiveN(reds, 3);
  for (const r of got) r.delivery.accept();
  assert.deepEqual(bodies(got), ['red-high', 'red-mid', 'red-low']);
  reds.close();
  assert.deepEqual(await takeAll(name, 1), ['blue-high']);
});

test('a message group sticks to one consumer until it has settled every message it holds of the group, or detaches', async () => {
  const name = uniqueName('orders');
  const added = await qpidConfig('add', 'queue', name, '--group-header', 'user', '--shared-groups');
  assert.equal(added.code, 0, added.stderr);
  await sendAccepted(name, [grouped('a1', 'alice'), grouped('b1', 'bob'), grouped('a2', 'alice'), grouped('b2', 'bob'), grouped('a3', 'alice'), grouped('b3', 'bob')]);
  // The first consumer's first message makes alice's group its own; the second consumer, asking
  // for three, gets bob's group (alice's is owned), and the first then gets the rest of alice's.
  const aliceHolder = await openReceiver(conn.connection, name);
  const alice = await receiveN(aliceHolder, 1);
  const bobHolder = await openReceiver(conn.connection, name);
  const bob = await receiveN(bobHolder, 3);
  alice.push(...(await receiveN(aliceHolder, 2)));
  assert.deepEqual(bodies(alice), ['a1', 'a2', 'a3']);
  assert.deepEqual(bodies(bob), ['b1', 'b2', 'b3']);
  for (const r of bob) r.delivery.accept();

  // alice's holder still holds a3: a new alice message waits even though bob's holder can take.
  const next = receiveN(bobHolder, 1, { timeoutMs: 20_000 });
  await sendAccepted(name, [grouped('a4', 'alice')]);
  const early = await Promise.race([next, new Promise<null>((resolve) => setTimeout(() => resolve(null), 500))]);
  assert.equal(early, null, 'a4 went to another consumer while alice\'s group was held');
  for (const r of alice.slice(0, 2)) r.delivery.accept();
  await waitFor(async () => (await queueStats(broker.port, name))?.count === 2, 'a1 and a2 consumed, a3 and a4 still on the queue', 20_000, 100);
  assert.equal(await Promise.race([next, new Promise<null>((resolve) => setTimeout(() => resolve(null), 300))]), null, 'a4 went out while a3 was held');
  alice[2]?.delivery.accept(); // the group is released: a4 may go to anyone
  const [a4] = await next;
  assert.equal(a4?.message.body, 'a4');

  // The new holder detaches without settling: the group goes back, and its message with it.
  await sendAccepted(name, [grouped('a5', 'alice')]);
  bobHolder.close();
  const third = await openReceiver(conn.connection, name);
  assert.deepEqual(bodies(await receiveN(third, 2)), ['a4', 'a5']);
  aliceHolder.close();
  third.close();
});

test('messages without the group header form one group, qpidd\'s default', async () => {
  const name = uniqueName('nogroup');
  await sendAccepted(queueNode(name, { 'qpid.group_header_key': 'user', 'qpid.shared_msg_group': 1 }), [grouped('n1', null), grouped('n2', null)]);
  const first = await openReceiver(conn.connection, name);
  const [n1] = await receiveN(first, 1);
  const second = await openReceiver(conn.connection, name);
  assert.deepEqual(await receiveN(second, 1, { timeoutMs: 500, atMost: true }), [], 'n2 is in n1\'s group');
  n1?.delivery.accept();
  assert.deepEqual(bodies(await receiveN(second, 1)), ['n2']);
  first.close();
  second.close();
});

test('bad queue type arguments refuse the declare, naming the argument', async () => {
  const refusal = async (properties: Record<string, unknown>): Promise<{ condition?: string; description?: string }> => {
    try {
      await openSender(conn.connection, queueNode(uniqueName('bad'), properties));
    } catch (err) {
      return err as { condition?: string; description?: string };
    }
    assert.fail(`declare with ${JSON.stringify(properties)} was accepted`);
  };
  const tooMany = await refusal({ 'qpid.priorities': 11 });
  assert.equal(tooMany.condition, 'amqp:invalid-field');
  assert.match(tooMany.description ?? '', /qpid\.priorities=11: an integer from 1 to 10/);
  assert.match((await refusal({ 'qpid.last_value_queue_key': 'k', 'qpid.priorities': 3 })).description ?? '', /qpid\.last_value_queue_key and qpid\.priorities/);
  assert.match((await refusal({ 'qpid.group_header_key': 'user' })).description ?? '', /needs qpid\.shared_msg_group=1/);
  const tool = await qpidConfig('add', 'queue', uniqueName('bad'), '--priorities', '0');
  assert.notEqual(tool.code, 0);
  assert.match(tool.stderr, /qpid\.priorities=0/);
  const usage = await qpidConfig('add', 'queue', uniqueName('bad'), '--priorities', 'high');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--priorities: "high"/);
});

test('after kill -9 a priority queue keeps its order, a last-value queue its replacements (new messages replace recovered ones), a grouped queue its order with every group free', async () => {
  const urgent = uniqueName('urgent-crash');
  const prices = uniqueName('prices-crash');
  await sendAccepted(queueNode(urgent, { durable: true, 'qpid.priorities': 10 }), [prioritised('p1a', 1), prioritised('p5a', 5), prioritised('p9a', 9), prioritised('p1b', 1), prioritised('p5b', 5), prioritised('p9b', 9)]);
  await sendAccepted(queueNode(prices, { durable: true, 'qpid.last_value_queue_key': 'symbol' }), [quote('IBM', 1), quote('RHT', 1), quote('IBM', 2)]);
  const orders = uniqueName('orders-crash');
  await sendAccepted(queueNode(orders, { durable: true, 'qpid.group_header_key': 'user', 'qpid.shared_msg_group': 1 }), [grouped('a1', 'alice'), grouped('b1', 'bob'), grouped('a2', 'alice')]);
  // alice's group is held (a1 unsettled) when the broker dies.
  const holder = await openReceiver(conn.connection, orders);
  assert.deepEqual(bodies(await receiveN(holder, 1)), ['a1']);
  await conn.close();
  broker.kill('SIGKILL');
  await broker.exited;
  broker = await startQpidd({ dataDir });
  conn = await connect(broker.port);
  assert.equal((await queueStats(broker.port, prices))?.count, 2, 'the replaced IBM@1 was dequeued in the store');
  // Recovered messages are behind new ones of a higher priority, and ahead of new ones of theirs.
  await sendAccepted(urgent, [prioritised('p9c', 9), prioritised('p1c', 1)]);
  assert.deepEqual(await takeAll(urgent, 8), ['p9a', 'p9b', 'p9c', 'p5a', 'p5b', 'p1a', 'p1b', 'p1c']);
  await sendAccepted(prices, [quote('IBM', 3)]);
  assert.deepEqual(await takeAll(prices, 2), ['RHT@1', 'IBM@3']);
  // Ownership died with the consumers: a1 comes first again, and the groups are rebuilt.
  const first = await openReceiver(conn.connection, orders);
  const alice = await receiveN(first, 1);
  const second = await openReceiver(conn.connection, orders);
  const bob = await receiveN(second, 2, { timeoutMs: 1000, atMost: true });
  alice.push(...(await receiveN(first, 1)));
  assert.deepEqual([bodies(alice), bodies(bob)], [['a1', 'a2'], ['b1']]);
});

