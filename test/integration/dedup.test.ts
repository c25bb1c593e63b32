// Broker-side duplicate detection (qpid.dedup_window, issue 12) against a real broker with rhea:
// a resend of a message-id the queue's window holds is accepted and not enqueued again; messages
// without a message-id are never deduplicated; the window keeps the newest N ids; a resend after
// the original was consumed is still caught, also after kill -9 and a restart on the same data
// dir; a duplicate inside one transaction (Proton Python) is dropped at commit; qpid-config
// --dedup-window declares the queue; bad values refuse the declare naming the argument.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from 'rhea';
import { connect, openReceiver, openSender, receiveN, sendAll, type TestConnection } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, TOOL, type BrokerProcess } from '../helpers/broker-process.js';
import { queueDepth } from '../interop/broker-tools.js';
import { explain, interopScript, PYTHON, requireProtonPython, run } from '../interop/programs.js';
import { queueNode, queueStats, runNode, uniqueName } from './support.js';

const dataDir = tempDir('qpidd-dedup-');
let broker: BrokerProcess;
after(async () => {
  await broker?.stop();
  removeDir(dataDir);
});
before(async () => {
  broker = await startQpidd({ dataDir });
});

const dedupQueue = (name: string, window: number | string) => queueNode(name, { durable: true, 'qpid.dedup_window': window });

async function send(conn: TestConnection, target: Record<string, unknown> | string, messages: Message[]): Promise<string[]> {
  const sender = await openSender(conn.connection, target);
  const outcomes = await sendAll(sender, messages);
  sender.close();
  return outcomes.map((o) => o.state);
}

/** Receives and accepts `count` messages; unless `more` is set, checks that no further one
 * arrives. */
async function consumeExactly(conn: TestConnection, queue: string, count: number, more = false): Promise<unknown[]> {
  const receiver = await openReceiver(conn.connection, queue);
  const got = await receiveN(receiver, count);
  for (const r of got) r.delivery.accept();
  if (!more) {
    const extra = await receiveN(receiver, 1, { timeoutMs: 300, atMost: true });
    for (const r of extra) r.delivery.release();
    assert.equal(extra.length, 0, `no message beyond the ${count} expected on ${queue}`);
  }
  receiver.close();
  return got.map((r) => r.message.body);
}

test('the same message-id sent twice: both sends accepted, one message on the queue; without a message-id nothing is deduplicated', async () => {
  const queue = uniqueName('dedup');
  const conn = await connect(broker.port);
  try {
    const states = await send(conn, dedupQueue(queue, 100), [
      { message_id: 'order-1', durable: true, body: 'first' },
      { message_id: 'order-1', durable: true, body: 'resent' },
      { message_id: 7, durable: true, body: 'ulong 7' },
      { message_id: '7', durable: true, body: 'string 7' },
      { durable: true, body: 'no id' },
      { durable: true, body: 'no id' },
    ]);
    assert.deepEqual(states, ['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted']);
    assert.equal(await queueDepth(broker.port, queue), 5, 'the resend was not enqueued; the ulong 7 and the string "7" are different ids');
    const row = await queueStats(broker.port, queue);
    assert.deepEqual([row?.['dedupWindow'], row?.['duplicatesDropped']], [100, 1], 'management shows the window and what it dropped');
    assert.deepEqual(await consumeExactly(conn, queue, 5), ['first', 'ulong 7', 'string 7', 'no id', 'no id']);
    // Consumed, but still in the window: a later resend is still a duplicate.
    assert.deepEqual(await send(conn, queue, [{ message_id: 'order-1', durable: true, body: 'late resend' }]), ['accepted']);
    assert.equal(await queueDepth(broker.port, queue), 0);
  } finally {
    await conn.close();
  }
});

test('the window keeps the newest N message-ids: the oldest is evicted after N more', async () => {
  const queue = uniqueName('dedup-evict');
  const conn = await connect(broker.port);
  try {
    const ids = ['a', 'b', 'c', 'd'];
    await send(conn, dedupQueue(queue, 3), ids.map((id) => ({ message_id: id, durable: true, body: id })));
    // b, c and d are in the window of 3; a was evicted by d (newest first: a's resend, taken
    // last, evicts b only after b's resend was recognised).
    assert.deepEqual(await send(conn, queue, [...ids].reverse().map((id) => ({ message_id: id, durable: true, body: `again ${id}` }))), ['accepted', 'accepted', 'accepted', 'accepted']);
    assert.deepEqual(await consumeExactly(conn, queue, 5), ['a', 'b', 'c', 'd', 'again a']);
  } finally {
    await conn.close();
  }
});

