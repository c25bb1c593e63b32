// Issue 3, queues, against a real qpidd: limits (qpid.max_count, qpid.max_size) with policy
// reject (the producer hears amqp:resource-limit-exceeded) or ring (oldest dropped), message
// TTL, dead-lettering of rejected and expired messages through an alternate exchange,
// auto-delete, exclusive, durable or not across a restart, transient messages on non-durable
// queues never touching the disk, and --default-queue-limit bounding queues declared without one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, drain, openReceiver, openSender, receiveN, sendAll, type TestConnection } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { bodies, exchangeNode, inspectStore, management, queueNode, queueStats, uniqueName } from './support.js';

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

const numbered = (n: number, prefix = 'm'): { body: string }[] => Array.from({ length: n }, (_, i) => ({ body: `${prefix}${i}` }));

/** A fanout exchange with a queue bound to it: the dead-letter destination of a test. */
async function deadLetterQueue(): Promise<{ exchange: string; queue: string }> {
  const exchange = uniqueName('dlx');
  const queue = uniqueName('dlq');
  (await openSender(conn.connection, exchangeNode(exchange, 'fanout'))).close();
  (await openSender(conn.connection, queueNode(queue))).close();
  const client = await management(broker.port);
  try {
    await client.request('bind', { exchange, queue, key: '', arguments: {} });
  } finally {
    client.close();
  }
  return { exchange, queue };
}

test('qpid.max_count with policy reject: the producer hears amqp:resource-limit-exceeded', async () => {
  const name = uniqueName('max-count');
  const sender = await openSender(conn.connection, queueNode(name, { 'qpid.max_count': 3 }));
  const outcomes = await sendAll(sender, numbered(5));
  assert.deepEqual(outcomes.map((o) => o.state), ['accepted', 'accepted', 'accepted', 'rejected', 'rejected']);
  assert.equal(outcomes[3]?.condition, 'amqp:resource-limit-exceeded');
  assert.match(outcomes[3]?.description ?? '', /qpid\.max_count/);
  // Consuming one makes room for one.
  const receiver = await openReceiver(conn.connection, name);
  const [first] = await receiveN(receiver, 1);
  first?.delivery.accept();
  await waitFor(async () => (await queueStats(broker.port, name))?.count === 2, 'the consumed message to leave the queue');
  assert.deepEqual((await sendAll(sender, [{ body: 'm5' }, { body: 'm6' }])).map((o) => o.state), ['accepted', 'rejected']);
  receiver.close();
  assert.deepEqual(bodies(await drain(broker.port, name)), ['m1', 'm2', 'm5']);
});

test('qpid.max_size with policy reject counts message bytes', async () => {
  const name = uniqueName('max-size');
  const sender = await openSender(conn.connection, queueNode(name, { 'qpid.max_size': 5000 }));
  const big = (i: number) => ({ body: `${i}`.padEnd(1500, 'x') });
  const outcomes = await sendAll(sender, [big(0), big(1), big(2), big(3), { body: 'small' }]);
  // Three ~1.5 KB messages fit in 5000 bytes; the fourth would not; a small one still does.
  assert.deepEqual(outcomes.map((o) => o.state), ['accepted', 'accepted', 'accepted', 'rejected', 'accepted']);
  assert.equal(outcomes[3]?.condition, 'amqp:resource-limit-exceeded');
  assert.match(outcomes[3]?.description ?? '', /qpid\.max_size/);
  assert.equal((await drain(broker.port, name)).length, 4);
});

test('policy ring drops the oldest messages to make room', async () => {
  const name = uniqueName('ring');
  const sender = await openSender(conn.connection, queueNode(name, { 'qpid.max_count': 3, 'qpid.policy_type': 'ring' }));
  const outcomes = await sendAll(sender, numbered(7));
  assert.deepEqual(new Set(outcomes.map((o) => o.state)), new Set(['accepted']));
  assert.deepEqual(bodies(await drain(broker.port, name)), ['m4', 'm5', 'm6']);
});

