// The broker's messaging model: queues, exchanges, bindings, routing, deliveries and limits,
// over the store. Synchronous and free of I/O apart from the store it is given (STYLE.md 1):
// the AMQP adapter, the management commands and the simulator all drive this same code.
//
// What goes to the store (DESIGN.md §2): a queue or exchange is "stored" when it is durable or
// replicated; a message entry is stored when its queue is stored and the message is persistent
// on a durable queue, or the queue replicates messages (then transient ones go through the log
// too, flagged, so that the replication stream is one ordered sequence). Everything else never
// touches the disk.
//
// Settling producers is not done here: publish() says what must happen before the producer may
// be told `accepted` (an LSN to be durable and confirmed, or the message consumed), and the ack
// gate (src/ha/ack-gate.ts) decides when that has happened.

import {
  isStoreError,
  StoreError,
  type Arguments,
  type CommitTicket,
  type DequeueCause,
  type EnqueueRecord,
  type EnqueueTarget,
  type ExchangeType,
  type LostMessage,
  type QueueEntry as StoredQueueEntry,
  type Store,
  type StoreRecord,
} from '../../store/index.js';
import { assert } from '../core/assert.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { NO_FLOW_DEFAULTS, parseExchangeArguments, parseQueueArguments, REPLICATE_LEVELS } from './arguments.js';
import type { FlowDefaults } from './flow-control.js';
import { BrokerError } from './errors.js';
import { BUILT_IN_EXCHANGES, Exchange, type Binding, type ExchangeSettings } from './exchange.js';
import { allocateTransientId, type BrokerMessage } from './message.js';
import { Queue, type Consumer, type QueueEntry, type QueueSettings, type ReplicateLevel } from './queue.js';
import { admittedBy, nextBrowsed, type SelectionHooks, type SelectorFieldsDecoder } from './selection.js';

export interface BrokerLimits {
  /** --default-queue-limit: max bytes of a queue declared without qpid.max_size (0: none). */
  readonly defaultQueueLimitBytes: number;
  readonly maxMessageSizeBytes: number;
  /** --default-flow-stop-threshold / --default-flow-resume-threshold (absent: no default flow
   * control; explicit qpid.flow_* arguments still apply). */
  readonly flow?: FlowDefaults;
}

export interface ReplicationSettings {
  /** True in an HA cluster (or with queue replication on): replicated queues keep their
   * transient messages in the log so that backups receive one ordered stream. */
  readonly enabled: boolean;
  /** --ha-replicate: the level of queues and exchanges declared without qpid.replicate. */
  readonly defaultLevel: ReplicateLevel;
}

/** Notifications the broker gives the layer that settles producers (the ack gate). */
export interface BrokerEvents {
  /** No queue holds the message any more (consumed, or dropped): it need not be replicated. */
  messageResolved(messageId: number): void;
  /** The store refused the message's enqueue (full disk): its producer must hear so. */
  messageFailed?(messageId: number, err: unknown): void;
  /** A stored message could not be read unaltered (checksum, missing row) and was moved to its
   * queue's quarantine: lost data, to be reported (NATS's LostStreamData). */
  messageLost?(lost: LostMessage): void;
}

export interface BrokerDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly limits: BrokerLimits;
  readonly replication: ReplicationSettings;
  readonly events?: BrokerEvents;
  /** Reads a stored message's subject and application properties from its encoded bytes:
   * messages recovered from the store carry neither in memory, and dead-lettering routes by
   * them. Without it a recovered message is dead-lettered with an empty key. */
  readonly routingFields?: (body: Uint8Array) => RoutingFields;
  /** Decodes what selectors look at (queues with a qpid.filter); without it nothing matches. */
  readonly selectorFields?: SelectorFieldsDecoder;
}

export interface RoutingFields {
  readonly subject: string | null;
  readonly applicationProperties: Readonly<Record<string, unknown>> | null;
}

export interface IncomingMessage {
  /** The encoded AMQP message as received. */
  readonly body: Uint8Array;
  readonly durable: boolean;
  /** Absolute expiry (from header ttl or properties absolute-expiry-time), or null. */
  readonly expiresAtMs: number | null;
  readonly subject: string | null;
  readonly applicationProperties: Readonly<Record<string, unknown>> | null;
}

/** What to do with a message no binding matched (link property `qpid.unroutable`): `discard`
 * (the default, as in qpidd: accepted and dropped, which every pub/sub example relies on),
 * or `reject` / `release` as opt-ins for producers that want to know. */
export type UnroutablePolicy = 'reject' | 'release' | 'discard';

export type PublishTarget =
  | { readonly kind: 'queue'; readonly queue: string }
  | { readonly kind: 'exchange'; readonly exchange: string; readonly key: string | null; readonly unroutable: UnroutablePolicy };

/** What must happen before the producer may be told `accepted`. */
export interface SettlementHold {
  readonly messageId: number;
  /** The commit holding the enqueue, or null if nothing was journaled. */
  readonly ticket: CommitTicket | null;
  /** The record's LSN, which every backup in the gate must confirm (null: not journaled). */
  readonly lsn: number | null;
  /** Whether local durability is required (persistent message on a durable queue). */
  readonly needsDurable: boolean;
  /** Whether backups must confirm it (it went to a queue that replicates messages). Absent
   * means true. */
  readonly replicated?: boolean;
}

export type PublishOutcome =
  /** flowStopped: queues the message went to that are now flow-stopped (their producers wait). */
  | { readonly kind: 'accepted'; readonly hold: SettlementHold; readonly flowStopped?: readonly string[] }
  | { readonly kind: 'released' }
  | { readonly kind: 'rejected'; readonly error: BrokerError };

export interface QueueDeclare {
  readonly name: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusive: boolean;
  readonly alternateExchange: string | null;
  readonly arguments: Arguments;
}

export interface ExchangeDeclare {
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly alternateExchange: string | null;
  readonly arguments: Arguments;
}

