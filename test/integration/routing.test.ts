// Issue 3, exchanges and addresses, with a stock rhea client against a real qpidd: every
// exchange type (default, direct, topic with * and #, fanout, headers with x-match all/any),
// the built-ins present on start, every address form (queue, exchange, exchange/key, the
// anonymous relay), subscription queues for receivers on exchanges, create-on-demand with its
// node properties and argument errors, and a message routed to several queues stored once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from 'rhea';
import { connect, openReceiver, openSender, receiveN, sendAll, type TestConnection } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { bodies, exchangeNode, headersFilter, inspectStore, keyFilter, management, queueNode, uniqueName } from './support.js';

let broker: BrokerProcess;
let dataDir: string;
let conn: TestConnection;

before(async () => {
  dataDir = tempDir();
  broker = await startQpidd({ dataDir });
  conn = await connect(broker.port);
});

after(async () => {
  await conn?.close();
  await broker?.stop();
  removeDir(dataDir);
});

type Receiver = Awaited<ReturnType<typeof openReceiver>>;
const collected = new WeakMap<Receiver, string[]>();

/** Opens a receiver that collects (and accepts) everything from its first message on, so that
 * nothing is lost between checks. */
async function subscribe(source: Record<string, unknown> | string): Promise<Receiver> {
  const receiver = await openReceiver(conn.connection, source);
  const got: string[] = [];
  collected.set(receiver, got);
  receiver.on('message', (ctx) => {
    got.push(String(ctx.message?.body));
    ctx.delivery?.accept();
  });
  receiver.add_credit(1000);
  return receiver;
}

/** Waits for exactly the expected bodies (in any order) and checks that no more arrive within a
 * short quiet period, so an over-matching binding is caught too. Clears what it checked. */
async function expectBodies(receiver: Receiver, expected: readonly string[]): Promise<void> {
  const got = collected.get(receiver) as string[];
  await waitFor(() => got.length >= expected.length, `${expected.length} messages (have ${JSON.stringify(got)})`, 5000).catch(() => {});
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual([...got].sort(), [...expected].sort());
  got.length = 0;
}

test('the built-in exchanges exist on start with their types', async () => {
  const client = await management(broker.port);
  try {
    const rows = await client.requestAll<{ name: string; type: string }>('exchanges');
    const types = Object.fromEntries(rows.map((r) => [r.name, r.type]));
    assert.equal(types[''], 'direct');
    assert.equal(types['amq.direct'], 'direct');
    assert.equal(types['amq.topic'], 'topic');
    assert.equal(types['amq.fanout'], 'fanout');
    assert.equal(types['amq.match'], 'headers');
  } finally {
    client.close();
  }
});

test('the anonymous relay routes by each message\'s "to": a queue, or exchange/key', async () => {
  const queue = uniqueName('relay-q');
  const creator = await openSender(conn.connection, queueNode(queue, { 'auto-delete': false }));
  creator.close();
  const sub = await subscribe('amq.direct/relay-key');
  const relay = await openSender(conn.connection, { address: null });
  const outcomes = await sendAll(relay, [
    { to: queue, body: 'to-queue' },
    { to: 'amq.direct/relay-key', body: 'to-exchange-key' },
    { to: 'no-such-node', body: 'nowhere' },
  ]);
  assert.deepEqual(outcomes.map((o) => o.state), ['accepted', 'accepted', 'rejected']);
  assert.equal(outcomes[2]?.condition, 'amqp:not-found');
  const receiver = await subscribe(queue);
  await expectBodies(receiver, ['to-queue']);
  await expectBodies(sub, ['to-exchange-key']);
});

