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
const windows = new WeakMap<Queue, { readonly window: DedupWindow; dropped: number }>();

function stateOf(broker: BrokerState, queue: Queue): { readonly window: DedupWindow; dropped: number } | null {
  const capacity = queue.settings.dedupWindow ?? null;
  if (capacity === null) return null;
  let state = windows.get(queue);
  if (!state) {
    const window = broker.storedQueues.has(queue.name) ? DedupWindow.restore(capacity, broker.store.readDedup(queue.name)) : new DedupWindow(capacity);
    state = { window, dropped: 0 };
    windows.set(queue, state);
  }
  return state;
}

function windowOf(broker: BrokerState, queue: Queue): DedupWindow | null {
  return stateOf(broker, queue)?.window ?? null;
}

/** The queues among `queues` that do not already hold the message's id. `count`: the message is
 * really being published (not only checked, as a transactional transfer is when it arrives). */
export function withoutDuplicates(broker: BrokerState, queues: Queue[], incoming: IncomingMessage, count: boolean): Queue[] {
  if (queues.every((q) => (q.settings.dedupWindow ?? null) === null)) return queues;
  const key = incoming.dedupKey ?? null;
  if (key === null) return queues;
  const fresh: Queue[] = [];
  for (const queue of queues) {
    const state = stateOf(broker, queue);
    if (!state?.window.has(key)) {
      fresh.push(queue);
      continue;
    }
    if (!count) continue;
    state.dropped++;
    broker.logger.debug({ queue: queue.name }, 'duplicate message-id dropped');
  }
  return fresh;
}

/** Messages a queue did not take again because its window held their message-id, since the
 * broker started (management's queue listing). */
export function duplicatesDropped(queue: Queue): number {
  return windows.get(queue)?.dropped ?? 0;
}

/** Remembers the message's id in each queue's window; a dedup record for each queue that stores
 * the message goes into `records`, ahead of the enqueue (whose LSN stays the commit's last). */
export function rememberIds(broker: BrokerState, queues: readonly Queue[], storedTargets: readonly Queue[], incoming: IncomingMessage, records: StoreRecord[]): void {
  // The key is made only for a queue that keeps a window: the hot path of every other queue
  // never decodes a message-id.
  if (queues.every((q) => (q.settings.dedupWindow ?? null) === null)) return;
  const key = incoming.dedupKey ?? null;
  if (key === null) return;
  for (const queue of queues) {
    const window = windowOf(broker, queue);
    if (!window) continue;
    const { slot, seq } = window.remember(key);
    if (storedTargets.includes(queue)) records.push({ kind: 'dedup', queue: queue.name, slot, seq, id: key });
  }
}

/** The enqueue that remembered the message's id failed in the store (full disk): the message
 * was never stored, and its dedup records failed with it, so its id leaves the windows too, or a
 * retry of it would be accepted and dropped. */
export function forgetIds(queues: readonly Queue[], incoming: IncomingMessage): void {
  if (queues.every((q) => (q.settings.dedupWindow ?? null) === null)) return;
  const key = incoming.dedupKey ?? null;
  if (key === null) return;
  for (const queue of queues) windows.get(queue)?.window.forget(key);
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
