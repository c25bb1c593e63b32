// Issue 12, selectors: the `apache.org:selector-filter:string` source filter against a real qpidd
// process with a stock rhea client. A consumer gets only what it selects, and what it does not
// select stays for others (never skipped for good); complementary selectors share a queue; a bad
// selector refuses the attach with amqp:invalid-field saying where; browsing and exchange
// subscriptions select too; header fields are reachable by their JMS and amqp.* names; the
// selector of a durable subscription survives a restart (it is the queue's qpid.filter).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import rhea, { type Message } from 'rhea';
import { connect, openReceiver, openSender, receiveN, sendAll, type TestConnection } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { bodies, management, queueStats, uniqueName } from './support.js';

let broker: BrokerProcess;
let dataDir: string;
let conn: TestConnection;

before(async () => {
  dataDir = tempDir('qpidd-selectors-');
  broker = await startQpidd({ dataDir });
  conn = await connect(broker.port);
});

after(async () => {
  await conn?.close();
  await broker?.stop();
  if (dataDir) removeDir(dataDir);
});

const selector = (text: string): Record<string, unknown> => rhea.filter.selector(text) as Record<string, unknown>;

async function declareQueue(name: string): Promise<void> {
  const client = await management(broker.port);
  try {
    await client.request('add-queue', { name });
  } finally {
    client.close();
  }
}

function coloured(colours: readonly string[]): Message[] {
  return colours.map((colour, i) => ({ body: `${colour} ${i + 1}`, application_properties: { colour, n: i + 1 } }));
}

async function publish(address: string, messages: readonly Message[]): Promise<void> {
  const sender = await openSender(conn.connection, address);
  const outcomes = await sendAll(sender, messages);
  assert.deepEqual(new Set(outcomes.map((o) => o.state)), new Set(['accepted']));
  sender.close();
}

async function depth(queue: string): Promise<number> {
  return (await queueStats(broker.port, queue))?.count ?? -1;
}

/** Receives `count` messages, accepts them, and says nothing more is coming within `quietMs`. */
async function take(receiver: Awaited<ReturnType<typeof openReceiver>>, count: number, quietMs = 300): Promise<string[]> {
  const got = await receiveN(receiver, count);
  for (const r of got) r.delivery.accept();
  const extra = await receiveN(receiver, 1, { timeoutMs: quietMs, atMost: true });
  for (const r of extra) r.delivery.release();
  assert.deepEqual(bodies(extra), [], 'more messages than the selector matches');
  return bodies(got);
}

test('a consumer with a selector gets only the messages it matches; the others stay on the queue', async () => {
  const queue = uniqueName('sel-basic');
  await declareQueue(queue);
  await publish(queue, coloured(['red', 'green', 'red', 'blue', 'green', 'red']));
  const receiver = await openReceiver(conn.connection, { address: queue, filter: selector("colour = 'red'") });
  // §3.5.3: the reply's filter-set says the selector is in force.
  const echoed = (receiver as unknown as { remote: { attach?: { source?: { filter?: Record<string, unknown> } } } }).remote.attach?.source?.filter;
  assert.deepEqual(Object.keys(echoed ?? {}), ['jms-selector']);
  assert.deepEqual(await take(receiver, 3), ['red 1', 'red 3', 'red 6']);
  receiver.close();
  assert.equal(await depth(queue), 3);
  // Not skipped forever: a plain consumer then gets the rest, in order.
  const plain = await openReceiver(conn.connection, queue);
  assert.deepEqual(await take(plain, 3), ['green 2', 'blue 4', 'green 5']);
  plain.close();
});

test('two consumers with complementary selectors share a queue: each gets its own, nothing is left', async () => {
  const queue = uniqueName('sel-pair');
  await declareQueue(queue);
  const evens = await openReceiver(conn.connection, { address: queue, filter: selector('n / 2 * 2 = n') });
  const odds = await openReceiver(conn.connection, { address: queue, filter: selector('NOT (n / 2 * 2 = n)') });
  const gotEven = receiveN(evens, 50);
  const gotOdd = receiveN(odds, 50);
  await publish(queue, Array.from({ length: 100 }, (_, i) => ({ body: `m${i + 1}`, application_properties: { n: i + 1 } })));
  const even = await gotEven;
  const odd = await gotOdd;
  for (const r of [...even, ...odd]) r.delivery.accept();
  assert.deepEqual(bodies(even), Array.from({ length: 50 }, (_, i) => `m${2 * (i + 1)}`));
  assert.deepEqual(bodies(odd), Array.from({ length: 50 }, (_, i) => `m${2 * i + 1}`));
  evens.close();
  odds.close();
  for (let i = 0; i < 50 && (await depth(queue)) !== 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await depth(queue), 0);
});

