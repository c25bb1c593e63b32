// Publishing: routing a message to its queues (through alternate exchanges), the queue limits,
// and the enqueue itself (journaled when a stored queue takes a persistent or replicated
// message). Dead-lettering is a publish of a new message to the alternate exchange.
//
// Settling producers is not done here: publish() says what must happen before the producer may
// be told `accepted` (an LSN to be durable and confirmed, or the message consumed), and the ack
// gate (src/ha/ack-gate.ts) decides when that has happened.

import { type CommitTicket, type EnqueueTarget, type StoreRecord } from '../../store/index.js';
import { BrokerError } from './errors.js';
import { Exchange } from './exchange.js';
import { allocateTransientId, type BrokerMessage } from './message.js';
import { Queue, type QueueEntry } from './queue.js';
import { admittedBy } from './selection.js';
import { type RoutingFields, type IncomingMessage, type PublishTarget, type SettlementHold, type PublishOutcome } from './types.js';
import type { BrokerState } from './state.js';
import { journal, releaseMessageRef } from './state.js';
import { bodyOf, dispatch, readable } from './consume.js';
import { removeEntry } from './expiry.js';
import { ensurePaged } from './paging.js';
import { typeKeyOf } from './strategies/index.js';
import type { MessageFields } from '../selector/message-fields.js';
import { duplicateHold, forgetIds, rememberIds, withoutDuplicates } from './dedup.js';

/** How publish() goes about it. `check`: route and check limits, but enqueue nothing (a
 * transactional transfer, answered provisionally: AMQP 1.0 §4.4.1). `unchecked`: enqueue without
 * the reject-policy limits (a transaction's commit, whose transfers were checked when they came:
 * refusing one now would break the transaction's all-or-nothing). */
export type PublishMode = 'enqueue' | 'check' | 'unchecked';

