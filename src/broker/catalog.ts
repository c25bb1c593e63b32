// The catalog: queues, exchanges and bindings (declare, delete, bind, unbind), exclusive
// ownership, and recovery of the catalog from the store. A queue or exchange is "stored" when it
// is durable or replicated (DESIGN.md §2); only stored ones are journaled.

import { type Arguments, type CommitTicket, type StoreRecord } from '../../store/index.js';
import { NO_FLOW_DEFAULTS, parseExchangeArguments, parseQueueArguments } from './arguments.js';
import { BrokerError } from './errors.js';
import { Exchange, type Binding, type ExchangeSettings } from './exchange.js';
import { Queue, type QueueSettings } from './queue.js';
import { type QueueDeclare, type ExchangeDeclare, type ConfigChange, type RecoveryMode } from './types.js';
import type { BrokerState } from './state.js';
import { journal, releaseMessageRef } from './state.js';
import { deadLetter } from './publish.js';
import { ensurePaged } from './paging.js';
import { parseQueueType } from './strategies/arguments.js';

/** Rebuilds the in-memory catalog from the store: no log replay, no message bodies; queue
 * entries stay in the store and are paged in as consumers need them. */
export function recover(broker: BrokerState, mode: RecoveryMode): { queues: number; messages: number; dropped: string[] } {
  const drop: StoreRecord[] = [];
  const dropped: string[] = [];
  for (const declare of broker.store.exchanges()) {
    if (mode === 'local' && !declare.durable) {
      drop.push({ kind: 'exchange-delete', exchange: declare.exchange });
      dropped.push(`exchange ${declare.exchange}`);
      continue;
    }
    const settings = exchangeSettings(broker, {
      name: declare.exchange,
      type: declare.type,
      durable: declare.durable,
      autoDelete: declare.autoDelete,
      alternateExchange: declare.alternateExchange,
      arguments: declare.arguments,
    });
    broker.exchangeMap.set(declare.exchange, new Exchange(settings));
    broker.storedExchanges.add(declare.exchange);
  }
  let messages = 0;
  for (const state of broker.store.queues()) {
    const declare = state.declare;
    if (mode === 'local' && !declare.durable) {
      drop.push({ kind: 'queue-delete', queue: declare.queue });
      dropped.push(`queue ${declare.queue}`);
      continue;
    }
    const settings = queueSettings(broker, {
      name: declare.queue,
      durable: declare.durable,
      autoDelete: declare.autoDelete,
      exclusive: declare.exclusive,
      alternateExchange: declare.alternateExchange,
      arguments: declare.arguments,
    });
    const queue = watchFlow(broker, new Queue(settings, state.lastPosition));
    queue.setPaged(state.count, state.bytes, state.lastPosition);
    broker.queueMap.set(declare.queue, queue);
    broker.storedQueues.add(declare.queue);
    messages += state.count;
  }
  for (const binding of broker.store.bindings()) {
    const exchange = broker.exchangeMap.get(binding.exchange);
    const queue = broker.queueMap.get(binding.queue);
    if (!exchange || !queue) {
      // The other end was dropped above (non-durable); the store deletes the binding with it.
      continue;
    }
    exchange.bind({ exchange: binding.exchange, queue, key: binding.key, arguments: binding.arguments });
  }
  broker.recoveryMode = mode;
  // A typed queue's order (priority levels), replacement index (last-value keys) and groups are
  // rebuilt from every recovered entry, so it is loaded whole now: each body is read once for
  // its type key, and only the entries (no bodies) stay in memory.
  for (const queue of broker.queueMap.values()) if (queue.strategy.type.kind !== 'fifo') ensurePaged(broker, queue);
  if (drop.length > 0) journal(broker, drop);
  broker.logger.info({ mode, queues: broker.queueMap.size, messages, dropped: dropped.length }, 'broker state recovered from store');
  return { queues: broker.queueMap.size, messages, dropped };
}

