// AMQP 1.0 local transactions (issue 12): the pure state machine (src/broker/transaction.ts),
// the frame cutting that keeps a transaction whole on its way to backups (src/ha/units.ts), the
// txn record's codec, and a commit through a real Broker over the memory store: every enqueue and
// dequeue of the transaction is one store commit, opened by the txn record, at the LSNs the
// broker gave them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRecord, encodeRecord, MemoryDisk, openMemoryStore, type LogEntry, type StoreRecord } from '../../store/index.js';
import { Broker, type IncomingMessage } from '../../src/broker/broker.js';
import { declareTransaction, transactionStep, type BufferedDequeue, type BufferedEnqueue } from '../../src/broker/transaction.js';
import type { Consumer, QueueEntry } from '../../src/broker/queue.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/log.js';
import { frameLength, openUnitEnd } from '../../src/ha/units.js';

const incoming = (body: string): IncomingMessage => ({ body: new TextEncoder().encode(body), durable: true, expiresAtMs: null, subject: null, applicationProperties: null });
const enqueue = (i: number): BufferedEnqueue => ({ target: { kind: 'queue', queue: 'q' }, incoming: incoming(`m${i}`) });
const dequeue = (i: number): BufferedDequeue => ({ entry: { position: i } as unknown as QueueEntry, outcome: { kind: 'accepted' } });

test('declare, buffer, commit: the commit carries every enqueue and dequeue in order; the discharged transaction is unknown after', () => {
  let txn = declareTransaction('t1');
  let step = transactionStep(txn, { kind: 'enqueue', enqueue: enqueue(1) });
  assert.deepEqual(step.actions, [{ kind: 'buffered' }]);
  txn = step.txn;
  const d = dequeue(7);
  step = transactionStep(txn, { kind: 'dequeue', dequeue: d });
  assert.deepEqual(step.actions, [{ kind: 'hold', entry: d.entry }], 'the transaction takes the entry from its consumer');
  step = transactionStep(step.txn, { kind: 'discharge', fail: false });
  assert.equal(step.txn.phase, 'committed');
  assert.equal(step.actions.length, 1);
  const commit = step.actions[0];
  assert.ok(commit?.kind === 'commit');
  assert.equal(commit.enqueues.length, 1);
  assert.equal(commit.dequeues[0], d);
  const after = transactionStep(step.txn, { kind: 'enqueue', enqueue: enqueue(2) });
  assert.ok(after.actions[0]?.kind === 'refuse' && after.actions[0].error.code === 'TRANSACTION_UNKNOWN');
  assert.deepEqual(transactionStep(step.txn, { kind: 'abandon', reason: 'link gone' }).actions, [], 'losing the link after a discharge changes nothing');
});

test('discharge with fail=true, or the controller lost, rolls back: the dequeued entries go back, the enqueues vanish', () => {
  for (const event of [{ kind: 'discharge', fail: true } as const, { kind: 'abandon', reason: 'its connection closed' } as const]) {
    let txn = transactionStep(declareTransaction('t'), { kind: 'enqueue', enqueue: enqueue(1) }).txn;
    txn = transactionStep(txn, { kind: 'dequeue', dequeue: dequeue(3) }).txn;
    const step = transactionStep(txn, event);
    assert.equal(step.txn.phase, 'rolled-back');
    assert.equal(step.actions.length, 1);
    assert.ok(step.actions[0]?.kind === 'rollback');
    assert.equal(step.actions[0].dequeues.length, 1);
  }
});

test('a transaction over its operation limit is refused and rolled back at once (amqp:transaction:rollback)', () => {
  let txn = declareTransaction('t', 2);
  txn = transactionStep(txn, { kind: 'enqueue', enqueue: enqueue(1) }).txn;
  txn = transactionStep(txn, { kind: 'dequeue', dequeue: dequeue(1) }).txn;
  const step = transactionStep(txn, { kind: 'enqueue', enqueue: enqueue(2) });
  assert.equal(step.txn.phase, 'rolled-back');
  assert.ok(step.actions[0]?.kind === 'refuse' && step.actions[0].error.code === 'TRANSACTION_ROLLBACK');
  assert.ok(step.actions[1]?.kind === 'rollback' && step.actions[1].dequeues.length === 1);
});

test('property: whatever the interleaving, a commit carries exactly the events given, each kind in its order', () => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { maxLength: 200 }), (kinds) => {
      let txn = declareTransaction('p');
      kinds.forEach((isEnqueue, i) => {
        txn = transactionStep(txn, isEnqueue ? { kind: 'enqueue', enqueue: enqueue(i) } : { kind: 'dequeue', dequeue: dequeue(i) }).txn;
      });
      const commit = transactionStep(txn, { kind: 'discharge', fail: false }).actions[0];
      assert.ok(commit?.kind === 'commit');
      assert.deepEqual(commit.enqueues.map((e) => new TextDecoder().decode(e.incoming.body)), kinds.flatMap((k, i) => (k ? [`m${i}`] : [])));
      assert.deepEqual(commit.dequeues.map((d) => d.entry.position), kinds.flatMap((k, i) => (k ? [] : [i])));
    }),
  );
});