test('message TTL: expired messages are not delivered and leave the queue; others stay', async () => {
  const name = uniqueName('ttl');
  const sender = await openSender(conn.connection, queueNode(name));
  await sendAll(sender, [{ body: 'short', ttl: 100 }, { body: 'long', ttl: 60_000 }, { body: 'forever' }, { body: 'absolute', absolute_expiry_time: Date.now() + 100 } as never]);
  // Without a consumer, the broker's periodic sweep removes them.
  await waitFor(async () => (await queueStats(broker.port, name))?.count === 2, 'the expired messages to be swept', 5000);
  assert.deepEqual(bodies(await drain(broker.port, name)), ['long', 'forever']);
});

test('a message that expires while a consumer holds it is swept once the consumer lets it go', async () => {
  const name = uniqueName('ttl-held');
  const sender = await openSender(conn.connection, queueNode(name));
  await sendAll(sender, [{ body: 'held', ttl: 300 }, { body: 'plain' }]);
  const receiver = await openReceiver(conn.connection, name);
  receiver.add_credit(2);
  assert.deepEqual(bodies((await receiveN(receiver, 2)).map((r) => r.message)), ['held', 'plain']);
  // Sweeps pass while both are held and 'held' is past its time: none of them may forget it.
  await new Promise((resolve) => setTimeout(resolve, 2200));
  receiver.close();
  await waitFor(async () => (await queueStats(broker.port, name))?.count === 1, 'the expired message to be swept after its release', 5000);
  assert.deepEqual(bodies(await drain(broker.port, name)), ['plain']);
});

test('expired messages are dead-lettered through the queue\'s alternate exchange', async () => {
  const dl = await deadLetterQueue();
  const name = uniqueName('ttl-dl');
  const sender = await openSender(conn.connection, queueNode(name, { 'alternate-exchange': dl.exchange }));
  await sendAll(sender, [{ body: 'expires', ttl: 100 }, { body: 'stays' }]);
  await waitFor(async () => (await queueStats(broker.port, dl.queue))?.count === 1, 'the expired message on the dead-letter queue', 5000);
  assert.deepEqual(bodies(await drain(broker.port, dl.queue)), ['expires']);
  assert.deepEqual(bodies(await drain(broker.port, name)), ['stays']);
});

test('messages a consumer rejects are dead-lettered; without an alternate exchange they are dropped', async () => {
  const dl = await deadLetterQueue();
  const withDl = uniqueName('reject-dl');
  const withoutDl = uniqueName('reject-drop');
  const s1 = await openSender(conn.connection, queueNode(withDl, { 'alternate-exchange': dl.exchange }));
  const s2 = await openSender(conn.connection, queueNode(withoutDl));
  await sendAll(s1, [{ body: 'poison', application_properties: { why: 'test' } }]);
  await sendAll(s2, [{ body: 'poison-2' }]);
  for (const name of [withDl, withoutDl]) {
    const receiver = await openReceiver(conn.connection, name);
    const [got] = await receiveN(receiver, 1);
    got?.delivery.reject({ condition: 'app:bad-message', description: 'cannot process' });
  }
  await waitFor(async () => (await queueStats(broker.port, dl.queue))?.count === 1, 'the rejected message on the dead-letter queue');
  const dead = await drain(broker.port, dl.queue);
  assert.deepEqual(bodies(dead), ['poison']);
  assert.deepEqual(dead[0]?.application_properties, { why: 'test' });
  await waitFor(async () => (await queueStats(broker.port, withoutDl))?.count === 0, 'the rejected message to be dropped');
  await waitFor(async () => (await queueStats(broker.port, withDl))?.count === 0, 'the rejected message to leave its queue');
});

test('deleting a queue routes the messages still on it to its alternate exchange, as qpidd does', async () => {
  const dl = await deadLetterQueue();
  const name = uniqueName('deleted-dl');
  const sender = await openSender(conn.connection, queueNode(name, { 'alternate-exchange': dl.exchange }));
  await sendAll(sender, numbered(3, 'left'));
  sender.close();
  const client = await management(broker.port);
  try {
    await client.request('del-queue', { name });
  } finally {
    client.close();
  }
  await waitFor(async () => (await queueStats(broker.port, dl.queue))?.count === 3, 'the deleted queue\'s messages on the dead-letter queue');
  assert.deepEqual(bodies(await drain(broker.port, dl.queue)), ['left0', 'left1', 'left2']);
});