test('direct exchange: subject or address key must equal the binding key; unroutable is accepted and dropped', async () => {
  const k1 = await subscribe('amq.direct/k1');
  const k2 = await subscribe({ address: 'amq.direct', filter: keyFilter('direct', 'k2') });
  const bySubject = await openSender(conn.connection, 'amq.direct');
  const outcomes = await sendAll(bySubject, [
    { subject: 'k1', body: 'a' },
    { subject: 'k2', body: 'b' },
    { subject: 'k3', body: 'nobody' },
  ]);
  assert.deepEqual(outcomes.map((o) => o.state), ['accepted', 'accepted', 'accepted']);
  const byAddress = await openSender(conn.connection, 'amq.direct/k2');
  // The address's key wins over the message's subject.
  assert.deepEqual((await sendAll(byAddress, [{ subject: 'k1', body: 'c' }])).map((o) => o.state), ['accepted']);
  await expectBodies(k1, ['a']);
  await expectBodies(k2, ['b', 'c']);
});

test('topic exchange: * matches one word, # zero or more', async () => {
  const patterns = ['news.*', 'news.#', '#.uk', '*.uk.#', '#'];
  const receivers = await Promise.all(patterns.map((p) => subscribe(`amq.topic/${p}`)));
  const viaFilter = await subscribe({ address: 'amq.topic', filter: keyFilter('topic', 'sport.*') });
  const sender = await openSender(conn.connection, 'amq.topic');
  const keys = ['news', 'news.uk', 'news.uk.london', 'sport.golf', 'sport', 'weather.uk'];
  const outcomes = await sendAll(sender, keys.map((k) => ({ subject: k, body: k })));
  assert.deepEqual(outcomes.map((o) => o.state), keys.map(() => 'accepted'));
  const expected: Record<string, string[]> = {
    'news.*': ['news.uk'],
    'news.#': ['news', 'news.uk', 'news.uk.london'],
    '#.uk': ['news.uk', 'weather.uk'],
    '*.uk.#': ['news.uk', 'news.uk.london', 'weather.uk'],
    '#': keys,
  };
  for (const [i, pattern] of patterns.entries()) await expectBodies(receivers[i] as Receiver, expected[pattern] as string[]);
  await expectBodies(viaFilter, ['sport.golf']);
  // amq.topic/key as a sender's address routes with that key.
  const keyed = await openSender(conn.connection, 'amq.topic/news.fr');
  await sendAll(keyed, [{ subject: 'ignored', body: 'fr' }]);
  await expectBodies(receivers[0] as Receiver, ['fr']);
});

test('fanout exchange: every subscriber gets every message, whatever the key', async () => {
  const a = await subscribe('amq.fanout');
  const b = await subscribe('amq.fanout');
  const sender = await openSender(conn.connection, 'amq.fanout/whatever');
  await sendAll(sender, [{ body: 'f1' }, { subject: 'x.y', body: 'f2' }]);
  await expectBodies(a, ['f1', 'f2']);
  await expectBodies(b, ['f1', 'f2']);
});

test('headers exchange (amq.match): x-match all needs every value, any needs one', async () => {
  const all = await subscribe({ address: 'amq.match', filter: headersFilter({ 'x-match': 'all', colour: 'red', size: 3 }) });
  const any = await subscribe({ address: 'amq.match', filter: headersFilter({ 'x-match': 'any', colour: 'red', size: 3 }) });
  const sender = await openSender(conn.connection, 'amq.match');
  const messages: Message[] = [
    { body: 'both', application_properties: { colour: 'red', size: 3 } },
    { body: 'colour-only', application_properties: { colour: 'red', size: 4 } },
    { body: 'size-only', application_properties: { size: 3 } },
    { body: 'neither', application_properties: { colour: 'blue' } },
  ];
  const outcomes = await sendAll(sender, messages);
  assert.deepEqual(outcomes.map((o) => o.state), ['accepted', 'accepted', 'accepted', 'accepted']);
  await expectBodies(all, ['both']);
  await expectBodies(any, ['both', 'colour-only', 'size-only']);
});