const plain = (lsn: number): LogEntry => ({ lsn, record: { kind: 'dequeue', queue: 'q', position: lsn, messageId: lsn, cause: 'consumed' } });
const run = (from: number, to: number): LogEntry[] => Array.from({ length: to - from + 1 }, (_, i) => plain(from + i));

test('frames are cut at --ha-log-batch, except inside a transaction, which goes whole', () => {
  // 1..20 plain, a txn at 21 covering 22..40, then 41..50 plain.
  const entries = [...run(1, 20), { lsn: 21, record: { kind: 'txn', lastLsn: 40 } as StoreRecord }, ...run(22, 50)];
  assert.equal(frameLength(entries, 16), 16, 'no unit in the first 16: cut there');
  const rest = entries.slice(16); // from LSN 17
  assert.equal(frameLength(rest, 16), 24, 'LSNs 17..40: the frame runs to the unit end');
  assert.equal(frameLength(entries.slice(40), 16), 10, 'after the unit: as usual');
  assert.equal(frameLength(entries, 100), 50);
  assert.equal(openUnitEnd(entries.slice(0, 30)), 40, 'a reader that stopped inside the unit must read on to 40');
  assert.equal(openUnitEnd(entries.slice(0, 40)), null);
  assert.equal(openUnitEnd(run(1, 5)), null);
  // A backup's filter folds unreplicated records into skips: the unit's span is by LSN.
  const folded = [{ lsn: 21, record: { kind: 'txn', lastLsn: 40 } as StoreRecord }, { lsn: 22, record: { kind: 'skip', lastLsn: 39 } as StoreRecord }, plain(40), plain(41)];
  assert.equal(frameLength(folded, 2), 3);
});

test('the txn record round-trips through the codec; a txn lastLsn of 0 is garbled', () => {
  const record: StoreRecord = { kind: 'txn', lastLsn: 123 };
  assert.deepEqual(decodeRecord(encodeRecord(record), 'test'), record);
  const bad = Buffer.from(encodeRecord(record));
  bad.fill(0, 2);
  assert.throws(() => decodeRecord(bad, 'test'), /txn lastLsn is 0/);
});

test('a commit through the Broker is one store commit: a txn record, then every enqueue and dequeue at the LSNs the broker gave them', async () => {
  const store = openMemoryStore(new MemoryDisk(), { autoFlush: true });
  const broker = new Broker({ store, clock: systemClock, logger: silentLogger, limits: { defaultQueueLimitBytes: 0, maxMessageSizeBytes: 1 << 20 }, replication: { enabled: false, defaultLevel: 'none' } });
  for (const name of ['src', 'a', 'b']) broker.declareQueue({ name, durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }, null);
  for (let i = 0; i < 3; i++) broker.publish({ kind: 'queue', queue: 'src' }, incoming(`pre${i}`));
  await store.commit([]).durable;
  const taken: QueueEntry[] = [];
  const consumer: Consumer = { id: 1, browse: false, browsePosition: 0, canTake: () => taken.length < 3, take: (e: QueueEntry) => taken.push(e) } as unknown as Consumer;
  broker.subscribe('src', consumer, null);
  assert.equal(taken.length, 3);
  for (const entry of taken) broker.holdForTransaction(entry);
  const before = store.meta().lastLsn;
  let commits = 0;
  const stop = store.onCommitted(() => commits++);
  const hold = broker.commitTransaction(
    [0, 1, 2, 3].map((i) => ({ target: { kind: 'queue', queue: i % 2 ? 'a' : 'b' }, incoming: incoming(`t${i}`) })),
    taken.map((entry) => ({ entry, outcome: { kind: 'accepted' } })),
  );
  assert.ok(hold.ticket);
  await hold.ticket.durable;
  stop();
  assert.equal(commits, 1, 'one commit');
  const log: LogEntry[] = [];
  for await (const e of store.readLog(before + 1)) log.push(e);
  assert.deepEqual(log.map((e) => e.record.kind), ['txn', 'enqueue', 'enqueue', 'enqueue', 'enqueue', 'dequeue', 'dequeue', 'dequeue']);
  assert.deepEqual(log[0]?.record, { kind: 'txn', lastLsn: before + 8 });
  assert.equal(hold.lsn, before + 8, 'the discharge waits for the last record of the unit');
  assert.deepEqual([store.queue('src')?.count, store.queue('a')?.count, store.queue('b')?.count], [0, 2, 2]);
  await store.close();
});