export function publish(broker: BrokerState, target: PublishTarget, incoming: IncomingMessage, mode: PublishMode = 'enqueue'): PublishOutcome {
  const size = incoming.body.length;
  if (size > broker.limits.maxMessageSizeBytes) {
    return { kind: 'rejected', error: new BrokerError('MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds --max-message-size ${broker.limits.maxMessageSizeBytes}`) };
  }
  let queues: Queue[];
  if (target.kind === 'queue') {
    const queue = broker.queueMap.get(target.queue);
    if (!queue) return { kind: 'rejected', error: new BrokerError('NOT_FOUND', `queue ${target.queue} does not exist`) };
    queues = [queue];
  } else {
    const exchange = broker.exchangeMap.get(target.exchange);
    if (!exchange) return { kind: 'rejected', error: new BrokerError('NOT_FOUND', `exchange ${target.exchange} does not exist`) };
    const routingKey = target.key ?? incoming.subject ?? '';
    // Only a headers exchange reads the application properties: they are decoded on demand.
    const routed = {
      routingKey,
      get applicationProperties() {
        return incoming.applicationProperties;
      },
    };
    queues = [...routeWithAlternate(broker, exchange, routed)];
    if (target.exchange === '' && queues.length === 0) {
      const queue = broker.queueMap.get(routingKey);
      if (queue) queues = [queue];
    }
    if (queues.length === 0) {
      if (mode !== 'check') exchange.unroutedCount++;
      if (target.unroutable === 'release') return { kind: 'released' };
      if (target.unroutable === 'reject') {
        return { kind: 'rejected', error: new BrokerError('UNROUTABLE', `no binding of exchange ${target.exchange || '(default)'} matches key "${routingKey}"`) };
      }
      return { kind: 'accepted', hold: { messageId: 0, ticket: null, lsn: null, needsDurable: false } };
    }
  }
  queues = admittedBy(queues, incoming, broker.selectorFields);
  if (queues.length === 0) return { kind: 'accepted', hold: { messageId: 0, ticket: null, lsn: null, needsDurable: false } };
  const routed = queues.length;
  queues = withoutDuplicates(broker, queues, incoming, mode !== 'check');
  if (queues.length === 0) return { kind: 'accepted', hold: mode === 'check' ? { messageId: 0, ticket: null, lsn: null, needsDurable: false } : duplicateHold(broker), duplicate: true };
  const duplicate = queues.length < routed;
  const full = mode === 'unchecked' ? null : checkLimits(broker, queues, size, (queue) => lastValueReplaced(broker, queue, incoming));
  if (full) return { kind: 'rejected', error: full };
  if (mode === 'check') return { kind: 'accepted', hold: { messageId: 0, ticket: null, lsn: null, needsDurable: false } };
  const hold = enqueue(broker, queues, incoming, 0);
  let flowStopped: string[] | undefined;
  for (const queue of queues) if (queue.flowStopped) (flowStopped ??= []).push(queue.name);
  const outcome: PublishOutcome = flowStopped ? { kind: 'accepted', hold, flowStopped } : { kind: 'accepted', hold };
  return duplicate ? { ...outcome, duplicate } : outcome;
}

/** Routes through the exchange, then its alternate exchange(s) when nothing matched. */
export function routeWithAlternate(broker: BrokerState, exchange: Exchange, message: { routingKey: string; applicationProperties: Readonly<Record<string, unknown>> | null }): Set<Queue> {
  let current: Exchange | undefined = exchange;
  const seen = new Set<string>();
  while (current && !seen.has(current.name)) {
    seen.add(current.name);
    const queues = current.route(message);
    if (queues.size > 0) return queues;
    const alternate: string | null = current.settings.alternateExchange;
    current = alternate === null ? undefined : broker.exchangeMap.get(alternate);
  }
  return new Set();
}

/** Reject-policy queues refuse a message that would take them over a limit (the whole
 * message is refused, as in Qpid); ring queues make room later, in enqueue(). `replaced` names
 * the entry the message would replace on a queue (last-value), which frees its place. */
export function checkLimits(broker: BrokerState, queues: readonly Queue[], size: number, replaced: (queue: Queue) => QueueEntry | undefined = () => undefined): BrokerError | null {
  for (const queue of queues) {
    const { maxCount, maxSizeBytes, policy } = queue.settings;
    if (policy !== 'reject') continue;
    if (maxCount === null && maxSizeBytes === null) continue;
    const freed = replaced(queue);
    if (maxCount !== null && queue.count + 1 - (freed ? 1 : 0) > maxCount) {
      return new BrokerError('QUEUE_FULL', `queue ${queue.name} is full: qpid.max_count=${maxCount} reached`);
    }
    if (maxSizeBytes !== null && queue.bytes + size - (freed?.message.size ?? 0) > maxSizeBytes) {
      return new BrokerError('QUEUE_FULL', `queue ${queue.name} is full: qpid.max_size=${maxSizeBytes} bytes would be exceeded`);
    }
  }
  return null;
}

/** Places a message on queues (already routed and checked), journals what must be stored,
 * and dispatches. */
export function enqueue(broker: BrokerState, queues: readonly Queue[], incoming: IncomingMessage, deliveryCount: number): SettlementHold {
  const records: StoreRecord[] = [];
  // Typed queues read the header and application properties, decoded once for all of them.
  let fields: MessageFields | null | undefined;
  const fieldsOf = (): MessageFields | null => (fields ??= broker.selectorFields?.(incoming.body, deliveryCount, incoming.expiresAtMs) ?? null);
  const typeKeys = queues.map((queue) => (queue.strategy.type.kind === 'fifo' ? undefined : typeKeyOf(queue.strategy.type, fieldsOf())));
  queues.forEach((queue, i) => {
    // A last-value queue's older message with this key goes, its dequeue committed with this
    // enqueue (one store commit: a crash leaves the old message or the new one, never both or
    // neither), and before a ring makes room (the replacement may be room enough). One a
    // consumer holds stays with it (strategies/last-value.ts).
    const replaced = queue.strategy.replacedBy(typeKeys[i]);
    if (replaced) removeEntry(broker, replaced, 'replaced', records);
  });
  for (const queue of queues) {
    if (queue.settings.policy === 'ring') makeRoomInRing(broker, queue, incoming.body.length, records);
  }
  const storedTargets: Queue[] = [];
  let needsDurable = false;
  let replicated = false;
  for (const queue of queues) {
    if (!broker.storedQueues.has(queue.name)) continue;
    const persistentHere = incoming.durable && queue.settings.durable;
    const replicatedHere = broker.replication.enabled && queue.settings.replicate === 'all';
    if (persistentHere || replicatedHere) {
      storedTargets.push(queue);
      if (persistentHere) needsDurable = true;
      if (replicatedHere) replicated = true;
    }
  }
  const message: BrokerMessage = {
    id: storedTargets.length > 0 ? broker.store.allocateMessageId() : allocateTransientId(),
    body: incoming.body,
    size: incoming.body.length,
    persistent: incoming.durable,
    expiresAtMs: incoming.expiresAtMs,
    subject: incoming.subject,
    get applicationProperties() {
      return incoming.applicationProperties;
    },
    stored: storedTargets.length > 0,
    refs: 0,
    enqueueLsn: null,
    storedTargets: storedTargets.length,
  };
  rememberIds(broker, queues, storedTargets, incoming, records);
  const targets: EnqueueTarget[] = [];
  const entries: QueueEntry[] = [];
  queues.forEach((queue, i) => {
    const stored = storedTargets.includes(queue);
    const typeKey = typeKeys[i];
    const entry: QueueEntry = {
      queue,
      position: queue.nextPosition(),
      message,
      deliveryCount,
      state: 'available',
      consumer: null,
      stored,
      ...(typeKey === undefined ? {} : { typeKey }),
    };
    if (stored) targets.push({ queue: queue.name, position: entry.position });
    message.refs++;
    queue.append(entry);
    entries.push(entry);
  });
  let ticket: CommitTicket | null = null;
  if (targets.length > 0) {
    records.push({
      kind: 'enqueue',
      messageId: message.id,
      persistent: message.persistent,
      expiresAtMs: message.expiresAtMs,
      body: incoming.body,
      targets,
    });
  }
  if (records.length > 0) {
    ticket = journal(broker, records);
    if (targets.length > 0) {
      message.enqueueLsn = ticket.lastLsn;
      ticket.onFailed((err) => {
        forgetIds(queues, incoming);
        enqueueFailed(broker, entries, err);
      });
    }
  }
  for (const queue of queues) dispatch(broker, queue);
  return {
    messageId: message.id,
    ticket,
    lsn: targets.length > 0 && ticket ? ticket.lastLsn : null,
    needsDurable,
    replicated,
  };
}

/** The entry a message would replace on a last-value queue (only such queues decode it here). */
function lastValueReplaced(broker: BrokerState, queue: Queue, incoming: IncomingMessage): QueueEntry | undefined {
  const type = queue.strategy.type;
  if (type.kind !== 'last-value') return undefined;
  return queue.strategy.replacedBy(typeKeyOf(type, broker.selectorFields?.(incoming.body, 0, incoming.expiresAtMs) ?? null));
}

/** The store refused the enqueue (full disk): what is still available is withdrawn so that
 * memory and store agree; what a consumer already holds stays, now as a transient entry. */
export function enqueueFailed(broker: BrokerState, entries: readonly QueueEntry[], err: unknown): void {
  broker.logger.error({ err, messageId: entries[0]?.message.id }, 'enqueue failed in the store; message withdrawn');
  const messageId = entries[0]?.message.id;
  if (messageId !== undefined) broker.events.messageFailed?.(messageId, err);
  for (const entry of entries) {
    (entry as { stored: boolean }).stored = false;
    if (entry.state === 'available') {
      entry.queue.remove(entry);
      releaseMessageRef(broker, entry.message);
    }
  }
}

export function makeRoomInRing(broker: BrokerState, queue: Queue, size: number, records: StoreRecord[]): void {
  const { maxCount, maxSizeBytes } = queue.settings;
  const over = (): boolean => (maxCount !== null && queue.count + 1 > maxCount) || (maxSizeBytes !== null && queue.bytes + size > maxSizeBytes);
  while (over()) {
    ensurePaged(broker, queue);
    const oldest = queue.availableEntries().next();
    if (oldest.done) break; // everything is held by consumers: accept above the limit
    removeEntry(broker, oldest.value, 'overflow', records);
  }
}

/** Routes a rejected or expired entry's message to its queue's alternate exchange, if any:
 * a new message (new id) on the dead-letter queues, journaled with the dequeue. */
export function deadLetter(broker: BrokerState, entry: QueueEntry, records: StoreRecord[]): void {
  const alternate = entry.queue.settings.alternateExchange;
  if (alternate === null) return;
  const exchange = broker.exchangeMap.get(alternate);
  if (!exchange) return;
  if (!readable(broker, entry)) return; // quarantined: nothing left to dead-letter
  const body = bodyOf(broker, entry);
  const fields = routingFieldsOf(broker, entry, body);
  const queues = [...routeWithAlternate(broker, exchange, { routingKey: fields.subject ?? '', applicationProperties: fields.applicationProperties })].filter((q) => q !== entry.queue);
  if (queues.length === 0) return;
  const incoming: IncomingMessage = { body, durable: entry.message.persistent, expiresAtMs: null, ...fields };
  if (checkLimits(broker, queues, body.length)) {
    broker.logger.warn({ queue: entry.queue.name, alternate }, 'dead-letter queue full; message dropped');
    return;
  }
  const hold = enqueue(broker, queues, incoming, entry.deliveryCount);
  void hold;
  broker.logger.debug({ queue: entry.queue.name, alternate, position: entry.position }, 'message dead-lettered');
}

/** What a message is routed by; read from its bytes when it was recovered from the store. */
export function routingFieldsOf(broker: BrokerState, entry: QueueEntry, body: Uint8Array): RoutingFields {
  const { subject, applicationProperties } = entry.message;
  if (subject !== null || applicationProperties !== null || !broker.routingFields) return { subject, applicationProperties };
  try {
    return broker.routingFields(body);
  } catch (err) {
    broker.logger.warn({ err, queue: entry.queue.name, position: entry.position }, 'stored message does not decode; dead-lettered with an empty key');
    return { subject: null, applicationProperties: null };
  }
}
