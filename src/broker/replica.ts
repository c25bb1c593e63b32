// Replica queues (reference §1.13): a backup's copies of an original queue's messages, cleared,
// filled and emptied as the original's replication stream says.

import { type EnqueueRecord, type StoreRecord } from '../../store/index.js';
import { type IncomingMessage } from './types.js';
import type { BrokerState } from './state.js';
import { journal } from './state.js';
import { checkLimits, enqueue } from './publish.js';
import { removeAndJournal, removeEntry } from './expiry.js';
import { ensurePaged } from './paging.js';

/** Empties a replica queue before it is refilled from its original's snapshot; returns how
 * many messages it removed. */
export function replicaClear(broker: BrokerState, queueName: string): number {
  const queue = broker.queueMap.get(queueName);
  if (!queue) return 0;
  const records: StoreRecord[] = [];
  const removed = queue.count;
  ensurePaged(broker, queue);
  for (const entry of [...queue.liveEntries()]) removeEntry(broker, entry, 'purged', records);
  if (records.length > 0) journal(broker, records);
  return removed;
}

/** Places a message copied from an original queue (reference §1.13) on the replica queue;
 * returns its local position, or null if the queue is gone or full. */
export function replicaEnqueue(broker: BrokerState, queueName: string, record: EnqueueRecord): number | null {
  const queue = broker.queueMap.get(queueName);
  if (!queue) return null;
  const incoming: IncomingMessage = { body: record.body, durable: record.persistent, expiresAtMs: record.expiresAtMs, subject: null, applicationProperties: null };
  if (queue.settings.policy === 'reject' && checkLimits(broker, [queue], record.body.length)) {
    broker.logger.warn({ queue: queueName }, 'replica queue full; message not copied');
    return null;
  }
  enqueue(broker, [queue], incoming, 0);
  return queue.highestPosition;
}

/** Removes the replica's copy of a message its original dequeued. */
export function replicaDequeue(broker: BrokerState, queueName: string, position: number): void {
  const queue = broker.queueMap.get(queueName);
  if (!queue) return;
  ensurePaged(broker, queue);
  const entry = queue.entryAt(position);
  if (!entry || entry.state === 'removed') return;
  removeAndJournal(broker, entry, 'consumed');
}
