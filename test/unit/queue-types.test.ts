// The queue type strategies (src/broker/strategies/) on the pure queue, with no broker or store:
// qpidd's priority level mapping, priority order with and without fairshare, last-value
// replacement, message group ownership (one consumer at a time, freed on settle, release or
// detach), the declare argument rules, and model-based properties: after any sequence of
// enqueues, acquisitions, releases and settlements, next() is what a brute-force scan of the
// queue says it must be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { BrokerMessage } from '../../src/broker/message.js';
import { Queue, type Consumer, type QueueEntry } from '../../src/broker/queue.js';
import { Selection, type SelectionHooks } from '../../src/broker/selection.js';
import { DEFAULT_GROUP, GroupOrder, priorityLevel, type QueueType } from '../../src/broker/strategies/index.js';
import { parseQueueType } from '../../src/broker/strategies/arguments.js';
import { BrokerError } from '../../src/broker/errors.js';

function typedQueue(type: QueueType): Queue {
  return new Queue({ name: 'q', durable: false, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {}, maxCount: null, maxSizeBytes: null, policy: 'reject', replicate: 'none', filter: null, flow: null, type });
}

let nextId = 1;
function put(queue: Queue, typeKey: string | number | undefined): QueueEntry {
  const message: BrokerMessage = { id: -nextId++, body: new Uint8Array(0), size: 0, persistent: false, expiresAtMs: null, subject: null, applicationProperties: null, stored: false, enqueueLsn: null, storedTargets: 0, refs: 1 };
  const entry: QueueEntry = { queue, position: queue.nextPosition(), message, deliveryCount: 0, state: 'available', consumer: null, stored: false, ...(typeKey === undefined ? {} : { typeKey }) };
  queue.append(entry);
  return entry;
}

function consumer(id: number, selection?: Selection): Consumer {
  return { id, browse: false, browsePosition: 0, ...(selection ? { selection } : {}), canTake: () => true, take: () => {} };
}

/** Takes the next entry for `c` as dispatch does, or undefined. */
function take(queue: Queue, c: Consumer): QueueEntry | undefined {
  const entry = queue.peekAvailable(c);
  if (entry) queue.acquire(entry, c);
  return entry;
}

