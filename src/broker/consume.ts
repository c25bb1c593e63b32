// Consuming: subscriptions, dispatch of available entries to consumers (round robin, with
// selectors and browsing), a consumer's settlement (AMQP 1.0 §3.4 outcomes), and reading stored
// bodies, which quarantines any that cannot be read unaltered (issue 16).

import { isStoreError, StoreError, type LostMessage, type StoreRecord } from '../../store/index.js';
import { BrokerError } from './errors.js';
import { Queue, type Consumer, type QueueEntry } from './queue.js';
import { nextBrowsed, type SelectionHooks } from './selection.js';
import { type ConsumerOutcome } from './types.js';
import type { BrokerState } from './state.js';
import { journal, releaseMessageRef } from './state.js';
import { checkExclusiveAccess, deleteQueue } from './catalog.js';
import { deadLetter } from './publish.js';
import { expireIfDue, removeAndJournal, removeEntry } from './expiry.js';
import { PAGE_LOW_WATER, loadPage } from './paging.js';

export function subscribe(broker: BrokerState, queueName: string, consumer: Consumer, owner: string | null): Queue {
  const queue = broker.queueMap.get(queueName);
  if (!queue) throw new BrokerError('NOT_FOUND', `queue ${queueName} does not exist`);
  checkExclusiveAccess(broker, queue, owner);
  queue.addConsumer(consumer);
  dispatch(broker, queue);
  return queue;
}

/** A consumer went away: what it held goes back to the queue, counted as a delivery attempt
 * (it may have been processed). An auto-delete queue goes with its last consumer. */
export function unsubscribe(broker: BrokerState, queue: Queue, consumer: Consumer): void {
  queue.removeConsumer(consumer);
  if (queue.deleted) return;
  for (const entry of queue.entriesHeldBy(consumer)) queue.release(entry, true);
  if (queue.settings.autoDelete && queue.consumers.length === 0 && queue.hadConsumer) {
    deleteQueue(broker, queue.name);
    return;
  }
  dispatch(broker, queue);
}

/** A consumer's settlement of an entry it was given. */
export function settle(broker: BrokerState, entry: QueueEntry, outcome: ConsumerOutcome): void {
  if (entry.state !== 'acquired') return; // the queue was deleted or purged meanwhile
  const queue = entry.queue;
  switch (outcome.kind) {
    case 'accepted':
      removeAndJournal(broker, entry, 'consumed');
      break;
    case 'released':
      // "Released": the message was not processed, and it is not an attempt at delivery
      // (AMQP 1.0 §3.4.4); only modified{delivery-failed} counts (§3.4.5).
      queue.release(entry, false);
      break;
    case 'modified':
      if (!outcome.undeliverableHere) {
        queue.release(entry, outcome.deliveryFailed);
        break;
      }
      // undeliverable-here: "should not be redelivered to the same link" (AMQP 1.0 §3.4.5).
      // Queue entries do not remember which links refused them, and a queue's only consumer
      // would get it straight back; so it is handled as rejected (dead-lettered if the queue
      // has an alternate exchange), which also keeps a poison message from looping.
      rejectEntry(broker, entry);
      break;
    case 'rejected':
      rejectEntry(broker, entry);
      break;
  }
  if (!queue.deleted) dispatch(broker, queue);
}

/** A consumer refused an acquired entry: dead-letter it (if the queue has an alternate
 * exchange) and take it off the queue, in one commit. */
export function rejectEntry(broker: BrokerState, entry: QueueEntry): void {
  const records: StoreRecord[] = [];
  deadLetter(broker, entry, records);
  removeEntry(broker, entry, 'rejected', records);
  if (records.length > 0) journal(broker, records);
}

/** The encoded bytes of an entry's message, read from the store if not in memory. Only for
 * entries dispatch has checked (readable): the body it read is handed over, not read again. */
export function bodyOf(broker: BrokerState, entry: QueueEntry): Uint8Array {
  const inMemory = entry.message.body;
  if (inMemory) return inMemory;
  const checked = broker.checkedBody;
  if (checked?.entry === entry) {
    broker.checkedBody = null;
    return checked.body;
  }
  const stored = readStored(broker, entry);
  if (typeof stored === 'string') throw new StoreError('STORE_CORRUPT', stored);
  return stored;
}

/** The stored body, or why it cannot be delivered (it fails its checksum, or is missing). */
export function readStored(broker: BrokerState, entry: QueueEntry): Uint8Array | string {
  try {
    return broker.store.readMessage(entry.message.id) ?? `message ${entry.message.id} is missing from the store`;
  } catch (err) {
    if (isStoreError(err, 'STORE_CORRUPT')) return err.message;
    throw err;
  }
}