/** Logs each flow transition once and tells the listeners. */
export function watchFlow(broker: BrokerState, queue: Queue): Queue {
  queue.onFlowChange = (q, stopped) => {
    const { flow } = q.settings;
    if (stopped) broker.logger.warn({ queue: q.name, count: q.count, bytes: q.bytes, stopCount: flow?.stopCount, stopBytes: flow?.stopBytes }, 'queue flow stopped: its producers get no credit');
    else broker.logger.info({ queue: q.name, count: q.count, bytes: q.bytes, resumeCount: flow?.resumeCount, resumeBytes: flow?.resumeBytes }, 'queue flow resumed');
    for (const listener of broker.flowListeners) listener(q, stopped);
  };
  return queue;
}

export function queueSettings(broker: BrokerState, declare: QueueDeclare): QueueSettings {
  const limits = parseQueueArguments(declare.arguments, broker.limits.defaultQueueLimitBytes, broker.limits.flow ?? NO_FLOW_DEFAULTS);
  return {
    name: declare.name,
    durable: declare.durable,
    autoDelete: declare.autoDelete,
    exclusive: declare.exclusive,
    alternateExchange: declare.alternateExchange,
    arguments: declare.arguments,
    maxCount: limits.maxCount,
    maxSizeBytes: limits.maxSizeBytes,
    policy: limits.policy,
    flow: limits.flow,
    replicate: limits.replicate ?? broker.replication.defaultLevel,
    filter: limits.filter,
    type: parseQueueType(declare.arguments),
    dedupWindow: limits.dedupWindow,
  };
}

export function exchangeSettings(broker: BrokerState, declare: ExchangeDeclare): ExchangeSettings {
  const parsed = parseExchangeArguments(declare.arguments);
  return {
    name: declare.name,
    type: declare.type,
    durable: declare.durable,
    autoDelete: declare.autoDelete,
    alternateExchange: declare.alternateExchange,
    arguments: declare.arguments,
    replicate: parsed.replicate ?? broker.replication.defaultLevel,
    builtIn: false,
  };
}

export function queueIsStored(broker: BrokerState, settings: QueueSettings): boolean {
  return settings.durable || (broker.replication.enabled && settings.replicate !== 'none');
}

export function exchangeIsStored(broker: BrokerState, settings: ExchangeSettings): boolean {
  return !settings.builtIn && (settings.durable || (broker.replication.enabled && settings.replicate !== 'none'));
}

/** Declares a queue, or checks an existing one. Re-declaring with different durability is a
 * precondition failure, as in Qpid; other differences are ignored (the first declare wins). */
export function declareQueue(broker: BrokerState, declare: QueueDeclare, owner: string | null): ConfigChange & { queue: Queue } {
  validateName(declare.name, 'queue');
  const existing = broker.queueMap.get(declare.name);
  if (existing) {
    if (existing.settings.durable !== declare.durable) {
      throw new BrokerError('PRECONDITION_FAILED', `queue ${declare.name} exists with durable=${existing.settings.durable}`);
    }
    checkExclusiveAccess(broker, existing, owner);
    return { changed: false, ticket: null, queue: existing };
  }
  if (declare.alternateExchange !== null && !broker.exchangeMap.has(declare.alternateExchange)) {
    throw new BrokerError('NOT_FOUND', `alternate exchange ${declare.alternateExchange} of queue ${declare.name} does not exist`);
  }
  const settings = queueSettings(broker, declare);
  const queue = watchFlow(broker, new Queue(settings));
  if (settings.exclusive) queue.owner = owner;
  broker.queueMap.set(declare.name, queue);
  let ticket: CommitTicket | null = null;
  if (queueIsStored(broker, settings)) {
    broker.storedQueues.add(declare.name);
    ticket = journal(broker, [
      {
        kind: 'queue-declare',
        queue: declare.name,
        durable: declare.durable,
        autoDelete: declare.autoDelete,
        exclusive: declare.exclusive,
        alternateExchange: declare.alternateExchange,
        arguments: declare.arguments,
      },
    ]);
    ticket.committed.catch((err: unknown) => undoDeclare(broker, 'queue', declare.name, err));
  }
  broker.logger.info({ queue: declare.name, durable: declare.durable, replicate: settings.replicate }, 'queue declared');
  return { changed: true, ticket, queue };
}