test('exchanges created on attach, of each type, with queues bound by key and arguments', async () => {
  const client = await management(broker.port);
  try {
    const names = { direct: uniqueName('x-direct'), topic: uniqueName('x-topic'), fanout: uniqueName('x-fanout'), headers: uniqueName('x-headers') };
    const senders = {
      direct: await openSender(conn.connection, exchangeNode(names.direct, 'direct')),
      topic: await openSender(conn.connection, exchangeNode(names.topic, 'topic')),
      fanout: await openSender(conn.connection, exchangeNode(names.fanout, 'fanout')),
      headers: await openSender(conn.connection, exchangeNode(names.headers, 'headers')),
    };
    const rows = await client.requestAll<{ name: string; type: string }>('exchanges');
    for (const [type, name] of Object.entries(names)) assert.equal(rows.find((r) => r.name === name)?.type, type, `${name} declared as ${type}`);
    const queue = uniqueName('bound');
    (await openSender(conn.connection, queueNode(queue))).close();
    await client.request('bind', { exchange: names.direct, queue, key: 'd', arguments: {} });
    await client.request('bind', { exchange: names.topic, queue, key: 't.#', arguments: {} });
    await client.request('bind', { exchange: names.fanout, queue, key: '', arguments: {} });
    await client.request('bind', { exchange: names.headers, queue, key: 'h', arguments: { 'x-match': 'any', tag: 'yes' } });
    const sent = [
      await sendAll(senders.direct, [{ subject: 'd', body: 'direct-hit' }, { subject: 'e', body: 'direct-miss' }]),
      await sendAll(senders.topic, [{ subject: 't.a.b', body: 'topic-hit' }, { subject: 'u', body: 'topic-miss' }]),
      await sendAll(senders.fanout, [{ body: 'fanout-hit' }]),
      await sendAll(senders.headers, [{ body: 'headers-hit', application_properties: { tag: 'yes' } }, { body: 'headers-miss', application_properties: { tag: 'no' } }]),
    ];
    assert.deepEqual(sent.map((s) => s.map((o) => o.state)), [['accepted', 'accepted'], ['accepted', 'accepted'], ['accepted'], ['accepted', 'accepted']]);
    // exchange/key addresses work on created exchanges too.
    const keyed = await openSender(conn.connection, `${names.direct}/d`);
    await sendAll(keyed, [{ body: 'direct-by-address' }]);
    const receiver = await subscribe(queue);
    await expectBodies(receiver, ['direct-hit', 'topic-hit', 'fanout-hit', 'headers-hit', 'direct-by-address']);
    const bindings = await client.requestAll<{ exchange: string; queue: string; key: string }>('bindings');
    assert.equal(bindings.filter((b) => b.queue === queue).length, 4);
  } finally {
    client.close();
  }
});

test('receiving from an exchange creates a private subscription queue that goes with the link', async () => {
  const client = await management(broker.port);
  try {
    const exchange = uniqueName('sub-x');
    (await openSender(conn.connection, exchangeNode(exchange, 'fanout'))).close();
    const before = new Set((await client.requestAll<{ name: string }>('queues')).map((q) => q.name));
    const receiver = await subscribe(exchange);
    const created = (await client.requestAll<{ name: string; durable: boolean }>('queues')).filter((q) => !before.has(q.name));
    assert.equal(created.length, 1, 'one subscription queue');
    assert.equal(created[0]?.durable, false);
    const bindings = await client.requestAll<{ exchange: string; queue: string }>('bindings');
    assert.ok(bindings.some((b) => b.exchange === exchange && b.queue === created[0]?.name));
    receiver.close();
    await waitFor(async () => !(await client.requestAll<{ name: string }>('queues')).some((q) => q.name === created[0]?.name), 'the subscription queue to be deleted with its link');
  } finally {
    client.close();
  }
});

test('an unknown address fails with amqp:not-found unless the terminus asks to create it', async () => {
  const name = uniqueName('nope');
  await assert.rejects(openSender(conn.connection, name), (err: { condition?: string }) => err.condition === 'amqp:not-found');
  await assert.rejects(openReceiver(conn.connection, `${name}/key`), (err: { condition?: string }) => err.condition === 'amqp:not-found');
  // create-on-demand without queue or topic means a queue (the default).
  await openSender(conn.connection, { address: name, capabilities: ['create-on-demand'] });
  const client = await management(broker.port);
  try {
    assert.ok((await client.requestAll<{ name: string }>('queues')).some((q) => q.name === name));
  } finally {
    client.close();
  }
});

