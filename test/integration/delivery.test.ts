// Issue 3, delivery, against a real qpidd with a stock rhea client: at-most-once (pre-settled)
// and at-least-once on both sides, the sender link's qpid.unroutable policy, credit-based flow
// to consumers (and a bounded window to producers), the consumer outcomes accepted, released,
// rejected and modified (AMQP 1.0 §3.4), unsettled deliveries coming back when a link or a
// connection drops, and browsing (distribution-mode copy).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Receiver } from 'rhea';
import { connect, drain, openReceiver, openSender, receiveN, sendAll, type TestConnection } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { bodies, exchangeNode, management, queueNode, queueStats, uniqueName } from './support.js';

let broker: BrokerProcess;
let dataDir: string;
let conn: TestConnection;

before(async () => {
  dataDir = tempDir();
  broker = await startQpidd({ dataDir, args: ['--http-port', '0'] });
  conn = await connect(broker.port);
});

async function fetchMetrics(): Promise<string> {
  const listening = await broker.waitForLog((l) => l.msg === 'listening');
  const response = await fetch(`http://127.0.0.1:${String(listening['httpPort'])}/metrics`);
  return await response.text();
}

after(async () => {
  await conn?.close();
  await broker?.stop();
  removeDir(dataDir);
});

const numbered = (n: number, prefix = 'm'): { body: string }[] => Array.from({ length: n }, (_, i) => ({ body: `${prefix}${i}` }));

async function filledQueue(count: number, properties: Record<string, unknown> = {}): Promise<string> {
  const name = uniqueName('q');
  const sender = await openSender(conn.connection, queueNode(name, properties));
  const outcomes = await sendAll(sender, numbered(count));
  assert.equal(outcomes.filter((o) => o.state === 'accepted').length, count);
  sender.close();
  return name;
}

/** Nothing more arrives on the receiver within a short quiet period (without granting credit). */
async function assertQuiet(receiver: Receiver, what: string): Promise<void> {
  const extra: string[] = [];
  const onMessage = (ctx: { message?: { body?: unknown } }): void => void extra.push(String(ctx.message?.body));
  receiver.on('message', onMessage);
  await new Promise((r) => setTimeout(r, 300));
  receiver.removeListener('message', onMessage);
  assert.deepEqual(extra, [], what);
}

/** Link credit as rhea tracks it (not in its type definitions). */
const creditOf = (link: object): number => (link as { credit: number }).credit;

test('at-most-once: pre-settled sends arrive; a pre-settled consumer dequeues without acknowledging', async () => {
  const name = uniqueName('presettled');
  (await openSender(conn.connection, queueNode(name))).close();
  const sender = await openSender(conn.connection, name, { snd_settle_mode: 1 });
  for (const m of numbered(20)) sender.send(m);
  await waitFor(async () => (await queueStats(broker.port, name))?.count === 20, 'the pre-settled messages on the queue');
  const receiver = await openReceiver(conn.connection, name, { snd_settle_mode: 1 });
  const got = await receiveN(receiver, 20);
  assert.ok(got.every((r) => r.delivery.remote_settled), 'the broker sends them settled');
  assert.deepEqual(bodies(got), numbered(20).map((m) => m.body));
  // Nothing to acknowledge: they are gone from the queue already.
  await waitFor(async () => (await queueStats(broker.port, name))?.count === 0, 'the queue to be empty');
});

test('at-least-once: a message stays on the queue until its consumer accepts it', async () => {
  const name = await filledQueue(3);
  const receiver = await openReceiver(conn.connection, name);
  const got = await receiveN(receiver, 3);
  assert.equal((await queueStats(broker.port, name))?.count, 3, 'unacknowledged messages are still counted');
  assert.equal((await queueStats(broker.port, name))?.['acquired'], 3);
  for (const r of got) r.delivery.accept();
  await waitFor(async () => (await queueStats(broker.port, name))?.count === 0, 'accepted messages to be dequeued');
});