test('a message recovered after kill -9 is dead-lettered by the subject it was sent with', async () => {
  // After a restart the broker holds only the stored bytes of a message: the dead-letter route
  // must come from them, or a topic-bound dead-letter queue silently loses what is rejected.
  const dir = tempDir();
  let second: BrokerProcess | undefined = await startQpidd({ dataDir: dir });
  try {
    const c = await connect(second.port);
    (await openSender(c.connection, exchangeNode('dlx-topic', 'topic', { durable: true }))).close();
    (await openSender(c.connection, queueNode('dlq-orders', { durable: true }))).close();
    const client = await management(second.port);
    try {
      await client.request('bind', { exchange: 'dlx-topic', queue: 'dlq-orders', key: 'orders.#', arguments: {} });
    } finally {
      client.close();
    }
    const sender = await openSender(c.connection, queueNode('work', { durable: true, 'alternate-exchange': 'dlx-topic' }));
    await sendAll(sender, [
      { durable: true, subject: 'orders.eu', body: 'order', application_properties: { n: 1 } },
      { durable: true, subject: 'audit.eu', body: 'audit' },
    ]);
    await c.close();
    second.kill('SIGKILL');
    await second.exited;
    second = await startQpidd({ dataDir: dir });
    const again = await connect(second.port);
    const receiver = await openReceiver(again.connection, 'work');
    for (const got of await receiveN(receiver, 2)) got.delivery.reject({ condition: 'app:bad-message', description: 'cannot process' });
    await waitFor(async () => (await queueStats(second!.port, 'work'))?.count === 0, 'both rejected messages to leave the queue');
    const dead = await drain(second.port, 'dlq-orders');
    assert.deepEqual(bodies(dead), ['order']);
    assert.equal(dead[0]?.subject, 'orders.eu');
    assert.deepEqual(dead[0]?.application_properties, { n: 1 });
    await again.close();
  } finally {
    await second?.stop();
    removeDir(dir);
  }
});

test('an auto-delete queue is deleted when its last consumer leaves, not before it had one', async () => {
  const name = uniqueName('auto-delete');
  (await openSender(conn.connection, queueNode(name, { 'auto-delete': true }))).close();
  assert.ok(await queueStats(broker.port, name), 'exists before any consumer');
  const a = await openReceiver(conn.connection, name);
  const b = await openReceiver(conn.connection, name);
  a.close();
  await waitFor(async () => (await queueStats(broker.port, name))?.['consumers'] === 1, 'one consumer left');
  assert.ok(await queueStats(broker.port, name), 'still there with one consumer');
  b.close();
  await waitFor(async () => (await queueStats(broker.port, name)) === undefined, 'the queue to be deleted with its last consumer');
});

test('an exclusive queue belongs to the connection that declared it', async () => {
  const name = uniqueName('exclusive');
  const owner = await connect(broker.port);
  const other = await connect(broker.port);
  try {
    await openReceiver(owner.connection, queueNode(name, { exclusive: true }));
    await assert.rejects(openReceiver(other.connection, name), (err: { condition?: string }) => err.condition === 'amqp:resource-locked');
    // Publishing to it is allowed (as in Qpid); consuming is the owner's.
    const sender = await openSender(other.connection, name);
    assert.deepEqual((await sendAll(sender, [{ body: 'for-the-owner' }])).map((o) => o.state), ['accepted']);
    await owner.close();
    // Not auto-delete: the queue outlives its owner and is free for another connection.
    await waitFor(async () => {
      try {
        const receiver = await openReceiver(other.connection, name);
        receiver.close();
        return true;
      } catch {
        return false;
      }
    }, 'the queue to be free once its owner left');
  } finally {
    await owner.close();
    await other.close();
  }
  // Exclusive and auto-delete: it goes with its owner's connection.
  const temp = uniqueName('exclusive-auto');
  const holder = await connect(broker.port);
  await openSender(holder.connection, queueNode(temp, { exclusive: true, 'auto-delete': true }));
  assert.ok(await queueStats(broker.port, temp));
  await holder.close();
  await waitFor(async () => (await queueStats(broker.port, temp)) === undefined, 'the exclusive auto-delete queue to go with its connection');
});