/** The result of a configuration change: whether it changed anything, and the commit to wait
 * for (gated like a publish) when it was journaled. */
export interface ConfigChange {
  readonly changed: boolean;
  readonly ticket: CommitTicket | null;
}

/** How a consumer settled a delivery (AMQP 1.0 §3.4 outcomes). */
export type ConsumerOutcome =
  | { readonly kind: 'accepted' }
  | { readonly kind: 'released' }
  | { readonly kind: 'rejected' }
  | { readonly kind: 'modified'; readonly deliveryFailed: boolean; readonly undeliverableHere: boolean };

/** Why a recovered broker is starting: 'local' recovery (a standalone restart, or the first
 * primary after total cluster failure) drops what was never meant to survive a restart
 * (non-durable queues, transient messages); 'promotion' of a ready backup keeps everything the
 * primary had replicated. */
export type RecoveryMode = 'local' | 'promotion';

const PAGE_SIZE = 1000;
/** Load the next page when fewer than this many entries are available in memory. */
const PAGE_LOW_WATER = 256;

export class Broker {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly limits: BrokerLimits;
  private readonly replication: ReplicationSettings;
  private readonly events: BrokerEvents;
  private readonly flowListeners = new Set<(queue: Queue, stopped: boolean) => void>();
  private readonly pauseListeners = new Set<(reason: string | null) => void>();
  private producerPause: string | null = null;
  private readonly routingFields: ((body: Uint8Array) => RoutingFields) | null;
  private readonly selectorFields: SelectorFieldsDecoder | null;
  private readonly queueMap = new Map<string, Queue>();
  private readonly exchangeMap = new Map<string, Exchange>();
  /** Queues whose declare record is in the store (durable or replicated). */
  private readonly storedQueues = new Set<string>();
  private readonly storedExchanges = new Set<string>();
  private dispatching = false;

  constructor(deps: BrokerDeps) {
    this.store = deps.store;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.limits = deps.limits;
    this.replication = deps.replication;
    this.events = deps.events ?? { messageResolved: () => {} };
    this.routingFields = deps.routingFields ?? null;
    this.selectorFields = deps.selectorFields ?? null;
    for (const builtIn of BUILT_IN_EXCHANGES) {
      this.exchangeMap.set(
        builtIn.name,
        new Exchange({
          name: builtIn.name,
          type: builtIn.type,
          durable: true,
          autoDelete: false,
          alternateExchange: null,
          arguments: {},
          replicate: 'none',
          builtIn: true,
        }),
      );
    }
  }

  // ---------------------------------------------------------------- recovery

  /** Rebuilds the in-memory catalog from the store: no log replay, no message bodies; queue
   * entries stay in the store and are paged in as consumers need them. */
  recover(mode: RecoveryMode): { queues: number; messages: number; dropped: string[] } {
    const drop: StoreRecord[] = [];
    const dropped: string[] = [];
    for (const declare of this.store.exchanges()) {
      if (mode === 'local' && !declare.durable) {
        drop.push({ kind: 'exchange-delete', exchange: declare.exchange });
        dropped.push(`exchange ${declare.exchange}`);
        continue;
      }
      const settings = this.exchangeSettings({
        name: declare.exchange,
        type: declare.type,
        durable: declare.durable,
        autoDelete: declare.autoDelete,
        alternateExchange: declare.alternateExchange,
        arguments: declare.arguments,
      });
      this.exchangeMap.set(declare.exchange, new Exchange(settings));
      this.storedExchanges.add(declare.exchange);
    }
    let messages = 0;
    for (const state of this.store.queues()) {
      const declare = state.declare;
      if (mode === 'local' && !declare.durable) {
        drop.push({ kind: 'queue-delete', queue: declare.queue });
        dropped.push(`queue ${declare.queue}`);
        continue;
      }
      const settings = this.queueSettings({
        name: declare.queue,
        durable: declare.durable,
        autoDelete: declare.autoDelete,
        exclusive: declare.exclusive,
        alternateExchange: declare.alternateExchange,
        arguments: declare.arguments,
      });
      const queue = this.watchFlow(new Queue(settings, state.lastPosition));
      queue.setPaged(state.count, state.bytes, state.lastPosition);
      this.queueMap.set(declare.queue, queue);
      this.storedQueues.add(declare.queue);
      messages += state.count;
    }
    for (const binding of this.store.bindings()) {
      const exchange = this.exchangeMap.get(binding.exchange);
      const queue = this.queueMap.get(binding.queue);
      if (!exchange || !queue) {
        // The other end was dropped above (non-durable); the store deletes the binding with it.
        continue;
      }
      exchange.bind({ exchange: binding.exchange, queue, key: binding.key, arguments: binding.arguments });
    }
    this.recoveryMode = mode;
    if (drop.length > 0) this.journal(drop);
    this.logger.info({ mode, queues: this.queueMap.size, messages, dropped: dropped.length }, 'broker state recovered from store');
    return { queues: this.queueMap.size, messages, dropped };
  }

  private recoveryMode: RecoveryMode = 'local';

  // ---------------------------------------------------------------- catalog

  queue(name: string): Queue | undefined {
    return this.queueMap.get(name);
  }

  exchange(name: string): Exchange | undefined {
    return this.exchangeMap.get(name);
  }

  get queues(): IterableIterator<Queue> {
    return this.queueMap.values();
  }

  get exchanges(): IterableIterator<Exchange> {
    return this.exchangeMap.values();
  }

  isQueueStored(name: string): boolean {
    return this.storedQueues.has(name);
  }

  /** The effective replication level of a queue or exchange given its arguments. */
  replicateLevel(args: Arguments): ReplicateLevel {
    const value = args['qpid.replicate'];
    if (typeof value === 'string' && (REPLICATE_LEVELS as readonly string[]).includes(value)) return value as ReplicateLevel;
    return this.replication.defaultLevel;
  }