test('qpid.unroutable on the sender link: discard (default, as qpidd), reject or release; the exchange counts each', async () => {
  const exchange = uniqueName('unroutable');
  (await openSender(conn.connection, exchangeNode(exchange, 'direct'))).close();
  const send = async (properties: Record<string, unknown> | undefined) => {
    const sender = await openSender(conn.connection, exchange, properties ? { properties } : {});
    const [outcome] = await sendAll(sender, [{ subject: 'nobody-listens', body: 'lost?' }]);
    sender.close();
    return outcome;
  };
  assert.equal((await send(undefined))?.state, 'accepted');
  assert.deepEqual(await send({ 'qpid.unroutable': 'reject' }), { state: 'rejected', condition: 'amqp:not-found', description: `no binding of exchange ${exchange} matches key "nobody-listens"` });
  assert.equal((await send({ 'qpid.unroutable': 'release' }))?.state, 'released');
  assert.equal((await send({ 'qpid.unroutable': 'discard' }))?.state, 'accepted');
  const client = await management(broker.port);
  try {
    const rows = await client.requestAll<{ name: string; unrouted: number }>('exchanges');
    assert.equal(rows.find((r) => r.name === exchange)?.unrouted, 4);
  } finally {
    client.close();
  }
  const metrics = await fetchMetrics();
  assert.match(metrics, new RegExp(`qpidd_exchange_unrouted_total\\{exchange="${exchange}",broker="[^"]*"\\} 4`));
});

