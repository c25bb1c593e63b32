// Paging: queue entries recovered from the store stay there and are loaded a page at a time as
// consumers need them; messages shared by several queues map to one object while any holds it.

import { type QueueEntry as StoredQueueEntry } from '../../store/index.js';
import { type BrokerMessage } from './message.js';
import { Queue, type QueueEntry } from './queue.js';
import type { BrokerState } from './state.js';
import { journal } from './state.js';
import { quarantine, readStored } from './consume.js';
import { typeKeyOf } from './strategies/index.js';

export const PAGE_SIZE = 1000;
/** Load the next page when fewer than this many entries are available in memory. */
export const PAGE_LOW_WATER = 256;

export function loadPage(broker: BrokerState, queue: Queue): void {
  const cursor = queue.pageCursor();
  if (!cursor) return;
  const stored = broker.store.readQueue(queue.name, cursor.afterPosition, PAGE_SIZE).filter((e) => e.position <= cursor.lastPosition);
  const loaded: QueueEntry[] = [];
  const dropTransient: StoredQueueEntry[] = [];
  const damaged: StoredQueueEntry[] = [];
  for (const s of stored) {
    if (s.damaged !== undefined) {
      damaged.push(s);
      continue;
    }
    if (broker.recoveryMode === 'local' && !s.persistent) {
      dropTransient.push(s);
      continue;
    }
    const entry: QueueEntry = {
      queue,
      position: s.position,
      message: recoveredMessage(broker, s),
      // Recovered messages may have been delivered before the restart: say so (DESIGN.md §5).
      deliveryCount: 1,
      state: 'available',
      consumer: null,
      stored: true,
    };
    loaded.push(queue.strategy.type.kind === 'fifo' ? entry : { ...entry, typeKey: recoveredTypeKey(broker, queue, entry) });
  }
  // Transient messages do not survive a local restart; they were journaled only so that
  // replication had one ordered stream. They leave the paged region and the store here.
  queue.loadPage(loaded, [...dropTransient, ...damaged]);
  // An index entry that fails its checksum names no message we can trust: the position goes
  // to the quarantine as it is.
  for (const s of damaged) quarantine(broker, queue, s.position, 0, `queue ${queue.name} position ${s.position}: ${s.damaged}`);
  if (dropTransient.length > 0) {
    journal(broker, dropTransient.map((s) => ({ kind: 'dequeue', queue: s.queue, position: s.position, messageId: s.messageId, cause: 'deleted' as const })));
  }
}

/** A recovered entry's type key, read from its stored body (which is not kept). A body that
 * cannot be read gives the defaults; it is quarantined when a consumer reaches it. */
function recoveredTypeKey(broker: BrokerState, queue: Queue, entry: QueueEntry): string | number | undefined {
  const type = queue.strategy.type;
  const body = entry.message.body ?? readStored(broker, entry);
  const fields = typeof body === 'string' ? null : (broker.selectorFields?.(body, entry.deliveryCount, entry.message.expiresAtMs) ?? null);
  return typeKeyOf(type, fields);
}

export function recoveredMessage(broker: BrokerState, stored: StoredQueueEntry): BrokerMessage {
  let message = broker.recoveredMessages.get(stored.messageId)?.deref();
  if (!message) {
    message = {
      id: stored.messageId,
      body: undefined,
      size: stored.size,
      persistent: stored.persistent,
      expiresAtMs: stored.expiresAtMs,
      subject: null,
      applicationProperties: null,
      stored: true,
      refs: 0,
      enqueueLsn: null,
      storedTargets: 0,
    };
    broker.recoveredMessages.set(stored.messageId, new WeakRef(message));
  }
  message.refs++;
  return message;
}

/** Loads every paged entry of a queue (before a purge or ring overflow needs the oldest). */
export function ensurePaged(broker: BrokerState, queue: Queue): void {
  while (queue.pageCursor() !== null) loadPage(broker, queue);
}
