// The per-queue figures of issue 18 on a Queue alone: unreplicated messages and bytes are those
// journaled above the gate's confirmed floor (a scan back from the newest entry that stops at
// the first confirmed or recovered one), removed entries never count, and the enqueue/dequeue
// totals and rates follow appends and removals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BrokerMessage } from '../../src/broker/message.js';
import { Queue, type QueueEntry } from '../../src/broker/queue.js';
import { QueueRates } from '../../src/management/queue-figures.js';

function queue(): Queue {
  return new Queue({ name: 'q', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {}, maxCount: null, maxSizeBytes: null, policy: 'reject', replicate: 'all', filter: null, flow: null });
}

function append(q: Queue, enqueueLsn: number | null, size = 100): QueueEntry {
  const message: BrokerMessage = { id: q.highestPosition + 1, body: new Uint8Array(size), size, persistent: true, expiresAtMs: null, subject: null, applicationProperties: null, stored: true, enqueueLsn, storedTargets: 1, refs: 1 };
  const entry: QueueEntry = { queue: q, position: q.nextPosition(), message, deliveryCount: 0, state: 'available', consumer: null, stored: true };
  q.append(entry);
  return entry;
}

test('unreplicated: the entries above the floor, not the removed ones; a recovered entry ends the scan', () => {
  const q = queue();
  append(q, null); // recovered from the store: no LSN, not waiting for anyone
  for (let lsn = 10; lsn <= 19; lsn++) append(q, lsn);
  assert.deepEqual(q.unreplicatedAbove(14), { messages: 5, bytes: 500, atLeast: false });
  assert.deepEqual(q.unreplicatedAbove(19), { messages: 0, bytes: 0, atLeast: false });
  assert.deepEqual(q.unreplicatedAbove(0), { messages: 10, bytes: 1000, atLeast: false }, 'the recovered entry is not counted');
  const consumed = q.entryAt(q.highestPosition) as QueueEntry;
  q.remove(consumed);
  assert.deepEqual(q.unreplicatedAbove(14), { messages: 4, bytes: 400, atLeast: false }, 'a consumed message is no longer at risk');
  assert.deepEqual(q.unreplicatedAbove(14, 2), { messages: 1, bytes: 100, atLeast: true }, 'a bounded scan says it stopped');
});

test('enqueue and dequeue totals, and rates between samples at least a second apart', () => {
  const q = queue();
  const rates = new QueueRates();
  assert.deepEqual(rates.rateOf(q, 0), { enqueueRate: 0, dequeueRate: 0 });
  const entries = Array.from({ length: 30 }, (_, i) => append(q, i + 1));
  for (const e of entries.slice(0, 10)) q.remove(e);
  assert.deepEqual([q.enqueuedTotal, q.dequeuedTotal], [30, 10]);
  assert.deepEqual(rates.rateOf(q, 500), { enqueueRate: 0, dequeueRate: 0 }, 'under a second: the previous rate');
  assert.deepEqual(rates.rateOf(q, 2000), { enqueueRate: 15, dequeueRate: 5 });
  assert.deepEqual(rates.rateOf(q, 2500), { enqueueRate: 15, dequeueRate: 5 });
  assert.deepEqual(rates.rateOf(q, 4000), { enqueueRate: 0, dequeueRate: 0 }, 'nothing moved since');
});
