// Taking entries off queues: expiry (dead-lettered past their time), purge, and the removal
// every dequeue shares, which journals a dequeue for a stored entry (or retracts an enqueue
// not yet written).

import { type CommitTicket, type DequeueCause, type StoreRecord } from '../../store/index.js';
import { BrokerError } from './errors.js';
import { type QueueEntry } from './queue.js';
import type { BrokerState } from './state.js';
import { journal, releaseMessageRef } from './state.js';
import { deadLetter } from './publish.js';
import { ensurePaged } from './paging.js';

/** Dead-letters and removes an entry past its time; true if it was. */
export function expireIfDue(broker: BrokerState, entry: QueueEntry, nowMs: number, records: StoreRecord[]): boolean {
  if (entry.message.expiresAtMs === null || entry.message.expiresAtMs > nowMs) return false;
  deadLetter(broker, entry, records);
  removeEntry(broker, entry, 'expired', records);
  return true;
}

/** Expires every available entry past its time on every queue (a periodic sweep, so that
 * queues without consumers free their space and dead-letter on time). */
export function expireAll(broker: BrokerState): number {
  const now = broker.clock.nowMs();
  let expired = 0;
  for (const queue of broker.queueMap.values()) {
    const records: StoreRecord[] = [];
    for (const entry of queue.expiredEntries(now)) {
      if (expireIfDue(broker, entry, now, records)) expired++;
    }
    if (records.length > 0) journal(broker, records);
  }
  return expired;
}

/** Removes every available entry (qpid-config purge). */
export function purge(broker: BrokerState, queueName: string): { purged: number; ticket: CommitTicket | null } {
  const queue = broker.queueMap.get(queueName);
  if (!queue) throw new BrokerError('NOT_FOUND', `queue ${queueName} does not exist`);
  const records: StoreRecord[] = [];
  let purged = 0;
  for (;;) {
    ensurePaged(broker, queue);
    const batch = [...queue.availableEntries()];
    if (batch.length === 0) break;
    for (const entry of batch) {
      removeEntry(broker, entry, 'purged', records);
      purged++;
    }
  }
  const ticket = records.length > 0 ? journal(broker, records) : null;
  return { purged, ticket };
}

export function removeAndJournal(broker: BrokerState, entry: QueueEntry, cause: DequeueCause): void {
  const records: StoreRecord[] = [];
  removeEntry(broker, entry, cause, records);
  if (records.length > 0) journal(broker, records);
}

/** Takes an entry off its queue; adds its dequeue record to `records` if it is stored. */
export function removeEntry(broker: BrokerState, entry: QueueEntry, cause: DequeueCause, records: StoreRecord[]): void {
  entry.queue.remove(entry);
  const message = entry.message;
  if (entry.stored && message.storedTargets === 1 && message.enqueueLsn !== null && broker.store.retract(message.enqueueLsn)) {
    // Consumed before its enqueue was written: the store drops the enqueue (keeping the
    // LSN), so there is nothing to dequeue. It never touches the disk.
    message.enqueueLsn = null;
  } else if (entry.stored) {
    records.push({ kind: 'dequeue', queue: entry.queue.name, position: entry.position, messageId: entry.message.id, cause });
  }
  releaseMessageRef(broker, entry.message);
}
