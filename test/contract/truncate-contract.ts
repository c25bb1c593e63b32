// The truncation part of the store contract (undo.ts): a cluster store takes its own log back to
// a divergence point, and its tables come back exactly as they were just after that point,
// whatever it did since (declares, deletes, enqueues, dequeues to refs 0, bindings, reopens).
// Run against both implementations from store-contract.ts's runStoreContract.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isStoreError, verifyStore, type StoreRecord } from '../../store/index.js';
import type { ContractStore, StoreFactory } from './store-contract.js';

/** Everything observable about the tables: queues with their counters, exchanges, bindings, and
 * every entry with its message's body and refs. */
function fingerprint(s: ContractStore): unknown {
  const queues = s.queues().map((q) => ({ ...q, entries: s.readQueue(q.declare.queue, 0, 1_000_000).map((e) => ({ ...e, body: Buffer.from(s.readMessage(e.messageId) ?? []).toString(), refs: s.messageRefs(e.messageId) })), dedup: s.readDedup(q.declare.queue) }));
  return { queues: queues.sort((a, b) => a.declare.queue.localeCompare(b.declare.queue)), exchanges: s.exchanges(), bindings: s.bindings() };
}

type Step =
  | { kind: 'declare' | 'delete' | 'enqueue' | 'dequeue' | 'bind' | 'unbind' | 'dedup'; pick: number; fan: number; size: number }
  | { kind: 'reopen' }
  /** `count` enqueues to one queue committed in one turn: one batch, whose undo takes several
   * page-sized rows (layout.ts: UNDO_ROW_MAX_BYTES) once the queue's row is large. */
  | { kind: 'burst'; pick: number; count: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constantFrom('declare', 'delete', 'enqueue', 'enqueue', 'dequeue', 'dequeue', 'bind', 'unbind', 'dedup') as fc.Arbitrary<'declare'>, pick: fc.nat(20), fan: fc.integer({ min: 1, max: 3 }), size: fc.integer({ min: 0, max: 200 }) }),
  fc.constant({ kind: 'reopen' as const }),
  fc.record({ kind: fc.constant('burst' as const), pick: fc.nat(20), count: fc.integer({ min: 2, max: 40 }) }),
);

/** The enqueues of a burst, at consecutive positions of one queue (none without a queue). */
function burstRecords(s: ContractStore, st: Extract<Step, { kind: 'burst' }>, counter: { n: number }): StoreRecord[] {
  const queues = s.queues().map((q) => q.declare.queue).sort();
  if (!queues.length) return [];
  const queue = queues[st.pick % queues.length] as string;
  const from = (s.queue(queue)?.lastPosition ?? 0) + 1;
  return Array.from({ length: st.count }, (_, i) => ({ kind: 'enqueue', messageId: s.allocateMessageId(), targets: [{ queue, position: from + i }], body: Buffer.from(`m${++counter.n}`), persistent: true, expiresAtMs: null }));
}

/** One valid record for the store's current state, or null when the step fits nothing. */
function recordFor(s: ContractStore, st: Exclude<Step, { kind: 'reopen' | 'burst' }>, counter: { n: number }): StoreRecord | null {
  const queues = s.queues().map((q) => q.declare.queue).sort();
  const names = ['t0', 't1', 't2'];
  switch (st.kind) {
    case 'declare':
      return { kind: 'queue-declare', queue: names[st.pick % 3] as string, durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: { v: st.size } };
    case 'delete':
      return queues.length ? { kind: 'queue-delete', queue: queues[st.pick % queues.length] as string } : null;
    case 'enqueue': {
      if (!queues.length) return null;
      const targets = [...new Set(Array.from({ length: st.fan }, (_, i) => queues[(st.pick + i) % queues.length] as string))].map((q) => ({ queue: q, position: (s.queue(q)?.lastPosition ?? 0) + 1 }));
      return { kind: 'enqueue', messageId: s.allocateMessageId(), targets, body: Buffer.from(`m${++counter.n}`.padEnd(st.size, '.')), persistent: true, expiresAtMs: null };
    }
    case 'dequeue': {
      const held = queues.flatMap((q) => s.readQueue(q, 0, 100).map((e) => ({ q, e })));
      if (!held.length) return null;
      const { q, e } = held[st.pick % held.length] as { q: string; e: { position: number; messageId: number } };
      return { kind: 'dequeue', queue: q, position: e.position, messageId: e.messageId, cause: 'consumed' };
    }
    case 'dedup':
      // A window of 4 slots, overwritten in turn: undo must bring back what a slot held.
      return queues.length ? { kind: 'dedup', queue: queues[st.pick % queues.length] as string, slot: st.size % 4, seq: ++counter.n, id: `id${st.size}` } : null;
    case 'bind':
      return queues.length ? { kind: 'bind', exchange: 'amq.direct', queue: queues[st.pick % queues.length] as string, key: `k${st.size % 3}`, arguments: {} } : null;
    case 'unbind': {
      const bindings = s.bindings();
      if (!bindings.length) return null;
      const b = bindings[st.pick % bindings.length] as { exchange: string; queue: string; key: string };
      return { kind: 'unbind', exchange: b.exchange, queue: b.queue, key: b.key };
    }
  }
}

