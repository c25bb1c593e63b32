// Duplicate detection on publish (qpid.dedup_window, issue 12): a queue with a window accepts a
// message whose message-id it already holds without enqueuing it again. The window itself is
// dedup-window.ts (pure); this file keeps one per queue, journals what it remembers, and says
// what a duplicate's producer must wait for.
//
// Durability: an id is journaled (a dedup record, in the same commit as its enqueue) exactly
// when the message is stored on that queue, so the window the store keeps after a kill -9 or on
// a promoted backup holds the ids of every message that survived, including consumed ones; a
// transient message's id is remembered in memory only, as the message itself is.

import type { StoreRecord } from '../../store/index.js';
import { DedupWindow } from './dedup-window.js';
import type { Queue } from './queue.js';
import type { BrokerState } from './state.js';
import type { IncomingMessage, SettlementHold } from './types.js';

/** Each queue's window, made at its first message: for a stored queue, from the rows its store
 * kept (after a restart or a promotion), so recovery needs no step of its own. Keyed by the
 * queue object, so a deleted queue's window goes with it. */
const windows = new WeakMap<Queue, DedupWindow>();

function windowOf(broker: BrokerState, queue: Queue): DedupWindow | null {
  const capacity = queue.settings.dedupWindow ?? null;
  if (capacity === null) return null;
  let window = windows.get(queue);
  if (!window) {
    window = broker.storedQueues.has(queue.name) ? DedupWindow.restore(capacity, broker.store.readDedup(queue.name)) : new DedupWindow(capacity);
    windows.set(queue, window);
  }
  return window;
}

/** The queues among `queues` that do not already hold the message's id. */
export function withoutDuplicates(broker: BrokerState, queues: Queue[], incoming: IncomingMessage): Queue[] {
  if (queues.every((q) => (q.settings.dedupWindow ?? null) === null)) return queues;
  const key = incoming.dedupKey ?? null;
  if (key === null) return queues;
  const fresh = queues.filter((q) => !windowOf(broker, q)?.has(key));
  if (fresh.length < queues.length) broker.logger.debug({ queues: queues.filter((q) => !fresh.includes(q)).map((q) => q.name) }, 'duplicate message-id dropped');
  return fresh;
}

/** Remembers the message's id in each queue's window; a dedup record for each queue that stores
 * the message goes into `records`, ahead of the enqueue (whose LSN stays the commit's last). */
export function rememberIds(broker: BrokerState, queues: readonly Queue[], storedTargets: readonly Queue[], incoming: IncomingMessage, records: StoreRecord[]): void {
  const key = incoming.dedupKey ?? null;
  if (key === null) return;
  for (const queue of queues) {
    const window = windowOf(broker, queue);
    if (!window) continue;
    const { slot, seq } = window.remember(key);
    if (storedTargets.includes(queue)) records.push({ kind: 'dedup', queue: queue.name, slot, seq, id: key });
  }
}

/** What a duplicate's producer waits for: everything journaled so far durable here and confirmed
 * by every backup in the gate. The original's enqueue is among it (it is in the window, so it
 * was journaled), and the ack gate settles in LSN order, so the resend is never settled before
 * the message it repeats would be. */
export function duplicateHold(broker: BrokerState): SettlementHold {
  const lsn = broker.store.nextLsnToAssign() - 1;
  return { messageId: 0, ticket: null, lsn: lsn > 0 ? lsn : null, needsDurable: lsn > 0, replicated: true };
}

/** The ids a queue's window holds, oldest first (management and tests). */
export function dedupIds(broker: BrokerState, queue: Queue): string[] {
  return windowOf(broker, queue)?.ids() ?? [];
}