test('a matching message released by a selective consumer is delivered again, to it or another match', async () => {
  const queue = uniqueName('sel-release');
  await declareQueue(queue);
  await publish(queue, coloured(['blue', 'red', 'blue']));
  const first = await openReceiver(conn.connection, { address: queue, filter: selector("colour = 'red'") });
  const [once] = await receiveN(first, 1);
  assert.equal(once?.message.body, 'red 2');
  once?.delivery.release();
  const [again] = await receiveN(first, 1);
  assert.equal(again?.message.body, 'red 2');
  // Released, and its consumer gone: the next selective consumer gets it.
  again?.delivery.release();
  first.close();
  const second = await openReceiver(conn.connection, { address: queue, filter: selector("colour IN ('red', 'green')") });
  assert.deepEqual(await take(second, 1), ['red 2']);
  second.close();
  assert.equal(await depth(queue), 2);
});

test('a bad selector refuses the attach with amqp:invalid-field and says where the error is', async () => {
  const queue = uniqueName('sel-bad');
  await declareQueue(queue);
  for (const [text, column] of [["colour = 'red", 10], ['colour LIKE 5', 13], ['a = 1 AND OR b = 2', 11], ['(((a = 1)', 10]] as const) {
    await assert.rejects(openReceiver(conn.connection, { address: queue, filter: selector(text) }), (err: { condition?: string; description?: string }) => {
      assert.equal(err.condition, 'amqp:invalid-field', text);
      assert.match(err.description ?? '', new RegExp(`at character ${column}\\b`), `${text}: ${err.description}`);
      return true;
    });
  }
  // On an exchange too, and no subscription queue is left behind.
  const queueCount = async (): Promise<number> => {
    const client = await management(broker.port);
    try {
      return (await client.requestAll('queues')).length;
    } finally {
      client.close();
    }
  };
  const before = await queueCount();
  await assert.rejects(openReceiver(conn.connection, { address: 'amq.topic', filter: selector('a = = 1') }), (err: { condition?: string }) => err.condition === 'amqp:invalid-field');
  assert.equal(await queueCount(), before);
  // The connection goes on.
  const good = await openReceiver(conn.connection, { address: queue, filter: selector('a = 1') });
  good.close();
});

test('browsing with a selector (distribution-mode copy) shows only the matches and consumes nothing', async () => {
  const queue = uniqueName('sel-browse');
  await declareQueue(queue);
  await publish(queue, coloured(['red', 'green', 'red', 'green']));
  const browser = await openReceiver(conn.connection, { address: queue, distribution_mode: 'copy', filter: selector("colour = 'green'") });
  const got = await receiveN(browser, 2);
  const extra = await receiveN(browser, 1, { timeoutMs: 300, atMost: true });
  assert.deepEqual(bodies(got), ['green 2', 'green 4']);
  assert.deepEqual(bodies(extra), []);
  browser.close();
  assert.equal(await depth(queue), 4);
});

test('on an exchange subscription the selector decides what enters the subscription queue', async () => {
  const receiver = await openReceiver(conn.connection, { address: 'amq.topic', filter: { ...selector("colour <> 'red' AND amqp.subject LIKE 'news.%'") } });
  const echoed = (receiver as unknown as { remote: { attach?: { source?: { filter?: Record<string, unknown> } } } }).remote.attach?.source?.filter;
  assert.deepEqual(Object.keys(echoed ?? {}), ['jms-selector']);
  await publish('amq.topic', [
    { subject: 'news.uk', body: 'red news', application_properties: { colour: 'red' } },
    { subject: 'news.uk', body: 'green news', application_properties: { colour: 'green' } },
    { subject: 'sport.uk', body: 'green sport', application_properties: { colour: 'green' } },
    { subject: 'news.fr', body: 'no colour' },
  ]);
  assert.deepEqual(await take(receiver, 1), ['green news']);
  receiver.close();
});