async function run(factory: StoreFactory, prefix: readonly Step[], suffix: readonly Step[]): Promise<void> {
  const h = await factory.create({ undo: true });
  try {
    const counter = { n: 0 };
    const apply = async (steps: readonly Step[]): Promise<void> => {
      for (const st of steps) {
        if (st.kind === 'reopen') {
          await h.reopen();
          continue;
        }
        if (st.kind === 'burst') {
          // Committed in one turn: they share a batch.
          const records = burstRecords(h.store, st, counter);
          await Promise.all(records.map((record) => h.store.commit([record]).durable));
          continue;
        }
        const record = recordFor(h.store, st, counter);
        if (record) await h.store.commit([record]).durable;
      }
    };
    await apply(prefix);
    const divergence = h.store.meta().lastLsn;
    const before = fingerprint(h.store);
    await apply(suffix);
    await h.store.truncateAfter(divergence);
    assert.equal(h.store.meta().lastLsn, divergence);
    assert.deepEqual(fingerprint(h.store), before, 'the tables are as they were at the divergence point');
    assert.deepEqual(verifyStore(h.store), []);
    // The log goes on from the divergence point, and all of it survives a reopen.
    const next = h.store.commit([{ kind: 'queue-declare', queue: 'after', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]);
    assert.equal(next.firstLsn, divergence + 1);
    await next.durable;
    const reopened = await h.reopen();
    assert.ok(reopened.queue('after'));
    assert.deepEqual(verifyStore(reopened), []);
  } finally {
    await h.cleanup();
  }
}

export function runTruncateContract(factory: StoreFactory): void {
  test('truncateAfter: property: the tables come back exactly as they were at the divergence point', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 0, maxLength: 25 }), fc.array(step, { minLength: 1, maxLength: 25 }), (prefix, suffix) => run(factory, prefix, suffix)),
      { numRuns: Number(process.env['STORE_PROPERTY_RUNS'] ?? 25), verbose: 1 },
    );
  });

  test('truncateAfter takes back part of one batch whose undo spans several rows', async () => {
    const declareQueue: StoreRecord = { kind: 'queue-declare', queue: 'wide', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: { note: 'x'.repeat(300) } };
    const enqueue = (s: ContractStore, position: number): StoreRecord => ({ kind: 'enqueue', messageId: s.allocateMessageId(), targets: [{ queue: 'wide', position }], body: Buffer.from(`m${position}`), persistent: true, expiresAtMs: null });
    const burst = await factory.create({ undo: true });
    const kept = await factory.create({ undo: true });
    try {
      // 60 enqueues in one turn: one batch, its undo (each entry holds the queue row's 300-byte
      // before-image) well over one page.
      const first = burst.store.commit([declareQueue]).firstLsn;
      await Promise.all(Array.from({ length: 60 }, (_, i) => burst.store.commit([enqueue(burst.store, i + 1)]).durable));
      await kept.store.commit([declareQueue]).durable;
      for (let i = 1; i <= 23; i++) await kept.store.commit([enqueue(kept.store, i)]).durable;
      await burst.store.truncateAfter(first + 23);
      assert.deepEqual(fingerprint(burst.store), fingerprint(kept.store), 'the first 23 enqueues are left, the other 37 taken back');
      assert.deepEqual(verifyStore(burst.store), []);
      // What is left of the batch's undo still takes the log back further, after a reopen too.
      const reopened = await burst.reopen();
      await reopened.truncateAfter(first + 5);
      assert.equal(reopened.readQueue('wide', 0, 100).length, 5);
      assert.deepEqual(verifyStore(reopened), []);
    } finally {
      await burst.cleanup();
      await kept.cleanup();
    }
  });

  test('truncateAfter refuses, changing nothing, past entries copied from a primary or without undo', async () => {
    const h = await factory.create({ undo: true });
    try {
      const s = h.store;
      await s.appendReplicated([{ lsn: 1, record: { kind: 'queue-declare', queue: 'copied', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} } }]).durable;
      await s.commit([{ kind: 'queue-declare', queue: 'own', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]).durable;
      await s.truncateAfter(1);
      assert.equal(s.queue('own'), undefined, 'its own record is taken back');
      await assert.rejects(s.truncateAfter(0), (err) => isStoreError(err, 'STORE_UNDO_MISSING'));
      assert.ok(s.queue('copied'), 'nothing changed');
      assert.equal(s.meta().lastLsn, 1);
    } finally {
      await h.cleanup();
    }
    const plain = await factory.create();
    try {
      await plain.store.commit([{ kind: 'queue-declare', queue: 'q', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]).durable;
      await assert.rejects(plain.store.truncateAfter(0), (err) => isStoreError(err, 'STORE_UNDO_MISSING'));
    } finally {
      await plain.cleanup();
    }
  });
}