/** Whether an entry can be delivered as it was stored. One that cannot is quarantined here,
 * never delivered altered (issue 16). */
export function readable(broker: BrokerState, entry: QueueEntry): boolean {
  if (entry.message.body) return true;
  const stored = readStored(broker, entry);
  if (typeof stored !== 'string') {
    broker.checkedBody = { entry, body: stored };
    return true;
  }
  quarantine(broker, entry.queue, entry.position, entry.message.id, stored, entry);
  return false;
}

/** Moves a stored entry to its queue's quarantine (a dequeue with cause 'quarantined': the
 * store keeps the row as found) and reports the loss. */
export function quarantine(broker: BrokerState, queue: Queue, position: number, messageId: number, reason: string, entry?: QueueEntry): void {
  if (entry) {
    queue.remove(entry);
    releaseMessageRef(broker, entry.message);
  }
  journal(broker, [{ kind: 'dequeue', queue: queue.name, position, messageId, cause: 'quarantined' }]);
  const lost: LostMessage = { queue: queue.name, position, messageId, reason };
  broker.quarantinedCount++;
  queue.quarantinedTotal++;
  broker.logger.error(lost, 'message quarantined: it could not be read unaltered, and is lost');
  broker.events.messageLost?.(lost);
}

/** Offers available entries to consumers with capacity, round robin. Re-entrant calls (a
 * consumer settling synchronously from take()) are folded into the running loop. */
export function dispatch(broker: BrokerState, queue: Queue): void {
  if (queue.consumers.length === 0 || queue.deleted) return;
  if (broker.dispatching) {
    broker.pendingDispatch.add(queue);
    return;
  }
  broker.dispatching = true;
  try {
    dispatchLoop(broker, queue);
    while (broker.pendingDispatch.size > 0) {
      const [next] = broker.pendingDispatch;
      broker.pendingDispatch.delete(next as Queue);
      dispatchLoop(broker, next as Queue);
    }
  } finally {
    broker.dispatching = false;
  }
}

export function dispatchLoop(broker: BrokerState, queue: Queue): void {
  const now = broker.clock.nowMs();
  for (;;) {
    if (queue.deleted) return;
    let delivered = false;
    for (const consumer of queue.consumersInTurn()) {
      if (!consumer.canTake()) continue;
      if (consumer.browse) {
        const entry = nextBrowsed(queue, consumer, () => loadPage(broker, queue));
        if (!entry) continue;
        // A body that fails its checksum is quarantined, never shown (issue 16).
        if (!readable(broker, entry)) {
          delivered = true;
          continue;
        }
        consumer.take(entry);
        delivered = true;
        continue;
      }
      const entry = consumer.selection ? consumer.selection.next(queue, selectionHooks(broker, queue, now, consumer)) : nextDeliverable(broker, queue, now, consumer);
      // Entries a selective consumer does not match may suit others, and so may a message group
      // this consumer may not take; otherwise nothing is available for anyone.
      if (!entry && (consumer.selection || queue.strategy.perConsumer)) continue;
      if (!entry) return;
      if (!readable(broker, entry)) {
        delivered = true; // quarantined: look again, for this consumer too
        continue;
      }
      queue.acquire(entry, consumer);
      consumer.take(entry);
      delivered = true;
    }
    if (!delivered) return;
  }
}

export function selectionHooks(broker: BrokerState, queue: Queue, nowMs: number, consumer: Consumer): SelectionHooks {
  return {
    allows: (entry) => queue.strategy.allows(entry, consumer),
    expireIfDue: (entry) => {
      const records: StoreRecord[] = [];
      const expired = expireIfDue(broker, entry, nowMs, records);
      if (records.length > 0) journal(broker, records);
      return expired;
    },
    loadPage: () => loadPage(broker, queue),
  };
}

/** The next available entry for `consumer` in the order of the queue's type, expiring (and
 * dead-lettering) the ones past their time. */
export function nextDeliverable(broker: BrokerState, queue: Queue, nowMs: number, consumer: Consumer | null = null): QueueEntry | undefined {
  const records: StoreRecord[] = [];
  try {
    for (;;) {
      // Entries still paged out are older than every entry in memory past the loaded part of
      // the paged region: load them first, or messages enqueued since a restart would be
      // delivered ahead of the recovered backlog (not only when memory runs low).
      const cursor = queue.pageCursor();
      if (cursor !== null && (queue.availableInMemory < PAGE_LOW_WATER || (queue.peekAvailable(consumer)?.position ?? Infinity) > cursor.afterPosition)) loadPage(broker, queue);
      const entry = queue.peekAvailable(consumer);
      if (!entry) return undefined;
      if (expireIfDue(broker, entry, nowMs, records)) continue;
      return entry;
    }
  } finally {
    if (records.length > 0) journal(broker, records);
  }
}
