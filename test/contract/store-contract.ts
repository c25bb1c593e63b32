// The store contract suite (STYLE.md 4, after NATS's store_test.go and aedes's abstract
// persistence tests): every Store implementation runs exactly these tests, so the simulator's
// memory store and the broker's LMDB store obey the same rules. Each test also runs verify on
// the result, so an invariant broken by any operation shows up where it happened.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { assertSound, assertStoreError, bind, collect, dequeue, enqueue, exchangeDeclare, queueDeclare, text, waitFor } from './contract-helpers.js';
import { operation, propertySeed, runAgainstModel } from './store-model.js';
import { runTruncateContract } from './truncate-contract.js';
import { AssertionFailure } from '../../src/core/assert.js';
import {
  STORE_FORMAT_VERSION,
  verifyStore,
  type EnqueueRecord,
  type LogEntry,
  type Scannable,
  type Store,
  type StoreErrorCode,
  type StoreRecord,
} from '../../store/index.js';

export type ContractStore = Store & Scannable;

/** One store location (an LMDB data dir or a MemoryDisk) and what the suite may do with it. */
export interface StoreHandle {
  readonly store: ContractStore;
  /** Clean close, then open the same location again. */
  reopen(): Promise<ContractStore>;
  /** Only implementations that can fail a commit on demand (the memory store). */
  failNextCommit?(code: StoreErrorCode): void;
  /** Changes one byte of a stored message body where it is kept (the LMDB file, the memory
   * disk), as a bad disk would, and opens the store again. */
  damageBody(messageId: number): Promise<ContractStore>;
  /** Drop what was not durable and open again (memory store: crash()). */
  crash?(): Promise<ContractStore>;
  cleanup(): Promise<void>;
}

export interface StoreFactory {
  create(options?: { logMaxBytes?: number; undo?: boolean }): Promise<StoreHandle>;
}

// --- the suite ---------------------------------------------------------------------------------