test('durable queues and persistent messages survive a restart; non-durable queues do not', async () => {
  const dir = tempDir();
  let second: BrokerProcess | undefined = await startQpidd({ dataDir: dir });
  try {
    const c = await connect(second.port);
    const durable = await openSender(c.connection, queueNode('keeps', { durable: true, 'qpid.max_count': 10 }));
    const transientQueue = await openSender(c.connection, queueNode('goes'));
    await sendAll(durable, [{ durable: true, body: 'p1' }, { durable: false, body: 't1' }, { durable: true, body: 'p2' }]);
    await sendAll(transientQueue, [{ durable: true, body: 'p3' }]);
    await c.close();
    assert.equal((await second.stop()).code, 0);
    second = await startQpidd({ dataDir: dir });
    assert.deepEqual(bodies(await drain(second.port, 'keeps')), ['p1', 'p2']);
    const again = await connect(second.port);
    await assert.rejects(openReceiver(again.connection, 'goes'), (err: { condition?: string }) => err.condition === 'amqp:not-found');
    // The recovered queue kept its arguments: the limit still applies.
    const sender = await openSender(again.connection, 'keeps');
    const outcomes = await sendAll(sender, numbered(11));
    assert.equal(outcomes.filter((o) => o.state === 'rejected').length, 1);
    await again.close();
  } finally {
    await second?.stop();
    removeDir(dir);
  }
});

test('transient messages on non-durable queues never touch the disk', async () => {
  const before = await inspectStore(dataDir);
  const name = uniqueName('memory-only');
  const sender = await openSender(conn.connection, queueNode(name));
  // Persistent or not, a non-durable queue keeps messages in memory only; so does a transient
  // message on a durable queue.
  const durableQueue = uniqueName('durable-transient');
  const toDurable = await openSender(conn.connection, queueNode(durableQueue, { durable: true }));
  // The attach is confirmed before the declare's commit lands: wait for it.
  const during = await waitFor(async () => {
    const summary = await inspectStore(dataDir);
    return summary.queues.some((q) => q.name === durableQueue) ? summary : null;
  }, 'the durable queue in the store');
  await sendAll(sender, Array.from({ length: 200 }, (_, i) => ({ durable: i % 2 === 0, body: 'x'.repeat(1000) })));
  await sendAll(toDurable, Array.from({ length: 50 }, () => ({ durable: false, body: 'y'.repeat(1000) })));
  const afterSends = await inspectStore(dataDir);
  assert.equal(afterSends.messages, before.messages, 'no message stored');
  assert.equal(afterSends.meta.lastLsn, during.meta.lastLsn, 'nothing logged after the durable queue\'s declare');
  assert.equal(afterSends.queues.find((q) => q.name === name), undefined, 'the non-durable queue is not in the store');
  assert.equal((await queueStats(broker.port, name))?.count, 200);
  await drain(broker.port, name);
  await drain(broker.port, durableQueue);
});

test('--default-queue-limit bounds the bytes of a queue declared without qpid.max_size', async () => {
  const dir = tempDir();
  const limited = await startQpidd({ dataDir: dir, args: ['--default-queue-limit', '10000'] });
  try {
    const c = await connect(limited.port);
    const unbounded = await openSender(c.connection, queueNode('default-limited'));
    const outcomes = await sendAll(unbounded, Array.from({ length: 20 }, () => ({ body: 'z'.repeat(1000) })));
    const accepted = outcomes.filter((o) => o.state === 'accepted').length;
    // ~1 KB messages (body plus a few header bytes): nine fit under 10,000 bytes.
    assert.ok(accepted >= 8 && accepted <= 9, `accepted ${accepted}`);
    assert.ok(outcomes.slice(accepted).every((o) => o.state === 'rejected' && o.condition === 'amqp:resource-limit-exceeded'));
    // An explicit qpid.max_size overrides the default.
    const explicit = await openSender(c.connection, queueNode('explicit-size', { 'qpid.max_size': 50_000 }));
    const more = await sendAll(explicit, Array.from({ length: 20 }, () => ({ body: 'z'.repeat(1000) })));
    assert.equal(more.filter((o) => o.state === 'accepted').length, 20);
    await c.close();
  } finally {
    await limited.stop();
    removeDir(dir);
  }
});
