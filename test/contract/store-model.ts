// The store contract's property test: random operations against a store and against a plain
// model of queues and bindings, compared after every step and across reopens.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { BindRecord, StoreRecord } from '../../store/index.js';
import { assertSound, bind, dequeue, enqueue, exchangeDeclare, queueDeclare, text } from './contract-helpers.js';
import type { ContractStore, StoreHandle } from './store-contract.js';

// --- property test: store vs a plain model ------------------------------------------------------

export function propertySeed(): number {
  const env = process.env['STORE_PROPERTY_SEED'];
  const seed = env ? Number(env) : Date.now() % 2 ** 31;
  console.error(`store property test seed=${seed} (STORE_PROPERTY_SEED=${seed} to replay)`);
  return seed;
}

export type Op =
  | { op: 'declare'; q: number }
  | { op: 'delete'; q: number }
  | { op: 'enqueue'; qs: number[]; size: number }
  | { op: 'dequeue'; q: number; nth: number }
  | { op: 'bind'; q: number; key: number }
  | { op: 'unbind'; nth: number }
  | { op: 'reopen' };

const QUEUES = ['q0', 'q1', 'q2'];
export const operation: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('declare' as const), q: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ op: fc.constant('delete' as const), q: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ op: fc.constant('enqueue' as const), qs: fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }), size: fc.integer({ min: 0, max: 300 }) }),
  fc.record({ op: fc.constant('enqueue' as const), qs: fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 1 }), size: fc.integer({ min: 0, max: 50 }) }),
  fc.record({ op: fc.constant('dequeue' as const), q: fc.integer({ min: 0, max: 2 }), nth: fc.nat(5) }),
  fc.record({ op: fc.constant('bind' as const), q: fc.integer({ min: 0, max: 2 }), key: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ op: fc.constant('unbind' as const), nth: fc.nat(5) }),
  fc.record({ op: fc.constant('reopen' as const) }),
);

interface ModelQueue {
  lastPosition: number;
  entries: Map<number, { messageId: number; body: string }>;
}

export async function runAgainstModel(h: StoreHandle, ops: readonly Op[]): Promise<void> {
  let s = h.store;
  const queues = new Map<string, ModelQueue>();
  const bindings = new Map<string, BindRecord>();
  await s.commit([exchangeDeclare('x', 'direct')]).durable;
  let bodyCounter = 0;
  for (const o of ops) {
    let records: StoreRecord[] = [];
    switch (o.op) {
      case 'declare': {
        const name = QUEUES[o.q]!;
        if (!queues.has(name)) queues.set(name, { lastPosition: 0, entries: new Map() });
        records = [queueDeclare(name)];
        break;
      }
      case 'delete': {
        const name = QUEUES[o.q]!;
        if (!queues.has(name)) continue;
        queues.delete(name);
        for (const [k, b] of bindings) if (b.queue === name) bindings.delete(k);
        records = [{ kind: 'queue-delete', queue: name }];
        break;
      }
      case 'enqueue': {
        const names = o.qs.map((i) => QUEUES[i]!).filter((n) => queues.has(n));
        if (names.length === 0) continue;
        const id = s.allocateMessageId();
        const body = `${++bodyCounter}:`.padEnd(o.size, 'b');
        const targets: Array<[string, number]> = names.map((n) => {
          const mq = queues.get(n)!;
          mq.lastPosition++;
          mq.entries.set(mq.lastPosition, { messageId: id, body });
          return [n, mq.lastPosition];
        });
        records = [enqueue(id, targets, body)];
        break;
      }
      case 'dequeue': {
        const name = QUEUES[o.q]!;
        const mq = queues.get(name);
        if (!mq || mq.entries.size === 0) continue;
        const position = [...mq.entries.keys()][o.nth % mq.entries.size]!;
        const e = mq.entries.get(position)!;
        mq.entries.delete(position);
        records = [dequeue(name, position, e.messageId)];
        break;
      }
      case 'bind': {
        const name = QUEUES[o.q]!;
        if (!queues.has(name)) continue;
        const b = bind('x', name, `k${o.key}`);
        bindings.set(JSON.stringify([b.exchange, b.queue, b.key]), b);
        records = [b];
        break;
      }
      case 'unbind': {
        if (bindings.size === 0) continue;
        const [k, b] = [...bindings][o.nth % bindings.size]!;
        bindings.delete(k);
        records = [{ kind: 'unbind', exchange: b.exchange, queue: b.queue, key: b.key }];
        break;
      }
      case 'reopen':
        s = await h.reopen();
        compare(s, queues, bindings);
        continue;
    }
    // Not awaited one by one: several commits share batches, as with many producers.
    const ticket = s.commit(records);
    if (bodyCounter % 3 === 0) await ticket.durable;
  }
  await s.commit([]).durable;
  compare(s, queues, bindings);
  assertSound(s);
  s = await h.reopen();
  compare(s, queues, bindings);
  assertSound(s);
}

function compare(s: ContractStore, queues: Map<string, ModelQueue>, bindings: Map<string, BindRecord>): void {
  assert.deepEqual(
    s.queues().map((q) => q.declare.queue),
    [...queues.keys()].sort(),
  );
  const refs = new Map<number, number>();
  for (const [name, mq] of queues) {
    const state = s.queue(name)!;
    const expected = [...mq.entries].sort((a, b) => a[0] - b[0]);
    assert.equal(state.count, expected.length, `count of ${name}`);
    assert.equal(state.bytes, expected.reduce((n, [, e]) => n + Buffer.byteLength(e.body), 0), `bytes of ${name}`);
    assert.equal(state.lastPosition, mq.lastPosition, `lastPosition of ${name}`);
    const entries = s.readQueue(name, 0, 10_000);
    assert.deepEqual(
      entries.map((e) => [e.position, e.messageId]),
      expected.map(([p, e]) => [p, e.messageId]),
      `entries of ${name}`,
    );
    for (const [, e] of expected) {
      assert.equal(text(s.readMessage(e.messageId)), e.body);
      refs.set(e.messageId, (refs.get(e.messageId) ?? 0) + 1);
    }
  }
  for (const [id, n] of refs) assert.equal(s.messageRefs(id), n, `refs of message ${id}`);
  assert.deepEqual(
    s.bindings().map((b) => JSON.stringify([b.exchange, b.queue, b.key])).sort(),
    [...bindings.keys()].sort(),
  );
}