test('header and properties fields by their JMS and amqp.* names, as qpidd maps them', async () => {
  const queue = uniqueName('sel-fields');
  await declareQueue(queue);
  const created = new Date(1_700_000_000_000);
  await publish(queue, [
    { body: 'plain', priority: 4 },
    { body: 'urgent', priority: 9, durable: true, message_id: 'id-7', correlation_id: 'c-1', subject: 'order', reply_to: 'replies', creation_time: created, to: queue },
  ]);
  const cases: readonly [string, string][] = [
    ['JMSPriority > 4', 'urgent'],
    ["JMSMessageID = 'id-7'", 'urgent'],
    ["JMSCorrelationID = 'c-1' AND JMSType = 'order'", 'urgent'],
    ["JMSDeliveryMode = 'PERSISTENT'", 'urgent'],
    ["JMSDeliveryMode = 'NON_PERSISTENT'", 'plain'],
    [`JMSTimestamp = ${created.getTime()}`, 'urgent'],
    ["amqp.reply_to = 'replies' AND amqp.durable", 'urgent'],
    ['JMSMessageID IS NULL', 'plain'],
    ['JMSRedelivered = FALSE AND amqp.priority = 4', 'plain'],
  ];
  for (const [text, expected] of cases) {
    const browser = await openReceiver(conn.connection, { address: queue, distribution_mode: 'copy', filter: selector(text) });
    const got = await receiveN(browser, 1);
    const extra = await receiveN(browser, 1, { timeoutMs: 200, atMost: true });
    assert.deepEqual([...bodies(got), ...bodies(extra)], [expected], text);
    browser.close();
  }
});

test('a durable subscription keeps its selector across a broker restart (stored as qpid.filter)', async () => {
  const subDir = tempDir('qpidd-selectors-durable-');
  let b = await startQpidd({ dataDir: subDir });
  try {
    const source = { address: 'amq.topic', durable: 2, expiry_policy: 'never', filter: selector("colour = 'green'") };
    let c = await connect(b.port, { containerId: 'selector-subscriber' });
    let receiver = await openReceiver(c.connection, source, { name: 'greens' });
    receiver.detach();
    await c.close();
    await b.stop();
    b = await startQpidd({ dataDir: subDir, port: b.port });
    c = await connect(b.port, { containerId: 'selector-subscriber' });
    const sender = await openSender(c.connection, 'amq.topic');
    await sendAll(sender, coloured(['red', 'green', 'red', 'green']).map((m) => ({ ...m, durable: true })));
    receiver = await openReceiver(c.connection, source, { name: 'greens' });
    const got = await receiveN(receiver, 2);
    const extra = await receiveN(receiver, 1, { timeoutMs: 300, atMost: true });
    assert.deepEqual([...bodies(got), ...bodies(extra)], ['green 2', 'green 4']);
    await c.close();
  } finally {
    await b.stop();
    removeDir(subDir);
  }
});

test('on a recovered queue, paged in from the store, a selector gets the recovered matches first, then the new ones', async () => {
  const pagedDir = tempDir('qpidd-selectors-paged-');
  let b = await startQpidd({ dataDir: pagedDir });
  try {
    let c = await connect(b.port);
    const node = { address: 'paged', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } };
    // 2,500 messages: more than one page (1,000) of the store; every 10th one is red.
    const stored = Array.from({ length: 2500 }, (_, i) => ({ durable: true, body: `old ${i + 1}`, application_properties: { colour: (i + 1) % 10 === 0 ? 'red' : 'blue' } }));
    let sender = await openSender(c.connection, node);
    assert.ok((await sendAll(sender, stored)).every((o) => o.state === 'accepted'));
    await c.close();
    await b.stop();
    b = await startQpidd({ dataDir: pagedDir, port: b.port });
    c = await connect(b.port);
    sender = await openSender(c.connection, 'paged');
    assert.ok((await sendAll(sender, [{ durable: true, body: 'new red', application_properties: { colour: 'red' } }])).every((o) => o.state === 'accepted'));
    const expected = [...Array.from({ length: 250 }, (_, i) => `old ${(i + 1) * 10}`), 'new red'];
    const browser = await openReceiver(c.connection, { address: 'paged', distribution_mode: 'copy', filter: selector("colour = 'red'") });
    assert.deepEqual(bodies(await receiveN(browser, expected.length, { timeoutMs: 30_000 })), expected);
    browser.close();
    const receiver = await openReceiver(c.connection, { address: 'paged', filter: selector("colour = 'red'") });
    const got = await receiveN(receiver, expected.length, { timeoutMs: 30_000 });
    for (const r of got) r.delivery.accept();
    assert.deepEqual(bodies(got), expected);
    const extra = await receiveN(receiver, 1, { timeoutMs: 300, atMost: true });
    assert.deepEqual(bodies(extra), []);
    await c.close();
  } finally {
    await b.stop();
    removeDir(pagedDir);
  }
});