test('credit: a consumer gets no more messages than it granted, and drain ends the grant', async () => {
  const name = await filledQueue(10);
  const receiver = await openReceiver(conn.connection, name);
  const first = await receiveN(receiver, 3);
  assert.deepEqual(bodies(first), ['m0', 'm1', 'm2']);
  await assertQuiet(receiver, 'no message beyond the credit');
  assert.equal((await queueStats(broker.port, name))?.['acquired'], 3, 'only the credited messages are acquired');
  for (const r of first) r.delivery.accept();
  // A second consumer on the same queue gets the rest while the first has no credit.
  const other = await openReceiver(conn.connection, name);
  const rest = await receiveN(other, 7);
  assert.deepEqual(bodies(rest), ['m3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
  for (const r of rest) r.delivery.accept();
  // Drain: credit for 5 with nothing on the queue comes back as drained.
  const drained = new Promise<void>((resolve) => receiver.once('receiver_drained', () => resolve()));
  receiver.add_credit(5);
  receiver.drain_credit();
  await drained;
  assert.equal(creditOf(receiver), 0);
});

test('consumers on one queue share it round robin', async () => {
  const name = await filledQueue(9);
  const a = await openReceiver(conn.connection, name);
  const b = await openReceiver(conn.connection, name);
  const c = await openReceiver(conn.connection, name);
  const got = await Promise.all([receiveN(a, 3), receiveN(b, 3), receiveN(c, 3)]);
  const all = got.flatMap((g) => bodies(g)).sort();
  assert.deepEqual(all, numbered(9).map((m) => m.body).sort());
  for (const g of got) for (const r of g) r.delivery.accept();
});

test('released: the message returns to the head of the queue, its delivery count unchanged (AMQP 1.0 §3.4.4)', async () => {
  const name = await filledQueue(3);
  const receiver = await openReceiver(conn.connection, name);
  const [first] = await receiveN(receiver, 1);
  assert.equal(first?.message.body, 'm0');
  assert.ok(!first?.message.delivery_count, 'first delivery has count 0');
  first?.delivery.release();
  const again = await receiveN(receiver, 3);
  assert.deepEqual(bodies(again), ['m0', 'm1', 'm2']);
  assert.ok(!again[0]?.message.delivery_count, 'a release is not a delivery attempt');
  assert.equal(again[0]?.message.first_acquirer, false, 'but the next consumer is not the first acquirer');
  assert.ok(!again[1]?.message.delivery_count);
  for (const r of again) r.delivery.accept();
});

test('modified: delivery-failed counts a delivery attempt; without it the count stays', async () => {
  const name = await filledQueue(2);
  const receiver = await openReceiver(conn.connection, name);
  const [m0] = await receiveN(receiver, 1);
  m0?.delivery.modified({ delivery_failed: true });
  const [again] = await receiveN(receiver, 1);
  assert.equal(again?.message.body, 'm0');
  assert.equal(again?.message.delivery_count, 1);
  again?.delivery.modified({ delivery_failed: false });
  const [third] = await receiveN(receiver, 1);
  assert.equal(third?.message.body, 'm0');
  assert.equal(third?.message.delivery_count, 1, 'modified without delivery-failed does not count');
  third?.delivery.accept();
  const [m1] = await receiveN(receiver, 1);
  m1?.delivery.accept();
});

test('modified with undeliverable-here: the message is not redelivered to that link', async () => {
  const name = await filledQueue(1);
  const receiver = await openReceiver(conn.connection, name);
  const [m0] = await receiveN(receiver, 1);
  m0?.delivery.modified({ delivery_failed: true, undeliverable_here: true });
  await assertQuiet(receiver, 'not redelivered to the link that refused it');
});

test('rejected: the message leaves the queue (dead-lettered when the queue has an alternate exchange)', async () => {
  const name = await filledQueue(2);
  const receiver = await openReceiver(conn.connection, name);
  const [m0] = await receiveN(receiver, 1);
  m0?.delivery.reject({ condition: 'app:error', description: 'no' });
  const [m1] = await receiveN(receiver, 1);
  assert.equal(m1?.message.body, 'm1');
  m1?.delivery.accept();
  await waitFor(async () => (await queueStats(broker.port, name))?.count === 0, 'the rejected message to be gone');
});

test('a consumer\'s unsettled deliveries return to the queue when its link detaches', async () => {
  const name = await filledQueue(4);
  const first = await openReceiver(conn.connection, name);
  const got = await receiveN(first, 3);
  got[0]?.delivery.accept();
  first.close();
  const second = await openReceiver(conn.connection, name);
  const again = await receiveN(second, 3);
  assert.deepEqual(bodies(again), ['m1', 'm2', 'm3']);
  assert.deepEqual(again.map((r) => r.message.delivery_count ?? 0), [1, 1, 0]);
  assert.deepEqual(again.map((r) => r.message.first_acquirer ?? false), [false, false, false]);
  for (const r of again) r.delivery.accept();
});

test('a consumer\'s unsettled deliveries return to the queue when its connection closes', async () => {
  const name = await filledQueue(2);
  const other = await connect(broker.port);
  const receiver = await openReceiver(other.connection, name);
  await receiveN(receiver, 2);
  await other.close();
  await waitFor(async () => (await queueStats(broker.port, name))?.['acquired'] === 0, 'the deliveries to be released');
  const again = await openReceiver(conn.connection, name);
  const got = await receiveN(again, 2);
  assert.deepEqual(bodies(got), ['m0', 'm1']);
  assert.deepEqual(got.map((r) => r.message.delivery_count), [1, 1]);
  for (const r of got) r.delivery.accept();
});

test('browsing (distribution-mode copy) sees every message without taking it', async () => {
  const name = await filledQueue(3);
  const browser = await openReceiver(conn.connection, { address: name, distribution_mode: 'copy' });
  const seen = await receiveN(browser, 3);
  assert.deepEqual(bodies(seen), ['m0', 'm1', 'm2']);
  assert.equal((await queueStats(broker.port, name))?.count, 3, 'the queue keeps them');
  // New messages are browsed as they arrive.
  const sender = await openSender(conn.connection, name);
  await sendAll(sender, [{ body: 'm3' }]);
  const [later] = await receiveN(browser, 1);
  assert.equal(later?.message.body, 'm3');
  // A consumer still gets every one.
  assert.deepEqual(bodies(await drain(broker.port, name)), ['m0', 'm1', 'm2', 'm3']);
});

test('producers get a bounded window of credit (--max-unsettled)', async () => {
  const dir = tempDir();
  const small = await startQpidd({ dataDir: dir, args: ['--max-unsettled', '8'] });
  try {
    const c = await connect(small.port);
    const sender = await openSender(c.connection, queueNode('window'));
    await waitFor(() => creditOf(sender) > 0, 'initial credit');
    assert.ok(creditOf(sender) <= 8, `credit ${creditOf(sender)}`);
    let maxCredit = 0;
    sender.on('sendable', () => (maxCredit = Math.max(maxCredit, creditOf(sender))));
    const outcomes = await sendAll(sender, numbered(100));
    assert.equal(outcomes.filter((o) => o.state === 'accepted').length, 100);
    assert.ok(maxCredit <= 8, `credit never above the window: ${maxCredit}`);
    await c.close();
  } finally {
    await small.stop();
    removeDir(dir);
  }
});

test('consumers of the management node list what the broker holds', async () => {
  // Keeps the management path honest for the tests above that rely on its queue counts.
  const name = await filledQueue(2);
  const client = await management(broker.port);
  try {
    const row = (await client.requestAll<{ name: string; count: number; bytes: number }>('queues')).find((q) => q.name === name);
    assert.equal(row?.count, 2);
    assert.ok((row?.bytes ?? 0) > 0);
  } finally {
    client.close();
  }
  await drain(broker.port, name);
});