export function declareExchange(broker: BrokerState, declare: ExchangeDeclare): ConfigChange & { exchange: Exchange } {
  validateName(declare.name, 'exchange');
  const existing = broker.exchangeMap.get(declare.name);
  if (existing) {
    if (existing.settings.type !== declare.type) {
      throw new BrokerError('PRECONDITION_FAILED', `exchange ${declare.name} exists with type ${existing.settings.type}`);
    }
    return { changed: false, ticket: null, exchange: existing };
  }
  if (declare.name.startsWith('amq.') || declare.name.startsWith('qpid.')) {
    throw new BrokerError('NOT_ALLOWED', `exchange names starting with amq. or qpid. are reserved: ${declare.name}`);
  }
  if (declare.alternateExchange !== null && !broker.exchangeMap.has(declare.alternateExchange)) {
    throw new BrokerError('NOT_FOUND', `alternate exchange ${declare.alternateExchange} of exchange ${declare.name} does not exist`);
  }
  const settings = exchangeSettings(broker, declare);
  const exchange = new Exchange(settings);
  broker.exchangeMap.set(declare.name, exchange);
  let ticket: CommitTicket | null = null;
  if (exchangeIsStored(broker, settings)) {
    broker.storedExchanges.add(declare.name);
    ticket = journal(broker, [
      {
        kind: 'exchange-declare',
        exchange: declare.name,
        type: declare.type,
        durable: declare.durable,
        autoDelete: declare.autoDelete,
        alternateExchange: declare.alternateExchange,
        arguments: declare.arguments,
      },
    ]);
    ticket.committed.catch((err: unknown) => undoDeclare(broker, 'exchange', declare.name, err));
  }
  broker.logger.info({ exchange: declare.name, type: declare.type, durable: declare.durable }, 'exchange declared');
  return { changed: true, ticket, exchange };
}

export function undoDeclare(broker: BrokerState, kind: 'queue' | 'exchange', name: string, err: unknown): void {
  broker.logger.error({ err, [kind]: name }, 'declare failed in the store; undone in memory');
  if (kind === 'queue') {
    const queue = broker.queueMap.get(name);
    if (queue) dropQueueInMemory(broker, queue);
    broker.storedQueues.delete(name);
  } else {
    broker.exchangeMap.delete(name);
    broker.storedExchanges.delete(name);
  }
}

export function deleteQueue(broker: BrokerState, name: string, options: { ifEmpty?: boolean; ifUnused?: boolean } = {}): ConfigChange {
  const queue = broker.queueMap.get(name);
  if (!queue) throw new BrokerError('NOT_FOUND', `queue ${name} does not exist`);
  if (options.ifEmpty && queue.count > 0) throw new BrokerError('PRECONDITION_FAILED', `queue ${name} is not empty (${queue.count} messages)`);
  if (options.ifUnused && queue.consumers.length > 0) throw new BrokerError('PRECONDITION_FAILED', `queue ${name} has ${queue.consumers.length} consumers`);
  if (queue.settings.alternateExchange !== null) {
    // As qpidd: the messages still waiting are routed to the alternate exchange, journaled
    // before the delete (a crash in between leaves a copy in both places, never in neither).
    ensurePaged(broker, queue);
    for (const entry of [...queue.liveEntries()]) if (entry.state === 'available') deadLetter(broker, entry, []);
  }
  let ticket: CommitTicket | null = null;
  if (broker.storedQueues.has(name)) {
    // One queue-delete record implies the unbinds and the dequeue of every entry (store contract).
    ticket = journal(broker, [{ kind: 'queue-delete', queue: name }]);
    broker.storedQueues.delete(name);
  }
  dropQueueInMemory(broker, queue);
  broker.logger.info({ queue: name }, 'queue deleted');
  return { changed: true, ticket };
}

/** Removes the queue from memory: entries, bindings, consumers (told so). No journaling. */
export function dropQueueInMemory(broker: BrokerState, queue: Queue): void {
  broker.queueMap.delete(queue.name);
  queue.deleted = true;
  for (const exchange of broker.exchangeMap.values()) exchange.unbindQueue(queue.name);
  for (const entry of [...queue.liveEntries()]) {
    queue.remove(entry);
    releaseMessageRef(broker, entry.message);
  }
  for (const consumer of [...queue.consumers]) {
    queue.removeConsumer(consumer);
    consumer.queueDeleted?.();
  }
}