test('bad qpid.dedup_window values refuse the declare naming the argument; qpid-config add queue --dedup-window N declares it', async () => {
  const conn = await connect(broker.port);
  try {
    for (const bad of [0, 'many', -3]) {
      await assert.rejects(
        openSender(conn.connection, dedupQueue(uniqueName('dedup-bad'), bad)),
        (err: Error & { description?: string }) => /invalid queue argument qpid\.dedup_window=/.test(err.description ?? ''),
        `qpid.dedup_window=${bad}`,
      );
    }
  } finally {
    await conn.close();
  }
  const refused = await runNode(TOOL('qpid-config'), ['-b', `127.0.0.1:${broker.port}`, 'add', 'queue', uniqueName('dedup-bad'), '--dedup-window', '0']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /qpid\.dedup_window=0/);
  const name = uniqueName('dedup-tool');
  const added = await runNode(TOOL('qpid-config'), ['-b', `127.0.0.1:${broker.port}`, 'add', 'queue', name, '--durable', '--dedup-window', '2']);
  assert.equal(added.code, 0, added.stderr);
  const c2 = await connect(broker.port);
  try {
    assert.deepEqual(await send(c2, name, [1, 1, 2, 2].map((n) => ({ message_id: `m${n}`, durable: true, body: n }))), ['accepted', 'accepted', 'accepted', 'accepted']);
    assert.equal(await queueDepth(broker.port, name), 2);
  } finally {
    await c2.close();
  }
});

test('in a transaction, a duplicate message-id (inside the transaction or of an earlier message) is dropped at commit', async () => {
  requireProtonPython();
  const queue = uniqueName('dedup-txn');
  const conn = await connect(broker.port);
  try {
    await send(conn, dedupQueue(queue, 100), [{ message_id: 'before', durable: true, body: 'before' }]);
  } finally {
    await conn.close();
  }
  // One transaction sends ids x, x, before, y: x once, y once.
  const client = await run(PYTHON, [interopScript('proton_tx_dedup.py'), `127.0.0.1:${broker.port}`, queue, 'x', 'x', 'before', 'y'], 30_000);
  assert.equal(client.code, 0, explain('proton_tx_dedup.py failed', client));
  assert.deepEqual(client.lines, ['committed']);
  const c2 = await connect(broker.port);
  try {
    assert.deepEqual(await consumeExactly(c2, queue, 3), ['before', 'txn x', 'txn y']);
  } finally {
    await c2.close();
  }
});

test('kill -9 and a restart on the same data dir: resends of accepted message-ids are still dropped, consumed or not', async () => {
  const queue = uniqueName('dedup-crash');
  const conn = await connect(broker.port);
  try {
    await send(conn, dedupQueue(queue, 1000), ['k1', 'k2', 'k3'].map((id) => ({ message_id: id, durable: true, body: id })));
    assert.deepEqual(await consumeExactly(conn, queue, 1, true), ['k1']);
    // k1's dequeue is durable once a later durable message is settled (commits become durable in
    // LSN order): else the kill may rightly bring k1 back (DESIGN.md §5).
    assert.deepEqual(await send(conn, queueNode(`${queue}-marker`, { durable: true }), [{ durable: true, body: 'marker' }]), ['accepted']);
  } finally {
    await conn.close();
  }
  broker.kill('SIGKILL');
  await broker.exited;
  broker = await startQpidd({ dataDir });
  const c2 = await connect(broker.port);
  try {
    assert.deepEqual(await send(c2, queue, ['k1', 'k2', 'k3', 'k4'].map((id) => ({ message_id: id, durable: true, body: `resent ${id}` }))), ['accepted', 'accepted', 'accepted', 'accepted']);
    assert.deepEqual(await consumeExactly(c2, queue, 3), ['k2', 'k3', 'resent k4']);
  } finally {
    await c2.close();
  }
  // The store's own check knows the dedup table: it is sound.
  const verified = await runNode(TOOL('qpid-store'), ['verify', '--data-dir', dataDir]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
});