test('AMQP priorities map onto the levels as qpidd maps them', () => {
  const table = (levels: number) => Array.from({ length: 10 }, (_, p) => priorityLevel(p, levels));
  assert.deepEqual(table(10), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(table(2), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  assert.deepEqual(table(3), [0, 0, 0, 0, 1, 2, 2, 2, 2, 2]);
  assert.deepEqual(table(5), [0, 0, 0, 1, 2, 3, 4, 4, 4, 4]);
  assert.deepEqual(table(1), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});

test('a priority queue gives the highest level first, oldest first within a level, and a released entry takes its place again', () => {
  const queue = typedQueue({ kind: 'priority', levels: 10, shares: [] });
  const low1 = put(queue, 1);
  const high1 = put(queue, 9);
  const low2 = put(queue, 1);
  const high2 = put(queue, 9);
  const c = consumer(1);
  assert.equal(take(queue, c), high1);
  assert.equal(take(queue, c), high2);
  queue.release(high1, false);
  assert.equal(take(queue, c), high1);
  assert.equal(take(queue, c), low1);
  queue.remove(low1);
  assert.equal(take(queue, c), low2);
  assert.equal(take(queue, c), undefined);
});

test('fairshare lets a level take N in a row, then the next lower level has its turn', () => {
  const queue = typedQueue({ kind: 'priority', levels: 3, shares: [2, 2, 2] });
  for (let i = 0; i < 4; i++) put(queue, 2);
  for (let i = 0; i < 4; i++) put(queue, 1);
  const c = consumer(1);
  const levels: (string | number | undefined)[] = [];
  for (let i = 0; i < 8; i++) {
    const entry = take(queue, c) as QueueEntry;
    levels.push(entry.typeKey);
    queue.remove(entry);
  }
  assert.deepEqual(levels, [2, 2, 1, 1, 2, 2, 1, 1]);
});

test('per-level fairshare: a level with no limit keeps the turn, one with a limit passes it down', () => {
  const queue = typedQueue({ kind: 'priority', levels: 3, shares: [0, 0, 1] });
  for (let i = 0; i < 3; i++) put(queue, 2);
  for (let i = 0; i < 3; i++) put(queue, 1);
  const c = consumer(1);
  const levels: (string | number | undefined)[] = [];
  for (let i = 0; i < 6; i++) {
    const entry = take(queue, c) as QueueEntry;
    levels.push(entry.typeKey);
    queue.remove(entry);
  }
  // Level 2 has one turn, then level 1 (no limit) keeps it until it is empty.
  assert.deepEqual(levels, [2, 1, 1, 1, 2, 2]);
});

test('a last-value queue names the available entry a new message replaces, never one a consumer holds', () => {
  const queue = typedQueue({ kind: 'last-value', key: 'symbol' });
  const ibm = put(queue, 'IBM');
  put(queue, 'RHT');
  assert.equal(queue.strategy.replacedBy('IBM'), ibm);
  assert.equal(queue.strategy.replacedBy('MSFT'), undefined);
  queue.remove(ibm);
  const ibm2 = put(queue, 'IBM');
  assert.equal(queue.strategy.replacedBy('IBM'), ibm2);
  // Held by a consumer: the new message goes beside it and holds the key.
  const c = consumer(1);
  assert.equal(take(queue, c)?.typeKey, 'RHT');
  assert.equal(queue.strategy.replacedBy('RHT'), undefined);
  const rht2 = put(queue, 'RHT');
  assert.equal(queue.strategy.replacedBy('RHT'), rht2);
  // Order is plain queue order.
  assert.equal(take(queue, c), ibm2);
});

test('a message group sticks to one consumer until it holds none of it, then goes to whoever asks', () => {
  const queue = typedQueue({ kind: 'group', header: 'g' });
  const a1 = put(queue, 'A');
  const b1 = put(queue, 'B');
  const a2 = put(queue, 'A');
  const b2 = put(queue, 'B');
  const c1 = consumer(1);
  const c2 = consumer(2);
  assert.equal(take(queue, c1), a1);
  // c2 may not have A's next message: it gets group B.
  assert.equal(take(queue, c2), b1);
  assert.equal(take(queue, c2), b2);
  assert.equal(take(queue, c2), undefined, 'group A is owned by c1');
  assert.equal(take(queue, c1), a2);
  const order = queue.strategy as GroupOrder;
  assert.equal(order.ownerOf('A'), c1);
  // Settling one of two leaves the group owned; settling both frees it.
  queue.remove(a1);
  assert.equal(order.ownerOf('A'), c1);
  queue.remove(a2);
  assert.equal(order.ownerOf('A'), null);
  // A release frees it too, and the released message is the group's oldest again.
  const a3 = put(queue, 'A');
  const a4 = put(queue, 'A');
  assert.equal(take(queue, c1), a3);
  queue.release(a3, true);
  assert.equal(order.ownerOf('A'), null);
  assert.equal(take(queue, c2), a3);
  assert.equal(take(queue, c2), a4);
  assert.equal(take(queue, c1), undefined);
});

test('a free group whose oldest message left goes by its new oldest, behind an older free group', () => {
  const queue = typedQueue({ kind: 'group', header: 'g' });
  const x1 = put(queue, 'X');
  const y1 = put(queue, 'Y');
  put(queue, 'X');
  queue.remove(x1); // expired or purged while X was free
  assert.equal(take(queue, consumer(1)), y1);
});

test('messages without the group header are one group, qpidd\'s default', () => {
  const queue = typedQueue({ kind: 'group', header: 'g' });
  put(queue, '');
  put(queue, '');
  const c1 = consumer(1);
  const c2 = consumer(2);
  assert.ok(take(queue, c1));
  assert.equal(take(queue, c2), undefined);
  assert.equal((queue.strategy as GroupOrder).ownerOf(DEFAULT_GROUP), c1);
});

test('a selective consumer passes over a group another consumer owns, and comes back to it when the group is freed', () => {
  const queue = typedQueue({ kind: 'group', header: 'g' });
  const owner = consumer(1);
  const selection = new Selection(() => true);
  const selective = consumer(2, selection);
  queue.addConsumer(owner);
  queue.addConsumer(selective);
  const a1 = put(queue, 'A');
  const a2 = put(queue, 'A');
  const b1 = put(queue, 'B');
  assert.equal(take(queue, owner), a1);
  const hooks: SelectionHooks = { expireIfDue: () => false, loadPage: () => {}, allows: (e) => queue.strategy.allows(e, selective) };
  const got = selection.next(queue, hooks);
  assert.equal(got, b1);
  queue.acquire(b1, selective);
  assert.equal(selection.next(queue, hooks), undefined);
  queue.remove(a1); // the owner settles: A is free
  assert.equal(selection.next(queue, hooks), a2);
});

test('a selective consumer on a priority queue gets the highest-priority entry it matches, and a released one again', () => {
  const queue = typedQueue({ kind: 'priority', levels: 10, shares: [] });
  const selection = new Selection((e) => e.message.id % 2 === 0);
  const selective = consumer(1, selection);
  queue.addConsumer(selective);
  const entries = [1, 9, 5, 9, 1, 5, 9, 1].map((level) => put(queue, level));
  const hooks: SelectionHooks = { expireIfDue: () => false, loadPage: () => {} };
  const matching = entries.filter((e) => e.message.id % 2 === 0);
  const expected = [...matching].sort((a, b) => (b.typeKey as number) - (a.typeKey as number) || a.position - b.position);
  const got: QueueEntry[] = [];
  for (;;) {
    const entry = selection.next(queue, hooks);
    if (!entry) break;
    queue.acquire(entry, selective);
    got.push(entry);
  }
  assert.deepEqual(got.map((e) => e.position), expected.map((e) => e.position));
  const [first] = got;
  queue.release(first as QueueEntry, false);
  assert.equal(selection.next(queue, hooks), first);
});

test('declare arguments: qpidd names and rules, and an error naming the argument', () => {
  assert.deepEqual(parseQueueType({}), { kind: 'fifo' });
  assert.deepEqual(parseQueueType({ 'qpid.last_value_queue_key': 'symbol' }), { kind: 'last-value', key: 'symbol' });
  assert.deepEqual(parseQueueType({ 'qpid.last_value_queue': 1 }), { kind: 'last-value', key: 'qpid.LVQ_key' });
  assert.deepEqual(parseQueueType({ 'qpid.priorities': '10' }), { kind: 'priority', levels: 10, shares: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0] });
  assert.deepEqual(parseQueueType({ 'qpid.priorities': 3, 'qpid.fairshare': 5 }), { kind: 'priority', levels: 3, shares: [5, 5, 5] });
  assert.deepEqual(parseQueueType({ 'x-qpid-priorities': 3, 'qpid.fairshare': 5, 'qpid.fairshare-2': 1 }), { kind: 'priority', levels: 3, shares: [5, 5, 1] });
  assert.deepEqual(parseQueueType({ 'qpid.group_header_key': 'user', 'qpid.shared_msg_group': 1 }), { kind: 'group', header: 'user' });
  const refused = (args: Record<string, string | number | boolean>, pattern: RegExp) =>
    assert.throws(() => parseQueueType(args), (err: unknown) => err instanceof BrokerError && err.code === 'INVALID_ARGUMENT' && pattern.test(err.message));
  refused({ 'qpid.priorities': 11 }, /qpid\.priorities=11: an integer from 1 to 10/);
  refused({ 'qpid.priorities': 0 }, /qpid\.priorities=0/);
  refused({ 'qpid.priorities': 'high' }, /qpid\.priorities="high"/);
  refused({ 'qpid.last_value_queue_key': '' }, /qpid\.last_value_queue_key="": a non-empty string/);
  refused({ 'qpid.last_value_queue_key': 'k', 'qpid.priorities': 2 }, /qpid\.last_value_queue_key and qpid\.priorities/);
  refused({ 'qpid.group_header_key': 'g', 'qpid.shared_msg_group': 1, 'qpid.priorities': 2 }, /qpid\.priorities and qpid\.group_header_key/);
  refused({ 'qpid.fairshare': 2 }, /qpid\.fairshare needs qpid\.priorities/);
  refused({ 'qpid.priorities': 3, 'qpid.fairshare-3': 2 }, /qpid\.fairshare-3=2: the level must be from 0 to 2/);
  refused({ 'qpid.fairshare-1': 2 }, /qpid\.fairshare-1=2: needs qpid\.priorities/);
  refused({ 'qpid.group_header_key': 'g' }, /needs qpid\.shared_msg_group=1/);
  refused({ 'qpid.shared_msg_group': 1 }, /qpid\.shared_msg_group needs qpid\.group_header_key/);
  refused({ 'qpid.group_header_key': 'g', 'qpid.shared_msg_group': 'maybe' }, /qpid\.shared_msg_group="maybe": a boolean/);
});

type Op = { kind: 'put'; key: number } | { kind: 'take'; consumer: number } | { kind: 'settle'; pick: number } | { kind: 'release'; pick: number } | { kind: 'detach'; consumer: number } | { kind: 'drop'; pick: number };
const ops = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('put' as const), key: fc.integer({ min: 0, max: 4 }) }),
    fc.record({ kind: fc.constant('take' as const), consumer: fc.integer({ min: 0, max: 2 }) }),
    fc.record({ kind: fc.constant('settle' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('detach' as const), consumer: fc.integer({ min: 0, max: 2 }) }),
    // An available entry leaves (expired, purged, replaced).
    fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }),
  ),
  { maxLength: 120 },
);