export function runStoreContract(name: string, factory: StoreFactory): void {
  describe(`store contract: ${name}`, () => {
    runTruncateContract(factory);
    async function withStore(fn: (h: StoreHandle) => Promise<void>, options?: { logMaxBytes?: number }): Promise<void> {
      const h = await factory.create(options);
      try {
        await fn(h);
      } finally {
        await h.cleanup();
      }
    }

    test('a new store is empty, has an identity, and keeps it across reopen', () =>
      withStore(async (h) => {
        const m = h.store.meta();
        assert.equal(m.formatVersion, STORE_FORMAT_VERSION);
        assert.equal(m.lastLsn, 0);
        assert.equal(m.firstLsn, 1);
        assert.equal(m.logBytes, 0);
        assert.equal(m.epoch, 0);
        assert.deepEqual(m.epochHistory, []);
        assert.equal(m.snapshotIncomplete, false);
        assert.ok(m.storeId.length > 0);
        const reopened = await h.reopen();
        assert.equal(reopened.meta().storeId, m.storeId);
        assertSound(reopened);
      }));

    test('a body that fails its checksum is never returned; a quarantine dequeue moves it aside and the store is sound again', () =>
      withStore(async (h) => {
        const s0 = h.store;
        await s0.commit([queueDeclare('q'), queueDeclare('r')]).durable;
        const id = s0.allocateMessageId();
        const good = s0.allocateMessageId();
        await s0.commit([enqueue(id, [['q', 1], ['r', 1]], 'the body a disk will damage'), enqueue(good, [['q', 2]], 'fine')]).durable;
        const s = await h.damageBody(id);
        assert.throws(() => s.readMessage(id), (err) => assertStoreError(err, 'STORE_CORRUPT') && /message \d+: its body fails its checksum/.test((err as Error).message));
        assert.equal(text(s.readMessage(good)), 'fine');
        const found = verifyStore(s);
        assert.ok(found.some((v) => v.code === 'message-garbled' && v.message.includes(`message ${id}`)), JSON.stringify(found));
        // The broker's move: a dequeue with cause 'quarantined' for each queue holding it.
        await s.commit([{ kind: 'dequeue', queue: 'q', position: 1, messageId: id, cause: 'quarantined' }]).durable;
        assert.deepEqual(s.listQuarantine().map((m) => [m.queue, m.position, m.messageId]), [['q', 1, id]]);
        assert.equal(s.queue('q')?.count, 1);
        await s.commit([{ kind: 'dequeue', queue: 'r', position: 1, messageId: id, cause: 'quarantined' }]).durable;
        assert.equal(s.readMessage(id), undefined);
        assert.deepEqual(s.listQuarantine().map((m) => [m.queue, m.position]).sort(), [['q', 1], ['r', 1]]);
        assert.match(s.listQuarantine()[0]!.problem, /fails its checksum|missing/);
        assert.equal(s.queue('r')?.count, 0);
        const reopened = await h.reopen();
        assert.equal(reopened.listQuarantine().length, 2);
        assertSound(reopened);
      }));

    test('the recovery report is kept across reopen', () =>
      withStore(async (h) => {
        assert.equal(h.store.lastRecovery(), null);
        const report = { atMs: 1, verify: 'quick' as const, queues: 1, messages: 2, bytes: 3, firstLsn: 1, lastLsn: 4, epoch: 0, dropped: [{ what: 'queue tmp', reason: 'not durable' }], lost: [], lostCount: 0 };
        await h.store.recordRecovery(report);
        assert.deepEqual(h.store.lastRecovery(), report);
        assert.deepEqual((await h.reopen()).lastRecovery(), report);
      }));

    test('commit assigns consecutive LSNs synchronously in call order; readLog returns the records', () =>
      withStore(async (h) => {
        const s = h.store;
        const t1 = s.commit([queueDeclare('q1')]);
        const t2 = s.commit([queueDeclare('q2'), exchangeDeclare('x')]);
        const t3 = s.commit([bind('x', 'q1', 'k')]);
        assert.deepEqual([t1.firstLsn, t1.lastLsn, t2.firstLsn, t2.lastLsn, t3.firstLsn, t3.lastLsn], [1, 1, 2, 3, 4, 4]);
        await Promise.all([t1.durable, t2.committed, t3.durable]);
        await t2.durable;
        assert.equal(s.meta().lastLsn, 4);
        const log = await collect(s.readLog(1));
        assert.deepEqual(
          log.map((e) => [e.lsn, e.record.kind]),
          [
            [1, 'queue-declare'],
            [2, 'queue-declare'],
            [3, 'exchange-declare'],
            [4, 'bind'],
          ],
        );
        assert.deepEqual(log[3]!.record, bind('x', 'q1', 'k'));
        assert.ok(s.meta().logBytes > 0);
        assertSound(s);
      }));

    test('onDurable reports, once per group commit, how far the log is durable, in LSN order', () =>
      withStore(async (h) => {
        const s = h.store;
        const seen: number[] = [];
        const stop = s.onDurable((lsn) => seen.push(lsn));
        const tickets = [s.commit([queueDeclare('a')]), s.commit([queueDeclare('b')]), s.commit([queueDeclare('c')])];
        await Promise.all(tickets.map((t) => t.durable));
        const more = s.commit([queueDeclare('d')]);
        await more.durable;
        stop();
        await s.commit([queueDeclare('e')]).durable;
        assert.ok(seen.length >= 2 && seen.length <= 4, `one call per batch: ${JSON.stringify(seen)}`);
        assert.deepEqual([...seen].sort((x, y) => x - y), seen, 'non-decreasing');
        assert.equal(seen[seen.length - 1], more.lastLsn, 'the last call covers the last commit; none after unsubscribing');
      }));

    test('a pending enqueue can be retracted: its LSN stays in the log as a skip, the message never reaches the tables', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([queueDeclare('q')]).durable;
        const kept = s.commit([enqueue(s.allocateMessageId(), [['q', 1]], 'kept')]);
        const gone = s.commit([enqueue(s.allocateMessageId(), [['q', 2]], 'consumed early')]);
        const after = s.commit([queueDeclare('after')]);
        assert.equal(s.retract(gone.lastLsn), true, 'still waiting for its batch');
        assert.equal(s.retract(after.lastLsn), false, 'only enqueues can be retracted');
        await Promise.all([kept.durable, gone.durable, after.durable]);
        assert.equal(s.retract(kept.lastLsn), false, 'a written enqueue cannot be retracted');
        const log = await collect(s.readLog(kept.firstLsn));
        assert.deepEqual(
          log.map((e) => [e.lsn, e.record.kind]),
          [
            [kept.lastLsn, 'enqueue'],
            [gone.lastLsn, 'skip'],
            [after.lastLsn, 'queue-declare'],
          ],
        );
        assert.deepEqual(s.readQueue('q', 0, 10).map((e) => e.position), [1]);
        assert.equal(s.queue('q')?.count, 1);
        assertSound(s);
        assertSound(await h.reopen());
      }));

    test('enqueue stores a body once for every queue holding it; dequeue drops it at zero refs', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([queueDeclare('a'), queueDeclare('b')]).durable;
        const id1 = s.allocateMessageId();
        const id2 = s.allocateMessageId();
        assert.ok(id2 > id1);
        await s.commit([enqueue(id1, [['a', 1], ['b', 1]], 'fan-out'), enqueue(id2, [['a', 2]], 'only-a')]).durable;
        assert.equal(s.messageRefs(id1), 2);
        assert.equal(s.messageRefs(id2), 1);
        assert.deepEqual(
          { count: s.queue('a')?.count, bytes: s.queue('a')?.bytes, last: s.queue('a')?.lastPosition },
          { count: 2, bytes: 'fan-out'.length + 'only-a'.length, last: 2 },
        );
        const entries = s.readQueue('a', 0, 10);
        assert.deepEqual(
          entries.map((e) => [e.position, e.messageId, e.size, e.persistent, e.expiresAtMs]),
          [
            [1, id1, 7, true, null],
            [2, id2, 6, true, null],
          ],
        );
        assert.deepEqual(s.readQueue('a', 1, 10).map((e) => e.position), [2]);
        assert.deepEqual(s.readQueue('a', 0, 1).map((e) => e.position), [1]);
        assert.equal(text(s.readMessage(id1)), 'fan-out');
        await s.commit([dequeue('a', 1, id1)]).durable;
        assert.equal(s.messageRefs(id1), 1);
        assert.equal(text(s.readMessage(id1)), 'fan-out');
        await s.commit([dequeue('b', 1, id1), dequeue('a', 2, id2)]).durable;
        assert.equal(s.messageRefs(id1), 0);
        assert.equal(s.readMessage(id1), undefined);
        assert.equal(s.readMessage(id2), undefined);
        assert.equal(s.queue('a')?.count, 0);
        assert.equal(s.queue('a')?.bytes, 0);
        assert.equal(s.queue('a')?.lastPosition, 2, 'lastPosition survives the queue emptying');
        assertSound(s);
      }));

    test('a commit does not depend on the caller keeping its body buffer', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([queueDeclare('q')]).durable;
        const body = Buffer.from('original');
        const id = s.allocateMessageId();
        const ticket = s.commit([enqueue(id, [['q', 1]], body)]);
        body.write('CLOBBER!');
        await ticket.durable;
        assert.equal(text(s.readMessage(id)), 'original');
      }));

    test('dedup records fill a queue\'s window slots, outlive the messages, survive reopen and snapshots, and go with the queue', () =>
      withStore(async (h) => {
        let s = h.store;
        const dedup = (queue: string, slot: number, seq: number, id: string): StoreRecord => ({ kind: 'dedup', queue, slot, seq, id });
        await s.commit([queueDeclare('w', { 'qpid.dedup_window': 2 }), queueDeclare('other')]).durable;
        const a = s.allocateMessageId();
        await s.commit([dedup('w', 0, 0, 's:a'), enqueue(a, [['w', 1]], 'a')]).durable;
        await s.commit([dequeue('w', 1, a)]).durable;
        const b = s.allocateMessageId();
        await s.commit([dedup('w', 1, 1, 's:b'), enqueue(b, [['w', 2]], 'b'), dedup('w', 0, 2, 's:c')]).durable;
        assert.deepEqual(s.readDedup('w'), [{ seq: 1, id: 's:b' }, { seq: 2, id: 's:c' }]);
        assert.deepEqual(s.readDedup('other'), []);
        assert.throws(() => s.commit([dedup('missing', 0, 0, 's:x')]), AssertionFailure);
        assertSound(s);
        s = await h.reopen();
        assert.deepEqual(s.readDedup('w'), [{ seq: 1, id: 's:b' }, { seq: 2, id: 's:c' }]);
        const snap = s.snapshot();
        const records = await collect(snap.records());
        snap.close();
        assert.deepEqual(records.filter((r) => r.kind === 'dedup'), [dedup('w', 0, 2, 's:c'), dedup('w', 1, 1, 's:b')]);
        const target = await factory.create();
        try {
          await target.store.wipe();
          await target.store.beginSnapshot(snap.lsn, snap.epoch, snap.lastMessageId, snap.epochHistory);
          await target.store.applySnapshotRecords(records);
          await target.store.endSnapshot(snap.lastPositions);
          assert.deepEqual(target.store.readDedup('w'), [{ seq: 1, id: 's:b' }, { seq: 2, id: 's:c' }]);
          assertSound(target.store);
        } finally {
          await target.cleanup();
        }
        await s.commit([{ kind: 'queue-delete', queue: 'w' }]).durable;
        await s.commit([queueDeclare('w', { 'qpid.dedup_window': 2 })]).durable;
        assert.deepEqual(s.readDedup('w'), [], 'a new queue of the same name starts with an empty window');
        assertSound(s);
      }));

    test('re-declaring a queue replaces its declare and keeps its messages', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([queueDeclare('q', { 'qpid.max_count': 10 })]).durable;
        await s.commit([enqueue(s.allocateMessageId(), [['q', 1]], 'm')]).durable;
        await s.commit([queueDeclare('q', { 'qpid.max_count': 20 })]).durable;
        assert.deepEqual(s.queue('q')?.declare.arguments, { 'qpid.max_count': 20 });
        assert.equal(s.queue('q')?.count, 1);
        assertSound(s);
      }));

    test('deleting a queue dequeues its messages and drops its bindings; deleting an exchange drops its bindings', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([queueDeclare('a'), queueDeclare('b'), exchangeDeclare('x'), exchangeDeclare('y'), bind('x', 'a', 'k'), bind('x', 'b', 'k'), bind('y', 'b', 'k'), bind('amq.direct', 'a', 'a')]).durable;
        const shared = s.allocateMessageId();
        const own = s.allocateMessageId();
        await s.commit([enqueue(shared, [['a', 1], ['b', 1]], 's'), enqueue(own, [['a', 2]], 'o')]).durable;
        await s.commit([{ kind: 'queue-delete', queue: 'a' }]).durable;
        assert.equal(s.queue('a'), undefined);
        assert.deepEqual(s.readQueue('a', 0, 10), []);
        assert.equal(s.messageRefs(shared), 1);
        assert.equal(s.readMessage(own), undefined);
        assert.deepEqual(s.bindings().map((b) => [b.exchange, b.queue]), [['x', 'b'], ['y', 'b']]);
        await s.commit([{ kind: 'exchange-delete', exchange: 'x' }]).durable;
        assert.deepEqual(s.exchanges().map((e) => e.exchange), ['y']);
        assert.deepEqual(s.bindings().map((b) => [b.exchange, b.queue]), [['y', 'b']]);
        await s.commit([{ kind: 'unbind', exchange: 'y', queue: 'b', key: 'k' }]).durable;
        assert.deepEqual(s.bindings(), []);
        // A deleted queue can be declared again; its positions start afresh.
        await s.commit([queueDeclare('a'), enqueue(s.allocateMessageId(), [['a', 1]], 'again')]).durable;
        assert.equal(s.queue('a')?.count, 1);
        assertSound(s);
        assertSound(await h.reopen());
      }));

    test('records that would break an invariant are refused synchronously and take no LSN', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([queueDeclare('q'), exchangeDeclare('x')]).durable;
        const id = s.allocateMessageId();
        await s.commit([enqueue(id, [['q', 5]], 'm')]).durable;
        const refused: StoreRecord[][] = [
          [enqueue(s.allocateMessageId(), [['missing', 1]], 'm')],
          [enqueue(s.allocateMessageId(), [['q', 5]], 'same position')],
          [enqueue(s.allocateMessageId(), [['q', 3]], 'lower position')],
          [enqueue(s.allocateMessageId(), [], 'no targets')],
          [dequeue('missing', 1, id)],
          [dequeue('q', 6, id)],
          [{ kind: 'queue-delete', queue: 'missing' }],
          [{ kind: 'exchange-delete', exchange: 'missing' }],
          [bind('missing', 'q', 'k')],
          [bind('x', 'missing', 'k')],
          [{ kind: 'unbind', exchange: 'x', queue: 'q', key: 'never bound' }],
          [{ kind: 'skip', lastLsn: 10 }],
          // A valid record first: the whole list is refused, not a prefix of it.
          [queueDeclare('fine'), enqueue(s.allocateMessageId(), [['missing', 1]], 'm')],
        ];
        for (const records of refused) {
          assert.throws(() => s.commit(records), AssertionFailure, JSON.stringify(records.map((r) => r.kind)));
        }
        assert.equal(s.queue('fine'), undefined);
        const ticket = s.commit([queueDeclare('next')]);
        assert.equal(ticket.firstLsn, 4, 'refused commits took no LSN');
        await ticket.durable;
        assertSound(s);
      }));

    test('a dequeue that names the wrong message fails its batch with STORE_CORRUPT and the LSNs are reused', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([queueDeclare('q')]).durable;
        const id = s.allocateMessageId();
        await s.commit([enqueue(id, [['q', 1]], 'm')]).durable;
        const bad = s.commit([dequeue('q', 1, id + 1000)]);
        const behind = s.commit([queueDeclare('behind')]);
        await assert.rejects(bad.committed, (err) => assertStoreError(err, 'STORE_CORRUPT'));
        await assert.rejects(bad.durable, (err) => assertStoreError(err, 'STORE_CORRUPT'));
        await assert.rejects(behind.durable, (err) => assertStoreError(err, 'STORE_CORRUPT'));
        assert.equal(s.queue('behind'), undefined);
        assert.equal(s.queue('q')?.count, 1);
        const next = s.commit([dequeue('q', 1, id)]);
        assert.equal(next.firstLsn, 3);
        await next.durable;
        assert.equal(s.meta().lastLsn, 3);
        assertSound(s);
      }));

    test('many commits in one turn are all committed, in LSN order, and survive reopen', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([queueDeclare('q')]).durable;
        const tickets = [];
        for (let i = 1; i <= 500; i++) tickets.push(s.commit([enqueue(s.allocateMessageId(), [['q', i]], `m${i}`)]));
        tickets.forEach((t, i) => assert.equal(t.firstLsn, i + 2));
        await Promise.all(tickets.map((t) => t.durable));
        assert.equal(s.queue('q')?.count, 500);
        const reopened = await h.reopen();
        assert.equal(reopened.queue('q')?.count, 500);
        assert.equal(reopened.meta().lastLsn, 501);
        const entries = reopened.readQueue('q', 0, 1000);
        assert.equal(entries.length, 500);
        assert.equal(text(reopened.readMessage(entries[499]!.messageId)), 'm500');
        assertSound(reopened);
      }));

    test('message ids are never reused, across reopen', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([queueDeclare('q')]).durable;
        const a = s.allocateMessageId();
        await s.commit([enqueue(a, [['q', 1]], 'a')]).durable;
        const b = s.allocateMessageId(); // allocated, committed by a later batch
        await s.commit([queueDeclare('r')]).durable;
        const reopened = await h.reopen();
        const c = reopened.allocateMessageId();
        assert.ok(c > b && b > a, `${c} > ${b} > ${a}`);
        assert.ok(reopened.meta().lastMessageId >= c);
      }));

    test('state survives reopen: queues, exchanges, bindings, entries, bodies, meta', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([queueDeclare('q', { x: 'y', n: 1.5, b: false, z: null }), exchangeDeclare('t', 'topic'), bind('t', 'q', 'a.#'), { kind: 'epoch', epoch: 3, primary: 'b1' }]).durable;
        const id = s.allocateMessageId();
        await s.commit([{ ...enqueue(id, [['q', 1]], new Uint8Array([0, 1, 2, 255])), expiresAtMs: 1_900_000_000_000, persistent: false }]).durable;
        await s.setRole('primary', 'active');
        const before = { meta: s.meta(), queues: s.queues(), exchanges: s.exchanges(), bindings: s.bindings(), entries: s.readQueue('q', 0, 10) };
        const r = await h.reopen();
        assert.deepEqual({ meta: r.meta(), queues: r.queues(), exchanges: r.exchanges(), bindings: r.bindings(), entries: r.readQueue('q', 0, 10) }, before);
        assert.equal(r.meta().epoch, 3);
        assert.equal(r.meta().lastRole, 'primary');
        assert.equal(r.meta().haState, 'active');
        assert.deepEqual([...r.readMessage(id)!], [0, 1, 2, 255]);
        assertSound(r);
      }));

    test('epoch records only raise the epoch', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([{ kind: 'epoch', epoch: 5, primary: 'a' }]).durable;
        await s.commit([{ kind: 'epoch', epoch: 2, primary: 'b' }]).durable;
        assert.equal(s.meta().epoch, 5);
      }));

    test('the epoch history records each epoch with its first LSN, survives reopen, retention and replication, and is reset by wipe', () =>
      withStore(
        async (h) => {
          const s = h.store;
          await s.commit([queueDeclare('q')]).durable;
          const first = s.commit([{ kind: 'epoch', epoch: 3, primary: 'a' }]);
          await first.durable;
          for (let i = 1; i <= 40; i++) await s.commit([enqueue(s.allocateMessageId(), [['q', i]], 'x'.repeat(100))]).durable;
          const second = s.commit([{ kind: 'epoch', epoch: 5, primary: 'b' }]);
          // A replayed (lower) epoch record begins no epoch.
          await s.commit([{ kind: 'epoch', epoch: 4, primary: 'c' }]).durable;
          await second.durable;
          const history = [
            { epoch: 3, firstLsn: first.firstLsn },
            { epoch: 5, firstLsn: second.firstLsn },
          ];
          assert.deepEqual(s.meta().epochHistory, history);
          // Retention (a 2000-byte log) has dropped the first epoch record; the history keeps it.
          assert.ok(s.meta().firstLsn > first.firstLsn, `retention dropped LSN ${first.firstLsn}`);
          const reopened = await h.reopen();
          assert.deepEqual(reopened.meta().epochHistory, history);
          // A snapshot carries the history up to its LSN; the backup that applies it adopts it.
          const snap = reopened.snapshot();
          assert.deepEqual(snap.epochHistory, history);
          snap.close();
          const target = await factory.create();
          try {
            const t = target.store;
            await t.wipe();
            await t.beginSnapshot(snap.lsn, snap.epoch, snap.lastMessageId, snap.epochHistory);
            await t.endSnapshot();
            await t.appendReplicated([{ lsn: snap.lsn + 1, record: { kind: 'epoch', epoch: 7, primary: 't' } }]).durable;
            assert.deepEqual(t.meta().epochHistory, [...history, { epoch: 7, firstLsn: snap.lsn + 1 }]);
            await t.wipe();
            assert.deepEqual(t.meta().epochHistory, []);
            assert.equal(t.meta().epoch, 7, 'wipe keeps the epoch (fencing)');
          } finally {
            await target.cleanup();
          }
        },
        { logMaxBytes: 2000 },
      ));

    test('a snapshot carries each queue\'s last position, so positions go on where the source\'s do', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([queueDeclare('drained')]).durable;
        const id = s.allocateMessageId();
        await s.commit([enqueue(id, [['drained', 7]], 'm')]).durable;
        await s.commit([dequeue('drained', 7, id)]).durable;
        const snap = s.snapshot();
        const records: StoreRecord[] = [];
        for await (const r of snap.records()) records.push(r);
        assert.deepEqual(snap.lastPositions, { drained: 7 });
        snap.close();
        const target = await factory.create();
        try {
          const t = target.store;
          await t.wipe();
          await t.beginSnapshot(snap.lsn, snap.epoch, snap.lastMessageId, snap.epochHistory);
          await t.applySnapshotRecords(records);
          await t.endSnapshot(snap.lastPositions);
          assert.equal(t.queue('drained')?.lastPosition, 7);
          // The next enqueue from the source, at position 8, is taken; one at 7 would not be.
          await t.appendReplicated([{ lsn: snap.lsn + 1, record: enqueue(id + 1, [['drained', 8]], 'n') }]).durable;
          assert.throws(() => t.appendReplicated([{ lsn: snap.lsn + 2, record: enqueue(id + 2, [['drained', 8]], 'o') }]));
        } finally {
          await target.cleanup();
        }
      }));

    test('appendReplicated keeps the primary LSNs, refuses gaps, and accounts for skip spans', () =>
      withStore(async (h) => {
        const s = h.store;
        const entries: LogEntry[] = [
          { lsn: 1, record: queueDeclare('q') },
          { lsn: 2, record: { kind: 'skip', lastLsn: 6 } },
          { lsn: 7, record: enqueue(42, [['q', 1]], 'replicated') },
        ];
        const t = s.appendReplicated(entries);
        assert.deepEqual([t.firstLsn, t.lastLsn], [1, 7]);
        await t.durable;
        assert.equal(s.meta().lastLsn, 7);
        assert.ok(s.allocateMessageId() > 42, 'the id counter follows replicated ids');
        assert.throws(() => s.appendReplicated([{ lsn: 9, record: queueDeclare('r') }]), (err) => assertStoreError(err, 'STORE_LSN_GAP'));
        assert.throws(() => s.appendReplicated([{ lsn: 8, record: queueDeclare('r') }, { lsn: 10, record: queueDeclare('s') }]), (err) => assertStoreError(err, 'STORE_LSN_GAP'));
        assert.throws(() => s.appendReplicated([{ lsn: 8, record: enqueue(43, [['nope', 1]], 'x') }]), (err) => assertStoreError(err, 'STORE_CORRUPT'));
        await s.appendReplicated([{ lsn: 8, record: dequeue('q', 1, 42) }]).durable;
        assert.deepEqual((await collect(s.readLog(1))).map((e) => e.lsn), [1, 2, 7, 8]);
        // Reading from inside a skip span hands out the rest of the span.
        assert.deepEqual(await collect(s.readLog(4)), [
          { lsn: 4, record: { kind: 'skip', lastLsn: 6 } },
          { lsn: 7, record: enqueue(42, [['q', 1]], 'replicated') },
          { lsn: 8, record: dequeue('q', 1, 42) },
        ]);
        assertSound(s);
        const r = await h.reopen();
        assert.equal(r.meta().lastLsn, 8);
        assertSound(r);
      }));

    test('readLog stops at toLsn or at the last LSN when it was called', () =>
      withStore(async (h) => {
        const s = h.store;
        for (let i = 0; i < 5; i++) await s.commit([queueDeclare(`q${i}`)]).committed;
        assert.deepEqual((await collect(s.readLog(2, { toLsn: 3 }))).map((e) => e.lsn), [2, 3]);
        const it = s.readLog(4);
        await s.commit([queueDeclare('later')]).committed;
        assert.deepEqual((await collect(it)).map((e) => e.lsn), [4, 5]);
        assert.deepEqual(await collect(s.readLog(7)), []);
      }));

    test('onCommitted sees every batch in LSN order; a throwing listener does not break the store', () =>
      withStore(async (h) => {
        const s = h.store;
        const seen: number[] = [];
        const unsubscribeBad = s.onCommitted(() => {
          throw new Error('listener bug');
        });
        const unsubscribe = s.onCommitted((entries) => seen.push(...entries.map((e) => e.lsn)));
        const tickets = [s.commit([queueDeclare('a')]), s.commit([queueDeclare('b'), queueDeclare('c')])];
        await Promise.all(tickets.map((t) => t.committed));
        await s.commit([queueDeclare('d')]).committed;
        unsubscribe();
        unsubscribeBad();
        await s.commit([queueDeclare('e')]).committed;
        assert.deepEqual(seen, [1, 2, 3, 4]);
      }));

    test('truncateLogBefore drops old entries; reading them needs a snapshot', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([queueDeclare('q')]).durable;
        for (let i = 1; i <= 20; i++) await s.commit([enqueue(s.allocateMessageId(), [['q', i]], 'x'.repeat(100))]).committed;
        const bytesBefore = s.meta().logBytes;
        await s.truncateLogBefore(11);
        assert.equal(s.meta().firstLsn, 11);
        assert.ok(s.meta().logBytes < bytesBefore);
        assert.throws(() => s.readLog(5), (err) => assertStoreError(err, 'STORE_LOG_TRUNCATED'));
        assert.deepEqual((await collect(s.readLog(11))).map((e) => e.lsn), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
        assert.equal(s.queue('q')?.count, 20, 'tables are unaffected');
        assert.throws(() => s.truncateLogBefore(100), AssertionFailure);
        await s.truncateLogBefore(22);
        assert.deepEqual([s.meta().firstLsn, s.meta().lastLsn, s.meta().logBytes], [22, 21, 0]);
        assertSound(s);
        const r = await h.reopen();
        assert.equal(r.meta().firstLsn, 22);
        assertSound(r);
      }));

    test('a reader overtaken by truncation gets STORE_LOG_TRUNCATED, not a silent gap', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([queueDeclare('q')]).durable;
        const tickets = [];
        for (let i = 0; i < 700; i++) tickets.push(s.commit([queueDeclare(`q${i}`)]));
        await Promise.all(tickets.map((t) => t.durable));
        const seen: number[] = [];
        await assert.rejects(
          async () => {
            for await (const e of s.readLog(1)) {
              seen.push(e.lsn);
              if (seen.length === 10) await s.truncateLogBefore(600);
            }
          },
          (err) => assertStoreError(err, 'STORE_LOG_TRUNCATED'),
        );
        for (let i = 0; i < seen.length; i++) assert.equal(seen[i], i + 1, 'no entry was skipped before the error');
        assert.ok(seen.length < 600);
      }));

    test('retention keeps the log under logMaxBytes, and trims below the floor', () =>
      withStore(
        async (h) => {
          const s = h.store;
          await s.commit([queueDeclare('q')]).durable;
          for (let i = 1; i <= 200; i++) {
            const id = s.allocateMessageId();
            await s.commit([enqueue(id, [['q', i]], 'y'.repeat(200))]).committed;
            await s.commit([dequeue('q', i, id)]).committed;
          }
          await waitFor('retention to bound the log', () => s.meta().logBytes <= 8192);
          const m = s.meta();
          assert.ok(m.firstLsn > 1, 'old entries were dropped');
          assert.ok(m.logBytes > 0 && m.logBytes <= 8192, `logBytes ${m.logBytes}`);
          assertSound(s);
          s.setRetentionFloor(m.lastLsn - 2);
          await s.commit([queueDeclare('r')]).durable;
          await waitFor('the floor to trim the log', () => s.meta().firstLsn === m.lastLsn - 2);
          s.setRetentionFloor(null);
          assertSound(s);
        },
        { logMaxBytes: 8192 },
      ));

    test('a snapshot is a consistent view at one LSN while writes go on, and rebuilds an equal store', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.commit([exchangeDeclare('x', 'fanout'), queueDeclare('a'), queueDeclare('b'), bind('x', 'a', ''), bind('x', 'b', ''), { kind: 'epoch', epoch: 2, primary: 'p' }]).durable;
        let pa = 0;
        let pb = 0;
        for (let i = 0; i < 30; i++) {
          const targets: Array<[string, number]> = i % 3 === 0 ? [['a', ++pa], ['b', ++pb]] : i % 3 === 1 ? [['a', ++pa]] : [['b', ++pb]];
          await s.commit([enqueue(s.allocateMessageId(), targets, `m${i}`)]).committed;
        }
        const head = s.readQueue('a', 0, 1)[0]!;
        await s.commit([dequeue('a', head.position, head.messageId)]).durable;
        const expected = { queues: s.queues(), exchanges: s.exchanges(), bindings: s.bindings(), a: s.readQueue('a', 0, 100), b: s.readQueue('b', 0, 100) };
        const snap = s.snapshot();
        assert.equal(snap.lsn, s.meta().lastLsn);
        assert.equal(snap.epoch, 2);
        // Writes continue while the snapshot streams; the snapshot does not see them.
        const writes = [s.commit([queueDeclare('after')]), s.commit([enqueue(s.allocateMessageId(), [['a', ++pa]], 'late')])];
        await Promise.all(writes.map((w) => w.committed));
        const records: StoreRecord[] = [];
        for await (const r of snap.records()) {
          records.push(r);
          if (records.length % 4 === 0) {
            const id = s.allocateMessageId();
            await s.commit([enqueue(id, [['b', ++pb]], 'during')]).durable;
            await s.commit([dequeue('b', pb, id), dequeue('a', pa, s.readQueue('a', pa - 1, 1)[0]!.messageId)]).durable;
            pa++;
            await s.commit([enqueue(s.allocateMessageId(), [['a', pa]], 'during')]).committed;
          }
        }
        snap.close();
        snap.close();
        const kinds = records.map((r) => r.kind);
        assert.deepEqual(kinds.slice(0, 5), ['exchange-declare', 'queue-declare', 'queue-declare', 'bind', 'bind']);
        const enqueues = records.filter((r): r is EnqueueRecord => r.kind === 'enqueue');
        assert.equal(new Set(enqueues.map((e) => e.messageId)).size, enqueues.length, 'each message appears once');
        assert.ok(enqueues.some((e) => e.targets.length === 2), 'fan-out messages carry every target');
        assert.ok(!records.some((r) => r.kind === 'queue-declare' && r.queue === 'after'));

        const target = await factory.create();
        try {
          const t = target.store;
          await t.wipe();
          await t.beginSnapshot(snap.lsn, snap.epoch, snap.lastMessageId);
          await t.applySnapshotRecords(records.slice(0, 7));
          await t.applySnapshotRecords(records.slice(7));
          await t.endSnapshot();
          assert.deepEqual({ queues: t.queues(), exchanges: t.exchanges(), bindings: t.bindings(), a: t.readQueue('a', 0, 100), b: t.readQueue('b', 0, 100) }, expected);
          assert.equal(t.meta().lastLsn, snap.lsn);
          assert.equal(t.meta().firstLsn, snap.lsn + 1);
          assert.equal(t.meta().epoch, 2);
          assert.equal(t.meta().snapshotIncomplete, false);
          for (const e of expected.a) assert.equal(text(t.readMessage(e.messageId)), text(s.readMessage(e.messageId)));
          // The log continues after the snapshot's LSN.
          await t.appendReplicated([{ lsn: snap.lsn + 1, record: queueDeclare('after') }]).durable;
          assertSound(t);
          const reopened = await target.reopen();
          assert.equal(reopened.meta().lastLsn, snap.lsn + 1);
          assertSound(reopened);
        } finally {
          await target.cleanup();
        }
      }));

    test('an interrupted snapshot leaves snapshotIncomplete set across reopen', () =>
      withStore(async (h) => {
        const s = h.store;
        await s.wipe();
        await s.beginSnapshot(100, 4, 50);
        await s.applySnapshotRecords([queueDeclare('q')]);
        const r = await h.reopen();
        assert.equal(r.meta().snapshotIncomplete, true);
        assert.equal(r.meta().lastLsn, 100);
        assert.ok(verifyStore(r).some((v) => v.code === 'snapshot-incomplete'));
        await r.wipe();
        assert.equal(r.meta().snapshotIncomplete, false);
      }));

    test('wipe empties everything but keeps the store id and epoch; LSNs restart at 1', () =>
      withStore(async (h) => {
        const s = h.store;
        const id = s.meta().storeId;
        await s.commit([queueDeclare('q'), exchangeDeclare('x'), bind('x', 'q', 'k'), { kind: 'epoch', epoch: 7, primary: 'p' }]).durable;
        await s.commit([enqueue(s.allocateMessageId(), [['q', 1]], 'm')]).durable;
        const inFlight = s.commit([queueDeclare('in-flight')]);
        await s.wipe();
        await inFlight.durable;
        assert.deepEqual([s.queues(), s.exchanges(), s.bindings()], [[], [], []]);
        const m = s.meta();
        assert.deepEqual([m.storeId, m.epoch, m.lastLsn, m.firstLsn, m.logBytes], [id, 7, 0, 1, 0]);
        assert.equal(s.commit([queueDeclare('fresh')]).firstLsn, 1);
        const r = await h.reopen();
        assert.deepEqual(r.queues().map((q) => q.declare.queue), ['fresh']);
        assert.equal(r.meta().storeId, id);
        assertSound(r);
      }));

    test('close waits for in-flight commits; operations after close fail with STORE_CLOSED', () =>
      withStore(async (h) => {
        const s = h.store;
        const t = s.commit([queueDeclare('q')]);
        await s.close();
        await t.durable;
        assert.throws(() => s.commit([queueDeclare('r')]), (err) => assertStoreError(err, 'STORE_CLOSED'));
        await s.close();
        const r = await h.reopen();
        assert.ok(r.queue('q'));
      }));

    test('a failed commit (full disk) fails everything queued behind it, changes nothing, and LSNs are reused', async (t) => {
      const h = await factory.create();
      try {
        if (!h.failNextCommit) {
          t.skip('this implementation cannot fail a commit on demand (see the full-disk test)');
          return;
        }
        const s = h.store;
        await s.commit([queueDeclare('q')]).durable;
        // The ack gate forgets the failed LSNs on this signal: it must come, once, before any
        // later commit can be given them.
        const rollbacks: Array<{ lastLsn: number; nextLsn: number }> = [];
        s.onRollback((lastLsn) => rollbacks.push({ lastLsn, nextLsn: s.commit([]).firstLsn }));
        h.failNextCommit('STORE_FULL');
        const a = s.commit([enqueue(s.allocateMessageId(), [['q', 1]], 'a')]);
        const b = s.commit([queueDeclare('b')]);
        await assert.rejects(a.durable, (err) => assertStoreError(err, 'STORE_FULL'));
        await assert.rejects(b.committed, (err) => assertStoreError(err, 'STORE_FULL'));
        assert.deepEqual(rollbacks, [{ lastLsn: 1, nextLsn: 2 }]);
        assert.equal(s.queue('q')?.count, 0);
        assert.equal(s.meta().lastLsn, 1);
        const c = s.commit([enqueue(s.allocateMessageId(), [['q', 1]], 'c')]);
        assert.equal(c.firstLsn, 2);
        await c.durable;
        assertSound(s);
      } finally {
        await h.cleanup();
      }
    });

    test('a crash loses only what was not durable', async (t) => {
      const h = await factory.create();
      try {
        if (!h.crash) {
          t.skip('crashes of this implementation are tested with real processes (test/store/crash.test.ts)');
          return;
        }
        const s = h.store;
        await s.commit([queueDeclare('q')]).durable;
        const r = await h.crash();
        assert.ok(r.queue('q'));
        assertSound(r);
      } finally {
        await h.cleanup();
      }
    });

    test('property: random operations give the same state as a plain model, across reopen', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 40 }), async (ops) => {
          const h = await factory.create();
          try {
            await runAgainstModel(h, ops);
          } finally {
            await h.cleanup();
          }
        }),
        { numRuns: Number(process.env['STORE_PROPERTY_RUNS'] ?? 25), seed: propertySeed(), verbose: 1 },
      );
    });
  });
}
