// The bound on selective consumers (src/broker/selection.ts), on the pure queue: each entry is
// evaluated at most once per consumer as its cursor passes, however many deliveries there are;
// an entry that comes back to the queue (released) is looked at again, oldest first; one held
// by another consumer is not skipped for good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BrokerMessage } from '../../src/broker/message.js';
import { Queue, type Consumer, type QueueEntry } from '../../src/broker/queue.js';
import { Selection, type SelectionHooks } from '../../src/broker/selection.js';

function queueOf(depth: number): Queue {
  const queue = new Queue({ name: 'q', durable: false, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {}, maxCount: null, maxSizeBytes: null, policy: 'reject', replicate: 'none', filter: null, flow: null });
  for (let i = 0; i < depth; i++) {
    const message: BrokerMessage = { id: -(i + 1), body: new Uint8Array(0), size: 0, persistent: false, expiresAtMs: null, subject: null, applicationProperties: null, stored: false, enqueueLsn: null, storedTargets: 0, refs: 1 };
    queue.append({ queue, position: queue.nextPosition(), message, deliveryCount: 0, state: 'available', consumer: null, stored: false });
  }
  return queue;
}

const NO_EXPIRY_NO_PAGING: SelectionHooks = { expireIfDue: () => false, loadPage: () => {} };

function selective(queue: Queue, matches: (entry: QueueEntry) => boolean): { consumer: Consumer; selection: Selection; evaluations: () => number } {
  let evaluations = 0;
  const selection = new Selection((entry) => {
    evaluations++;
    return matches(entry);
  });
  const consumer: Consumer = { id: Math.random(), browse: false, browsePosition: 0, selection, canTake: () => true, take: () => {} };
  queue.addConsumer(consumer);
  return { consumer, selection, evaluations: () => evaluations };
}

test('a selective consumer evaluates each entry once on its way through the queue', () => {
  const depth = 100_000;
  const queue = queueOf(depth);
  const { consumer, selection, evaluations } = selective(queue, (e) => e.position % 100 === 0);
  const taken: number[] = [];
  for (;;) {
    const entry = selection.next(queue, NO_EXPIRY_NO_PAGING);
    if (!entry) break;
    queue.acquire(entry, consumer);
    taken.push(entry.position);
  }
  assert.equal(taken.length, depth / 100);
  assert.deepEqual(taken.slice(0, 3), [100, 200, 300]);
  assert.equal(evaluations(), depth, 'every entry evaluated exactly once');
  // Asking again with nothing new costs no evaluation at all.
  for (let i = 0; i < 1000; i++) assert.equal(selection.next(queue, NO_EXPIRY_NO_PAGING), undefined);
  assert.equal(evaluations(), depth);
});

test('a released entry is looked at again, before newer ones; others are not re-evaluated', () => {
  const queue = queueOf(10);
  const { consumer, selection, evaluations } = selective(queue, () => true);
  const first = selection.next(queue, NO_EXPIRY_NO_PAGING) as QueueEntry;
  queue.acquire(first, consumer);
  const second = selection.next(queue, NO_EXPIRY_NO_PAGING) as QueueEntry;
  queue.acquire(second, consumer);
  assert.deepEqual([first.position, second.position], [1, 2]);
  queue.release(first, false);
  assert.equal(selection.next(queue, NO_EXPIRY_NO_PAGING)?.position, 1);
  assert.equal(evaluations(), 3);
});

test('an entry held by another consumer when the cursor passed is offered once it is released', () => {
  const queue = queueOf(3);
  const other: Consumer = { id: -1, browse: false, browsePosition: 0, canTake: () => true, take: () => {} };
  queue.addConsumer(other);
  const held = queue.entryAt(2) as QueueEntry;
  queue.acquire(held, other);
  const { consumer, selection } = selective(queue, (e) => e.position === 2);
  assert.equal(selection.next(queue, NO_EXPIRY_NO_PAGING), undefined);
  queue.release(held, true);
  const again = selection.next(queue, NO_EXPIRY_NO_PAGING);
  assert.equal(again?.position, 2);
  queue.acquire(again as QueueEntry, consumer);
});

test('entries it does not match stay available for a plain consumer, in order', () => {
  const queue = queueOf(6);
  const { consumer, selection } = selective(queue, (e) => e.position % 2 === 0);
  for (let entry = selection.next(queue, NO_EXPIRY_NO_PAGING); entry; entry = selection.next(queue, NO_EXPIRY_NO_PAGING)) queue.acquire(entry, consumer);
  assert.deepEqual([...queue.availableEntries()].map((e) => e.position), [1, 3, 5]);
  assert.equal(queue.peekAvailable()?.position, 1);
});