export function deleteExchange(broker: BrokerState, name: string): ConfigChange {
  const exchange = broker.exchangeMap.get(name);
  if (!exchange) throw new BrokerError('NOT_FOUND', `exchange ${name} does not exist`);
  if (exchange.settings.builtIn) throw new BrokerError('NOT_ALLOWED', `built-in exchange ${name || '(default)'} cannot be deleted`);
  let ticket: CommitTicket | null = null;
  if (broker.storedExchanges.has(name)) {
    ticket = journal(broker, [{ kind: 'exchange-delete', exchange: name }]);
    broker.storedExchanges.delete(name);
  }
  broker.exchangeMap.delete(name);
  broker.logger.info({ exchange: name }, 'exchange deleted');
  return { changed: true, ticket };
}

export function bind(broker: BrokerState, exchangeName: string, queueName: string, key: string, args: Arguments): ConfigChange {
  const exchange = broker.exchangeMap.get(exchangeName);
  if (!exchange) throw new BrokerError('NOT_FOUND', `exchange ${exchangeName} does not exist`);
  if (exchangeName === '') throw new BrokerError('NOT_ALLOWED', 'the default exchange cannot be bound explicitly');
  const queue = broker.queueMap.get(queueName);
  if (!queue) throw new BrokerError('NOT_FOUND', `queue ${queueName} does not exist`);
  const binding: Binding = { exchange: exchangeName, queue, key, arguments: args };
  if (!exchange.bind(binding)) return { changed: false, ticket: null };
  let ticket: CommitTicket | null = null;
  if (bindingIsStored(broker, exchange, queue)) {
    ticket = journal(broker, [{ kind: 'bind', exchange: exchangeName, queue: queueName, key, arguments: args }]);
  }
  broker.logger.debug({ exchange: exchangeName, queue: queueName, key }, 'binding added');
  return { changed: true, ticket };
}

export function unbind(broker: BrokerState, exchangeName: string, queueName: string, key: string): ConfigChange {
  const exchange = broker.exchangeMap.get(exchangeName);
  if (!exchange) throw new BrokerError('NOT_FOUND', `exchange ${exchangeName} does not exist`);
  const queue = broker.queueMap.get(queueName);
  const removed = exchange.unbind(queueName, key);
  if (!removed) throw new BrokerError('NOT_FOUND', `no binding of queue ${queueName} to ${exchangeName} with key "${key}"`);
  let ticket: CommitTicket | null = null;
  if (queue && bindingIsStored(broker, exchange, queue)) {
    ticket = journal(broker, [{ kind: 'unbind', exchange: exchangeName, queue: queueName, key }]);
  }
  return { changed: true, ticket };
}

export function bindingIsStored(broker: BrokerState, exchange: Exchange, queue: Queue): boolean {
  return broker.storedQueues.has(queue.name) && (exchange.settings.builtIn || broker.storedExchanges.has(exchange.name));
}

export function checkExclusiveAccess(broker: BrokerState, queue: Queue, owner: string | null): void {
  if (!queue.settings.exclusive) return;
  if (queue.owner === null) {
    queue.owner = owner;
    return;
  }
  if (queue.owner !== owner) throw new BrokerError('RESOURCE_LOCKED', `queue ${queue.name} is exclusive to another connection`);
}

/** A connection closed: exclusive queues it owned go (as in Qpid, they live with their owner). */
export function connectionClosed(broker: BrokerState, owner: string): void {
  for (const queue of [...broker.queueMap.values()]) {
    if (queue.settings.exclusive && queue.owner === owner && queue.settings.autoDelete) {
      deleteQueue(broker, queue.name);
    } else if (queue.owner === owner) {
      queue.owner = null;
    }
  }
}

const NAME_MAX = 255;

export function validateName(name: string, what: 'queue' | 'exchange'): void {
  if (name.length === 0 && what === 'queue') throw new BrokerError('INVALID_ARGUMENT', 'queue name must not be empty');
  if (name.length > NAME_MAX) throw new BrokerError('INVALID_ARGUMENT', `${what} name longer than ${NAME_MAX} characters`);
  if (/[\u0000-\u001f]/.test(name)) throw new BrokerError('INVALID_ARGUMENT', `${what} name contains control characters`);
}