  /** Every producer is paused (the reason) or not (null): a primary reserving capacity for a
   * backup's catch-up (src/ha/catch-up-throttle.ts). Producers hear it through onProducerPause. */
  pauseProducers(reason: string | null): void {
    if (reason === this.producerPause) return;
    this.producerPause = reason;
    for (const listener of this.pauseListeners) listener(reason);
  }

  get producersPaused(): boolean {
    return this.producerPause !== null;
  }

  onProducerPause(listener: (reason: string | null) => void): () => void {
    this.pauseListeners.add(listener);
    return () => this.pauseListeners.delete(listener);
  }

  /** Producers of a queue hear when it stops and resumes (src/amqp/producer-flow.ts). */
  onQueueFlow(listener: (queue: Queue, stopped: boolean) => void): () => void {
    this.flowListeners.add(listener);
    return () => this.flowListeners.delete(listener);
  }

  /** Logs each flow transition once and tells the listeners. */
  private watchFlow(queue: Queue): Queue {
    queue.onFlowChange = (q, stopped) => {
      const { flow } = q.settings;
      if (stopped) this.logger.warn({ queue: q.name, count: q.count, bytes: q.bytes, stopCount: flow?.stopCount, stopBytes: flow?.stopBytes }, 'queue flow stopped: its producers get no credit');
      else this.logger.info({ queue: q.name, count: q.count, bytes: q.bytes, resumeCount: flow?.resumeCount, resumeBytes: flow?.resumeBytes }, 'queue flow resumed');
      for (const listener of this.flowListeners) listener(q, stopped);
    };
    return queue;
  }