/** Runs the ops, checking each take against `expected` (a brute-force scan of the queue). */
function runModel(type: QueueType, keyOf: (k: number) => string | number, list: Op[], expected: (live: QueueEntry[], c: Consumer) => QueueEntry | undefined): void {
  const queue = typedQueue(type);
  const consumers = [consumer(0), consumer(1), consumer(2)];
  for (const op of list) {
    const held = [...queue.liveEntries()].filter((e) => e.state === 'acquired');
    if (op.kind === 'put') put(queue, keyOf(op.key));
    else if (op.kind === 'take') {
      const c = consumers[op.consumer] as Consumer;
      const want = expected([...queue.liveEntries()], c);
      assert.equal(take(queue, c)?.position, want?.position);
    } else if (op.kind === 'settle' && held.length > 0) queue.remove(held[op.pick % held.length] as QueueEntry);
    else if (op.kind === 'release' && held.length > 0) queue.release(held[op.pick % held.length] as QueueEntry, false);
    else if (op.kind === 'drop') {
      const available = [...queue.liveEntries()].filter((e) => e.state === 'available');
      if (available.length > 0) queue.remove(available[op.pick % available.length] as QueueEntry);
    } else if (op.kind === 'detach') for (const e of queue.entriesHeldBy(consumers[op.consumer] as Consumer)) queue.release(e, true);
  }
}

test('property: a priority queue always gives the oldest entry of the highest level with one available', () => {
  fc.assert(
    fc.property(ops, (list) => {
      runModel({ kind: 'priority', levels: 5, shares: [] }, (k) => k, list, (live) => {
        const available = live.filter((e) => e.state === 'available');
        const top = Math.max(-1, ...available.map((e) => e.typeKey as number));
        return available.find((e) => e.typeKey === top);
      });
    }),
    { numRuns: 300 },
  );
});

test('property: a grouped queue gives the oldest entry whose group is free or the consumer\'s own, and no group is ever held by two consumers', () => {
  fc.assert(
    fc.property(ops, (list) => {
      runModel({ kind: 'group', header: 'g' }, (k) => `g${k}`, list, (live, c) => {
        const holders = new Map<string | number | undefined, Consumer>();
        for (const e of live) if (e.state === 'acquired' && e.consumer) {
          const other = holders.get(e.typeKey);
          assert.ok(other === undefined || other === e.consumer, `group ${String(e.typeKey)} held by two consumers`);
          holders.set(e.typeKey, e.consumer);
        }
        return live.find((e) => e.state === 'available' && (holders.get(e.typeKey) ?? c) === c);
      });
    }),
    { numRuns: 300 },
  );
});