test('create-on-demand node properties: flags, alternate exchange and declare arguments', async () => {
  const name = uniqueName('props');
  await openSender(conn.connection, queueNode(name, { durable: true, 'auto-delete': false, 'alternate-exchange': 'amq.fanout', 'qpid.max_count': 5, 'qpid.policy_type': 'ring', 'x-custom': 'kept' }));
  const client = await management(broker.port);
  try {
    const row = (await client.requestAll<Record<string, unknown>>('queues')).find((q) => q['name'] === name);
    assert.ok(row, 'queue declared');
    assert.equal(row['durable'], true);
    assert.equal(row['alternateExchange'], 'amq.fanout');
    assert.deepEqual(row['arguments'], { 'qpid.max_count': 5, 'qpid.policy_type': 'ring', 'x-custom': 'kept' });
  } finally {
    client.close();
  }
});

test('an invalid node property or argument value fails the attach with an error naming it', async () => {
  const cases: { properties: Record<string, unknown>; names: string; topic?: boolean }[] = [
    { properties: { 'qpid.max_count': 'lots' }, names: 'qpid.max_count' },
    { properties: { 'qpid.max_size': -1 }, names: 'qpid.max_size' },
    { properties: { 'qpid.policy_type': 'drop' }, names: 'qpid.policy_type' },
    { properties: { durable: 'perhaps' }, names: 'durable' },
    { properties: { 'alternate-exchange': 'no-such-exchange' }, names: 'no-such-exchange' },
    { properties: { 'exchange-type': 'round-robin' }, names: 'exchange-type', topic: true },
  ];
  for (const c of cases) {
    const name = uniqueName('bad-arg');
    const target = c.topic ? { address: name, capabilities: ['create-on-demand', 'topic'], dynamic_node_properties: c.properties } : queueNode(name, c.properties);
    await assert.rejects(openSender(conn.connection, target), (err: { condition?: string; description?: string }) => {
      assert.ok(err.condition === 'amqp:invalid-field' || err.condition === 'amqp:not-found', `${c.names}: condition ${err.condition}`);
      assert.match(err.description ?? '', new RegExp(c.names.replace(/\./g, '\\.')), `${c.names}: ${err.description}`);
      return true;
    });
  }
  // The connection is still usable after the refusals.
  await openSender(conn.connection, queueNode(uniqueName('after-bad-args')));
});

test('a message routed to several queues is stored once', async () => {
  const dir = tempDir();
  let second: BrokerProcess | undefined = await startQpidd({ dataDir: dir });
  try {
    const c = await connect(second.port);
    const queues = ['once-a', 'once-b', 'once-c'];
    for (const q of queues) (await openSender(c.connection, queueNode(q, { durable: true }))).close();
    const client = await management(second.port);
    const exchange = 'once-fanout';
    (await openSender(c.connection, exchangeNode(exchange, 'fanout', { durable: true }))).close();
    for (const q of queues) await client.request('bind', { exchange, queue: q, key: '', arguments: {} });
    client.close();
    const sender = await openSender(c.connection, exchange);
    const outcomes = await sendAll(sender, [{ durable: true, body: 'x'.repeat(2000) }]);
    assert.deepEqual(outcomes.map((o) => o.state), ['accepted']);
    await c.close();
    assert.equal((await second.stop()).code, 0);
    second = undefined;
    const summary = await inspectStore(dir);
    assert.equal(summary.messages, 1, 'one stored message');
    for (const q of queues) assert.equal(summary.queues.find((r) => r.name === q)?.count, 1, `${q} holds it`);
    // And each queue delivers it after a restart.
    second = await startQpidd({ dataDir: dir });
    const again = await connect(second.port);
    for (const q of queues) {
      const receiver = await openReceiver(again.connection, q);
      const got = await receiveN(receiver, 1);
      assert.equal(String(got[0]?.message.body).length, 2000);
      got[0]?.delivery.accept();
    }
    await again.close();
  } finally {
    await second?.stop();
    removeDir(dir);
  }
});