  private queueSettings(declare: QueueDeclare): QueueSettings {
    const limits = parseQueueArguments(declare.arguments, this.limits.defaultQueueLimitBytes, this.limits.flow ?? NO_FLOW_DEFAULTS);
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
      replicate: limits.replicate ?? this.replication.defaultLevel,
      filter: limits.filter,
    };
  }

  private exchangeSettings(declare: ExchangeDeclare): ExchangeSettings {
    const parsed = parseExchangeArguments(declare.arguments);
    return {
      name: declare.name,
      type: declare.type,
      durable: declare.durable,
      autoDelete: declare.autoDelete,
      alternateExchange: declare.alternateExchange,
      arguments: declare.arguments,
      replicate: parsed.replicate ?? this.replication.defaultLevel,
      builtIn: false,
    };
  }

  private queueIsStored(settings: QueueSettings): boolean {
    return settings.durable || (this.replication.enabled && settings.replicate !== 'none');
  }

  private exchangeIsStored(settings: ExchangeSettings): boolean {
    return !settings.builtIn && (settings.durable || (this.replication.enabled && settings.replicate !== 'none'));
  }

  /** Declares a queue, or checks an existing one. Re-declaring with different durability is a
   * precondition failure, as in Qpid; other differences are ignored (the first declare wins). */
  declareQueue(declare: QueueDeclare, owner: string | null): ConfigChange & { queue: Queue } {
    validateName(declare.name, 'queue');
    const existing = this.queueMap.get(declare.name);
    if (existing) {
      if (existing.settings.durable !== declare.durable) {
        throw new BrokerError('PRECONDITION_FAILED', `queue ${declare.name} exists with durable=${existing.settings.durable}`);
      }
      this.checkExclusiveAccess(existing, owner);
      return { changed: false, ticket: null, queue: existing };
    }
    if (declare.alternateExchange !== null && !this.exchangeMap.has(declare.alternateExchange)) {
      throw new BrokerError('NOT_FOUND', `alternate exchange ${declare.alternateExchange} of queue ${declare.name} does not exist`);
    }
    const settings = this.queueSettings(declare);
    const queue = this.watchFlow(new Queue(settings));
    if (settings.exclusive) queue.owner = owner;
    this.queueMap.set(declare.name, queue);
    let ticket: CommitTicket | null = null;
    if (this.queueIsStored(settings)) {
      this.storedQueues.add(declare.name);
      ticket = this.journal([
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
      ticket.committed.catch((err: unknown) => this.undoDeclare('queue', declare.name, err));
    }
    this.logger.info({ queue: declare.name, durable: declare.durable, replicate: settings.replicate }, 'queue declared');
    return { changed: true, ticket, queue };
  }

  declareExchange(declare: ExchangeDeclare): ConfigChange & { exchange: Exchange } {
    validateName(declare.name, 'exchange');
    const existing = this.exchangeMap.get(declare.name);
    if (existing) {
      if (existing.settings.type !== declare.type) {
        throw new BrokerError('PRECONDITION_FAILED', `exchange ${declare.name} exists with type ${existing.settings.type}`);
      }
      return { changed: false, ticket: null, exchange: existing };
    }
    if (declare.name.startsWith('amq.') || declare.name.startsWith('qpid.')) {
      throw new BrokerError('NOT_ALLOWED', `exchange names starting with amq. or qpid. are reserved: ${declare.name}`);
    }
    if (declare.alternateExchange !== null && !this.exchangeMap.has(declare.alternateExchange)) {
      throw new BrokerError('NOT_FOUND', `alternate exchange ${declare.alternateExchange} of exchange ${declare.name} does not exist`);
    }
    const settings = this.exchangeSettings(declare);
    const exchange = new Exchange(settings);
    this.exchangeMap.set(declare.name, exchange);
    let ticket: CommitTicket | null = null;
    if (this.exchangeIsStored(settings)) {
      this.storedExchanges.add(declare.name);
      ticket = this.journal([
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
      ticket.committed.catch((err: unknown) => this.undoDeclare('exchange', declare.name, err));
    }
    this.logger.info({ exchange: declare.name, type: declare.type, durable: declare.durable }, 'exchange declared');
    return { changed: true, ticket, exchange };
  }

  private undoDeclare(kind: 'queue' | 'exchange', name: string, err: unknown): void {
    this.logger.error({ err, [kind]: name }, 'declare failed in the store; undone in memory');
    if (kind === 'queue') {
      const queue = this.queueMap.get(name);
      if (queue) this.dropQueueInMemory(queue);
      this.storedQueues.delete(name);
    } else {
      this.exchangeMap.delete(name);
      this.storedExchanges.delete(name);
    }
  }

  deleteQueue(name: string, options: { ifEmpty?: boolean; ifUnused?: boolean } = {}): ConfigChange {
    const queue = this.queueMap.get(name);
    if (!queue) throw new BrokerError('NOT_FOUND', `queue ${name} does not exist`);
    if (options.ifEmpty && queue.count > 0) throw new BrokerError('PRECONDITION_FAILED', `queue ${name} is not empty (${queue.count} messages)`);
    if (options.ifUnused && queue.consumers.length > 0) throw new BrokerError('PRECONDITION_FAILED', `queue ${name} has ${queue.consumers.length} consumers`);
    if (queue.settings.alternateExchange !== null) {
      // As qpidd: the messages still waiting are routed to the alternate exchange, journaled
      // before the delete (a crash in between leaves a copy in both places, never in neither).
      this.ensurePaged(queue);
      for (const entry of [...queue.liveEntries()]) if (entry.state === 'available') this.deadLetter(entry, []);
    }
    let ticket: CommitTicket | null = null;
    if (this.storedQueues.has(name)) {
      // One queue-delete record implies the unbinds and the dequeue of every entry (store contract).
      ticket = this.journal([{ kind: 'queue-delete', queue: name }]);
      this.storedQueues.delete(name);
    }
    this.dropQueueInMemory(queue);
    this.logger.info({ queue: name }, 'queue deleted');
    return { changed: true, ticket };
  }

  /** Removes the queue from memory: entries, bindings, consumers (told so). No journaling. */
  private dropQueueInMemory(queue: Queue): void {
    this.queueMap.delete(queue.name);
    queue.deleted = true;
    for (const exchange of this.exchangeMap.values()) exchange.unbindQueue(queue.name);
    for (const entry of [...queue.liveEntries()]) {
      queue.remove(entry);
      this.releaseMessageRef(entry.message);
    }
    for (const consumer of [...queue.consumers]) {
      queue.removeConsumer(consumer);
      consumer.queueDeleted?.();
    }
  }

  deleteExchange(name: string): ConfigChange {
    const exchange = this.exchangeMap.get(name);
    if (!exchange) throw new BrokerError('NOT_FOUND', `exchange ${name} does not exist`);
    if (exchange.settings.builtIn) throw new BrokerError('NOT_ALLOWED', `built-in exchange ${name || '(default)'} cannot be deleted`);
    let ticket: CommitTicket | null = null;
    if (this.storedExchanges.has(name)) {
      ticket = this.journal([{ kind: 'exchange-delete', exchange: name }]);
      this.storedExchanges.delete(name);
    }
    this.exchangeMap.delete(name);
    this.logger.info({ exchange: name }, 'exchange deleted');
    return { changed: true, ticket };
  }

  bind(exchangeName: string, queueName: string, key: string, args: Arguments): ConfigChange {
    const exchange = this.exchangeMap.get(exchangeName);
    if (!exchange) throw new BrokerError('NOT_FOUND', `exchange ${exchangeName} does not exist`);
    if (exchangeName === '') throw new BrokerError('NOT_ALLOWED', 'the default exchange cannot be bound explicitly');
    const queue = this.queueMap.get(queueName);
    if (!queue) throw new BrokerError('NOT_FOUND', `queue ${queueName} does not exist`);
    const binding: Binding = { exchange: exchangeName, queue, key, arguments: args };
    if (!exchange.bind(binding)) return { changed: false, ticket: null };
    let ticket: CommitTicket | null = null;
    if (this.bindingIsStored(exchange, queue)) {
      ticket = this.journal([{ kind: 'bind', exchange: exchangeName, queue: queueName, key, arguments: args }]);
    }
    this.logger.debug({ exchange: exchangeName, queue: queueName, key }, 'binding added');
    return { changed: true, ticket };
  }

  unbind(exchangeName: string, queueName: string, key: string): ConfigChange {
    const exchange = this.exchangeMap.get(exchangeName);
    if (!exchange) throw new BrokerError('NOT_FOUND', `exchange ${exchangeName} does not exist`);
    const queue = this.queueMap.get(queueName);
    const removed = exchange.unbind(queueName, key);
    if (!removed) throw new BrokerError('NOT_FOUND', `no binding of queue ${queueName} to ${exchangeName} with key "${key}"`);
    let ticket: CommitTicket | null = null;
    if (queue && this.bindingIsStored(exchange, queue)) {
      ticket = this.journal([{ kind: 'unbind', exchange: exchangeName, queue: queueName, key }]);
    }
    return { changed: true, ticket };
  }

  private bindingIsStored(exchange: Exchange, queue: Queue): boolean {
    return this.storedQueues.has(queue.name) && (exchange.settings.builtIn || this.storedExchanges.has(exchange.name));
  }

  private checkExclusiveAccess(queue: Queue, owner: string | null): void {
    if (!queue.settings.exclusive) return;
    if (queue.owner === null) {
      queue.owner = owner;
      return;
    }
    if (queue.owner !== owner) throw new BrokerError('RESOURCE_LOCKED', `queue ${queue.name} is exclusive to another connection`);
  }

  /** A connection closed: exclusive queues it owned go (as in Qpid, they live with their owner). */
  connectionClosed(owner: string): void {
    for (const queue of [...this.queueMap.values()]) {
      if (queue.settings.exclusive && queue.owner === owner && queue.settings.autoDelete) {
        this.deleteQueue(queue.name);
      } else if (queue.owner === owner) {
        queue.owner = null;
      }
    }
  }

  // ---------------------------------------------------------------- publishing

  publish(target: PublishTarget, incoming: IncomingMessage): PublishOutcome {
    const size = incoming.body.length;
    if (size > this.limits.maxMessageSizeBytes) {
      return { kind: 'rejected', error: new BrokerError('MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds --max-message-size ${this.limits.maxMessageSizeBytes}`) };
    }
    let queues: Queue[];
    if (target.kind === 'queue') {
      const queue = this.queueMap.get(target.queue);
      if (!queue) return { kind: 'rejected', error: new BrokerError('NOT_FOUND', `queue ${target.queue} does not exist`) };
      queues = [queue];
    } else {
      const exchange = this.exchangeMap.get(target.exchange);
      if (!exchange) return { kind: 'rejected', error: new BrokerError('NOT_FOUND', `exchange ${target.exchange} does not exist`) };
      const routingKey = target.key ?? incoming.subject ?? '';
      queues = [...this.routeWithAlternate(exchange, { routingKey, applicationProperties: incoming.applicationProperties })];
      if (target.exchange === '' && queues.length === 0) {
        const queue = this.queueMap.get(routingKey);
        if (queue) queues = [queue];
      }
      if (queues.length === 0) {
        exchange.unroutedCount++;
        if (target.unroutable === 'release') return { kind: 'released' };
        if (target.unroutable === 'reject') {
          return { kind: 'rejected', error: new BrokerError('UNROUTABLE', `no binding of exchange ${target.exchange || '(default)'} matches key "${routingKey}"`) };
        }
        return { kind: 'accepted', hold: { messageId: 0, ticket: null, lsn: null, needsDurable: false } };
      }
    }
    queues = admittedBy(queues, incoming, this.selectorFields);
    if (queues.length === 0) return { kind: 'accepted', hold: { messageId: 0, ticket: null, lsn: null, needsDurable: false } };
    const full = this.checkLimits(queues, size);
    if (full) return { kind: 'rejected', error: full };
    const hold = this.enqueue(queues, incoming, 0);
    let flowStopped: string[] | undefined;
    for (const queue of queues) if (queue.flowStopped) (flowStopped ??= []).push(queue.name);
    return flowStopped ? { kind: 'accepted', hold, flowStopped } : { kind: 'accepted', hold };
  }

  /** Routes through the exchange, then its alternate exchange(s) when nothing matched. */
  private routeWithAlternate(exchange: Exchange, message: { routingKey: string; applicationProperties: Readonly<Record<string, unknown>> | null }): Set<Queue> {
    let current: Exchange | undefined = exchange;
    const seen = new Set<string>();
    while (current && !seen.has(current.name)) {
      seen.add(current.name);
      const queues = current.route(message);
      if (queues.size > 0) return queues;
      const alternate: string | null = current.settings.alternateExchange;
      current = alternate === null ? undefined : this.exchangeMap.get(alternate);
    }
    return new Set();
  }

  /** Reject-policy queues refuse a message that would take them over a limit (the whole
   * message is refused, as in Qpid); ring queues make room later, in enqueue(). */
  private checkLimits(queues: readonly Queue[], size: number): BrokerError | null {
    for (const queue of queues) {
      const { maxCount, maxSizeBytes, policy } = queue.settings;
      if (policy !== 'reject') continue;
      if (maxCount !== null && queue.count + 1 > maxCount) {
        return new BrokerError('QUEUE_FULL', `queue ${queue.name} is full: qpid.max_count=${maxCount} reached`);
      }
      if (maxSizeBytes !== null && queue.bytes + size > maxSizeBytes) {
        return new BrokerError('QUEUE_FULL', `queue ${queue.name} is full: qpid.max_size=${maxSizeBytes} bytes would be exceeded`);
      }
    }
    return null;
  }

  /** Places a message on queues (already routed and checked), journals what must be stored,
   * and dispatches. */
  private enqueue(queues: readonly Queue[], incoming: IncomingMessage, deliveryCount: number): SettlementHold {
    const records: StoreRecord[] = [];
    for (const queue of queues) {
      if (queue.settings.policy === 'ring') this.makeRoomInRing(queue, incoming.body.length, records);
    }
    const storedTargets: Queue[] = [];
    let needsDurable = false;
    let replicated = false;
    for (const queue of queues) {
      if (!this.storedQueues.has(queue.name)) continue;
      const persistentHere = incoming.durable && queue.settings.durable;
      const replicatedHere = this.replication.enabled && queue.settings.replicate === 'all';
      if (persistentHere || replicatedHere) {
        storedTargets.push(queue);
        if (persistentHere) needsDurable = true;
        if (replicatedHere) replicated = true;
      }
    }
    const message: BrokerMessage = {
      id: storedTargets.length > 0 ? this.store.allocateMessageId() : allocateTransientId(),
      body: incoming.body,
      size: incoming.body.length,
      persistent: incoming.durable,
      expiresAtMs: incoming.expiresAtMs,
      subject: incoming.subject,
      applicationProperties: incoming.applicationProperties,
      stored: storedTargets.length > 0,
      refs: 0,
      enqueueLsn: null,
      storedTargets: storedTargets.length,
    };
    const targets: EnqueueTarget[] = [];
    const entries: QueueEntry[] = [];
    for (const queue of queues) {
      const stored = storedTargets.includes(queue);
      const entry: QueueEntry = {
        queue,
        position: queue.nextPosition(),
        message,
        deliveryCount,
        state: 'available',
        consumer: null,
        stored,
      };
      if (stored) targets.push({ queue: queue.name, position: entry.position });
      message.refs++;
      queue.append(entry);
      entries.push(entry);
    }
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
      ticket = this.journal(records);
      if (targets.length > 0) {
        message.enqueueLsn = ticket.lastLsn;
        ticket.committed.catch((err: unknown) => this.enqueueFailed(entries, err));
      }
    }
    for (const queue of queues) this.dispatch(queue);
    return {
      messageId: message.id,
      ticket,
      lsn: targets.length > 0 && ticket ? ticket.lastLsn : null,
      needsDurable,
      replicated,
    };
  }

  /** The store refused the enqueue (full disk): what is still available is withdrawn so that
   * memory and store agree; what a consumer already holds stays, now as a transient entry. */
  private enqueueFailed(entries: readonly QueueEntry[], err: unknown): void {
    this.logger.error({ err, messageId: entries[0]?.message.id }, 'enqueue failed in the store; message withdrawn');
    const messageId = entries[0]?.message.id;
    if (messageId !== undefined) this.events.messageFailed?.(messageId, err);
    for (const entry of entries) {
      (entry as { stored: boolean }).stored = false;
      if (entry.state === 'available') {
        entry.queue.remove(entry);
        this.releaseMessageRef(entry.message);
      }
    }
  }

  private makeRoomInRing(queue: Queue, size: number, records: StoreRecord[]): void {
    const { maxCount, maxSizeBytes } = queue.settings;
    const over = (): boolean => (maxCount !== null && queue.count + 1 > maxCount) || (maxSizeBytes !== null && queue.bytes + size > maxSizeBytes);
    while (over()) {
      this.ensurePaged(queue);
      const oldest = queue.availableEntries().next();
      if (oldest.done) break; // everything is held by consumers: accept above the limit
      this.removeEntry(oldest.value, 'overflow', records);
    }
  }

  // ---------------------------------------------------------------- consuming

  subscribe(queueName: string, consumer: Consumer, owner: string | null): Queue {
    const queue = this.queueMap.get(queueName);
    if (!queue) throw new BrokerError('NOT_FOUND', `queue ${queueName} does not exist`);
    this.checkExclusiveAccess(queue, owner);
    queue.addConsumer(consumer);
    this.dispatch(queue);
    return queue;
  }

  /** A consumer went away: what it held goes back to the queue, counted as a delivery attempt
   * (it may have been processed). An auto-delete queue goes with its last consumer. */
  unsubscribe(queue: Queue, consumer: Consumer): void {
    queue.removeConsumer(consumer);
    if (queue.deleted) return;
    for (const entry of queue.entriesHeldBy(consumer)) queue.release(entry, true);
    if (queue.settings.autoDelete && queue.consumers.length === 0 && queue.hadConsumer) {
      this.deleteQueue(queue.name);
      return;
    }
    this.dispatch(queue);
  }

  /** A consumer's settlement of an entry it was given. */
  settle(entry: QueueEntry, outcome: ConsumerOutcome): void {
    if (entry.state !== 'acquired') return; // the queue was deleted or purged meanwhile
    const queue = entry.queue;
    switch (outcome.kind) {
      case 'accepted':
        this.removeAndJournal(entry, 'consumed');
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
        this.rejectEntry(entry);
        break;
      case 'rejected':
        this.rejectEntry(entry);
        break;
    }
    if (!queue.deleted) this.dispatch(queue);
  }

  /** A consumer refused an acquired entry: dead-letter it (if the queue has an alternate
   * exchange) and take it off the queue, in one commit. */
  private rejectEntry(entry: QueueEntry): void {
    const records: StoreRecord[] = [];
    this.deadLetter(entry, records);
    this.removeEntry(entry, 'rejected', records);
    if (records.length > 0) this.journal(records);
  }

  /** The encoded bytes of an entry's message, read from the store if not in memory. Only for
   * entries dispatch has checked (readable): the body it read is handed over, not read again. */
  bodyOf(entry: QueueEntry): Uint8Array {
    const inMemory = entry.message.body;
    if (inMemory) return inMemory;
    const checked = this.checkedBody;
    if (checked?.entry === entry) {
      this.checkedBody = null;
      return checked.body;
    }
    const stored = this.readStored(entry);
    if (typeof stored === 'string') throw new StoreError('STORE_CORRUPT', stored);
    return stored;
  }

  /** The body last read by readable(), for the bodyOf() call that follows it. */
  private checkedBody: { entry: QueueEntry; body: Uint8Array } | null = null;

  /** The stored body, or why it cannot be delivered (it fails its checksum, or is missing). */
  private readStored(entry: QueueEntry): Uint8Array | string {
    try {
      return this.store.readMessage(entry.message.id) ?? `message ${entry.message.id} is missing from the store`;
    } catch (err) {
      if (isStoreError(err, 'STORE_CORRUPT')) return err.message;
      throw err;
    }
  }

  /** Whether an entry can be delivered as it was stored. One that cannot is quarantined here,
   * never delivered altered (issue 16). */
  private readable(entry: QueueEntry): boolean {
    if (entry.message.body) return true;
    const stored = this.readStored(entry);
    if (typeof stored !== 'string') {
      this.checkedBody = { entry, body: stored };
      return true;
    }
    this.quarantine(entry.queue, entry.position, entry.message.id, stored, entry);
    return false;
  }

  /** Moves a stored entry to its queue's quarantine (a dequeue with cause 'quarantined': the
   * store keeps the row as found) and reports the loss. */
  private quarantine(queue: Queue, position: number, messageId: number, reason: string, entry?: QueueEntry): void {
    if (entry) {
      queue.remove(entry);
      this.releaseMessageRef(entry.message);
    }
    this.journal([{ kind: 'dequeue', queue: queue.name, position, messageId, cause: 'quarantined' }]);
    const lost: LostMessage = { queue: queue.name, position, messageId, reason };
    this.quarantinedCount++;
    queue.quarantinedTotal++;
    this.logger.error(lost, 'message quarantined: it could not be read unaltered, and is lost');
    this.events.messageLost?.(lost);
  }

  /** Messages quarantined since this broker started. */
  quarantinedCount = 0;

  /** Offers available entries to consumers with capacity, round robin. Re-entrant calls (a
   * consumer settling synchronously from take()) are folded into the running loop. */
  dispatch(queue: Queue): void {
    if (queue.consumers.length === 0 || queue.deleted) return;
    if (this.dispatching) {
      this.pendingDispatch.add(queue);
      return;
    }
    this.dispatching = true;
    try {
      this.dispatchLoop(queue);
      while (this.pendingDispatch.size > 0) {
        const [next] = this.pendingDispatch;
        this.pendingDispatch.delete(next as Queue);
        this.dispatchLoop(next as Queue);
      }
    } finally {
      this.dispatching = false;
    }
  }

  private readonly pendingDispatch = new Set<Queue>();

  private dispatchLoop(queue: Queue): void {
    const now = this.clock.nowMs();
    for (;;) {
      if (queue.deleted) return;
      let delivered = false;
      for (const consumer of queue.consumersInTurn()) {
        if (!consumer.canTake()) continue;
        if (consumer.browse) {
          const entry = nextBrowsed(queue, consumer, () => this.loadPage(queue));
          if (!entry) continue;
          // A body that fails its checksum is quarantined, never shown (issue 16).
          if (!this.readable(entry)) {
            delivered = true;
            continue;
          }
          consumer.take(entry);
          delivered = true;
          continue;
        }
        const entry = consumer.selection ? consumer.selection.next(queue, this.selectionHooks(queue, now)) : this.nextDeliverable(queue, now);
        if (!entry && consumer.selection) continue; // entries it does not match may suit others
        if (!entry) return;
        if (!this.readable(entry)) {
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

  private selectionHooks(queue: Queue, nowMs: number): SelectionHooks {
    return {
      expireIfDue: (entry) => {
        const records: StoreRecord[] = [];
        const expired = this.expireIfDue(entry, nowMs, records);
        if (records.length > 0) this.journal(records);
        return expired;
      },
      loadPage: () => this.loadPage(queue),
    };
  }

  /** Dead-letters and removes an entry past its time; true if it was. */
  private expireIfDue(entry: QueueEntry, nowMs: number, records: StoreRecord[]): boolean {
    if (entry.message.expiresAtMs === null || entry.message.expiresAtMs > nowMs) return false;
    this.deadLetter(entry, records);
    this.removeEntry(entry, 'expired', records);
    return true;
  }

  /** The next available entry, expiring (and dead-lettering) the ones past their time. */
  private nextDeliverable(queue: Queue, nowMs: number): QueueEntry | undefined {
    const records: StoreRecord[] = [];
    try {
      for (;;) {
        // Entries still paged out are older than every entry in memory past the loaded part of
        // the paged region: load them first, or messages enqueued since a restart would be
        // delivered ahead of the recovered backlog (not only when memory runs low).
        const cursor = queue.pageCursor();
        if (cursor !== null && (queue.availableInMemory < PAGE_LOW_WATER || (queue.peekAvailable()?.position ?? Infinity) > cursor.afterPosition)) this.loadPage(queue);
        const entry = queue.peekAvailable();
        if (!entry) return undefined;
        if (this.expireIfDue(entry, nowMs, records)) continue;
        return entry;
      }
    } finally {
      if (records.length > 0) this.journal(records);
    }
  }

  /** Expires every available entry past its time on every queue (a periodic sweep, so that
   * queues without consumers free their space and dead-letter on time). */
  expireAll(): number {
    const now = this.clock.nowMs();
    let expired = 0;
    for (const queue of this.queueMap.values()) {
      const records: StoreRecord[] = [];
      for (const entry of [...queue.availableEntries()]) {
        if (this.expireIfDue(entry, now, records)) expired++;
      }
      if (records.length > 0) this.journal(records);
    }
    return expired;
  }

  /** Removes every available entry (qpid-config purge). */
  purge(queueName: string): { purged: number; ticket: CommitTicket | null } {
    const queue = this.queueMap.get(queueName);
    if (!queue) throw new BrokerError('NOT_FOUND', `queue ${queueName} does not exist`);
    const records: StoreRecord[] = [];
    let purged = 0;
    for (;;) {
      this.ensurePaged(queue);
      const batch = [...queue.availableEntries()];
      if (batch.length === 0) break;
      for (const entry of batch) {
        this.removeEntry(entry, 'purged', records);
        purged++;
      }
    }
    const ticket = records.length > 0 ? this.journal(records) : null;
    return { purged, ticket };
  }

  private removeAndJournal(entry: QueueEntry, cause: DequeueCause): void {
    const records: StoreRecord[] = [];
    this.removeEntry(entry, cause, records);
    if (records.length > 0) this.journal(records);
  }

  /** Takes an entry off its queue; adds its dequeue record to `records` if it is stored. */
  private removeEntry(entry: QueueEntry, cause: DequeueCause, records: StoreRecord[]): void {
    entry.queue.remove(entry);
    const message = entry.message;
    if (entry.stored && message.storedTargets === 1 && message.enqueueLsn !== null && this.store.retract(message.enqueueLsn)) {
      // Consumed before its enqueue was written: the store drops the enqueue (keeping the
      // LSN), so there is nothing to dequeue. It never touches the disk.
      message.enqueueLsn = null;
    } else if (entry.stored) {
      records.push({ kind: 'dequeue', queue: entry.queue.name, position: entry.position, messageId: entry.message.id, cause });
    }
    this.releaseMessageRef(entry.message);
  }

  private releaseMessageRef(message: BrokerMessage): void {
    message.refs--;
    if (message.refs <= 0) {
      message.body = undefined;
      this.recoveredMessages.delete(message.id);
      this.events.messageResolved(message.id);
    }
  }

  /** Routes a rejected or expired entry's message to its queue's alternate exchange, if any:
   * a new message (new id) on the dead-letter queues, journaled with the dequeue. */
  private deadLetter(entry: QueueEntry, records: StoreRecord[]): void {
    const alternate = entry.queue.settings.alternateExchange;
    if (alternate === null) return;
    const exchange = this.exchangeMap.get(alternate);
    if (!exchange) return;
    if (!this.readable(entry)) return; // quarantined: nothing left to dead-letter
    const body = this.bodyOf(entry);
    const fields = this.routingFieldsOf(entry, body);
    const queues = [...this.routeWithAlternate(exchange, { routingKey: fields.subject ?? '', applicationProperties: fields.applicationProperties })].filter((q) => q !== entry.queue);
    if (queues.length === 0) return;
    const incoming: IncomingMessage = { body, durable: entry.message.persistent, expiresAtMs: null, ...fields };
    if (this.checkLimits(queues, body.length)) {
      this.logger.warn({ queue: entry.queue.name, alternate }, 'dead-letter queue full; message dropped');
      return;
    }
    const hold = this.enqueue(queues, incoming, entry.deliveryCount);
    void hold;
    this.logger.debug({ queue: entry.queue.name, alternate, position: entry.position }, 'message dead-lettered');
  }

  /** What a message is routed by; read from its bytes when it was recovered from the store. */
  private routingFieldsOf(entry: QueueEntry, body: Uint8Array): RoutingFields {
    const { subject, applicationProperties } = entry.message;
    if (subject !== null || applicationProperties !== null || !this.routingFields) return { subject, applicationProperties };
    try {
      return this.routingFields(body);
    } catch (err) {
      this.logger.warn({ err, queue: entry.queue.name, position: entry.position }, 'stored message does not decode; dead-lettered with an empty key');
      return { subject: null, applicationProperties: null };
    }
  }

  // ---------------------------------------------------------------- replica queues

  /** Empties a replica queue before it is refilled from its original's snapshot; returns how
   * many messages it removed. */
  replicaClear(queueName: string): number {
    const queue = this.queueMap.get(queueName);
    if (!queue) return 0;
    const records: StoreRecord[] = [];
    const removed = queue.count;
    this.ensurePaged(queue);
    for (const entry of [...queue.liveEntries()]) this.removeEntry(entry, 'purged', records);
    if (records.length > 0) this.journal(records);
    return removed;
  }

  /** Places a message copied from an original queue (reference §1.13) on the replica queue;
   * returns its local position, or null if the queue is gone or full. */
  replicaEnqueue(queueName: string, record: EnqueueRecord): number | null {
    const queue = this.queueMap.get(queueName);
    if (!queue) return null;
    const incoming: IncomingMessage = { body: record.body, durable: record.persistent, expiresAtMs: record.expiresAtMs, subject: null, applicationProperties: null };
    if (queue.settings.policy === 'reject' && this.checkLimits([queue], record.body.length)) {
      this.logger.warn({ queue: queueName }, 'replica queue full; message not copied');
      return null;
    }
    this.enqueue([queue], incoming, 0);
    return queue.highestPosition;
  }

  /** Removes the replica's copy of a message its original dequeued. */
  replicaDequeue(queueName: string, position: number): void {
    const queue = this.queueMap.get(queueName);
    if (!queue) return;
    this.ensurePaged(queue);
    const entry = queue.entryAt(position);
    if (!entry || entry.state === 'removed') return;
    this.removeAndJournal(entry, 'consumed');
  }

  // ---------------------------------------------------------------- paging

  private loadPage(queue: Queue): void {
    const cursor = queue.pageCursor();
    if (!cursor) return;
    const stored = this.store.readQueue(queue.name, cursor.afterPosition, PAGE_SIZE).filter((e) => e.position <= cursor.lastPosition);
    const loaded: QueueEntry[] = [];
    const dropTransient: StoredQueueEntry[] = [];
    const damaged: StoredQueueEntry[] = [];
    for (const s of stored) {
      if (s.damaged !== undefined) {
        damaged.push(s);
        continue;
      }
      if (this.recoveryMode === 'local' && !s.persistent) {
        dropTransient.push(s);
        continue;
      }
      loaded.push({
        queue,
        position: s.position,
        message: this.recoveredMessage(s),
        // Recovered messages may have been delivered before the restart: say so (DESIGN.md §5).
        deliveryCount: 1,
        state: 'available',
        consumer: null,
        stored: true,
      });
    }
    // Transient messages do not survive a local restart; they were journaled only so that
    // replication had one ordered stream. They leave the paged region and the store here.
    queue.loadPage(loaded, [...dropTransient, ...damaged]);
    // An index entry that fails its checksum names no message we can trust: the position goes
    // to the quarantine as it is.
    for (const s of damaged) this.quarantine(queue, s.position, 0, `queue ${queue.name} position ${s.position}: ${s.damaged}`);
    if (dropTransient.length > 0) {
      this.journal(dropTransient.map((s) => ({ kind: 'dequeue', queue: s.queue, position: s.position, messageId: s.messageId, cause: 'deleted' as const })));
    }
  }

  private recoveredMessage(stored: StoredQueueEntry): BrokerMessage {
    let message = this.recoveredMessages.get(stored.messageId)?.deref();
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
      this.recoveredMessages.set(stored.messageId, new WeakRef(message));
    }
    message.refs++;
    return message;
  }

  /** Recovered messages shared by several queues map to one object while any holds it. */
  private readonly recoveredMessages = new Map<number, WeakRef<BrokerMessage>>();

  /** Loads every paged entry of a queue (before a purge or ring overflow needs the oldest). */
  private ensurePaged(queue: Queue): void {
    while (queue.pageCursor() !== null) this.loadPage(queue);
  }

  // ---------------------------------------------------------------- journal

  /** Every mutation of stored state goes through here, in the order it happens in memory. */
  private journal(records: StoreRecord[]): CommitTicket {
    // Failures are logged by the store (one line per failed batch) and handled by whoever
    // waits on the ticket (enqueueFailed, the ack gate).
    return this.store.commit(records);
  }
}

const NAME_MAX = 255;

function validateName(name: string, what: 'queue' | 'exchange'): void {
  if (name.length === 0 && what === 'queue') throw new BrokerError('INVALID_ARGUMENT', 'queue name must not be empty');
  if (name.length > NAME_MAX) throw new BrokerError('INVALID_ARGUMENT', `${what} name longer than ${NAME_MAX} characters`);
  if (/[\u0000-\u001f]/.test(name)) throw new BrokerError('INVALID_ARGUMENT', `${what} name contains control characters`);
}
