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
// Broker is a thin facade: the work is done by functions over one shared BrokerState
// (state.ts), in catalog.ts, publish.ts, consume.ts, expiry.ts, paging.ts, replica.ts and
// transact.ts (AMQP 1.0 local transactions; their state machine is transaction.ts).
//
// Settling producers is not done here: publish() says what must happen before the producer may
// be told `accepted` (an LSN to be durable and confirmed, or the message consumed), and the ack
// gate (src/ha/ack-gate.ts) decides when that has happened.

import type { Arguments, CommitTicket, EnqueueRecord } from '../../store/index.js';
import { REPLICATE_LEVELS } from './arguments.js';
import type { Exchange } from './exchange.js';
import type { Consumer, Queue, QueueEntry, ReplicateLevel } from './queue.js';
import { BrokerState } from './state.js';
import type { BrokerDeps, ConfigChange, ConsumerOutcome, ExchangeDeclare, IncomingMessage, PublishOutcome, PublishTarget, QueueDeclare, RecoveryMode, SettlementHold } from './types.js';
import * as catalog from './catalog.js';
import * as publish from './publish.js';
import * as consume from './consume.js';
import * as expiry from './expiry.js';
import * as replica from './replica.js';
import * as transact from './transact.js';
import { duplicateHold } from './dedup.js';
import type { BufferedDequeue, BufferedEnqueue } from './transaction.js';

export * from './types.js';

export class Broker {
  private readonly s: BrokerState;

  constructor(deps: BrokerDeps) {
    this.s = new BrokerState(deps);
  }

  /** Rebuilds the in-memory catalog from the store: no log replay, no message bodies; queue
   * entries stay in the store and are paged in as consumers need them. */
  recover(mode: RecoveryMode): { queues: number; messages: number; dropped: string[] } {
    return catalog.recover(this.s, mode);
  }

  queue(name: string): Queue | undefined {
    return this.s.queueMap.get(name);
  }

  exchange(name: string): Exchange | undefined {
    return this.s.exchangeMap.get(name);
  }

  get queues(): IterableIterator<Queue> {
    return this.s.queueMap.values();
  }

  get exchanges(): IterableIterator<Exchange> {
    return this.s.exchangeMap.values();
  }

  isQueueStored(name: string): boolean {
    return this.s.storedQueues.has(name);
  }

  /** The effective replication level of a queue or exchange given its arguments. */
  replicateLevel(args: Arguments): ReplicateLevel {
    const value = args['qpid.replicate'];
    if (typeof value === 'string' && (REPLICATE_LEVELS as readonly string[]).includes(value)) return value as ReplicateLevel;
    return this.s.replication.defaultLevel;
  }

  /** Every producer is paused (the reason) or not (null): a primary reserving capacity for a
   * backup's catch-up (src/ha/catch-up-throttle.ts). Producers hear it through onProducerPause. */
  pauseProducers(reason: string | null): void {
    if (reason === this.s.producerPause) return;
    this.s.producerPause = reason;
    for (const listener of this.s.pauseListeners) listener(reason);
  }

  get producersPaused(): boolean {
    return this.s.producerPause !== null;
  }

  onProducerPause(listener: (reason: string | null) => void): () => void {
    this.s.pauseListeners.add(listener);
    return () => this.s.pauseListeners.delete(listener);
  }

  /** Producers of a queue hear when it stops and resumes (src/amqp/producer-flow.ts). */
  onQueueFlow(listener: (queue: Queue, stopped: boolean) => void): () => void {
    this.s.flowListeners.add(listener);
    return () => this.s.flowListeners.delete(listener);
  }

  /** Declares a queue, or checks an existing one. Re-declaring with different durability is a
   * precondition failure, as in Qpid; other differences are ignored (the first declare wins). */
  declareQueue(declare: QueueDeclare, owner: string | null): ConfigChange & { queue: Queue } {
    return catalog.declareQueue(this.s, declare, owner);
  }

  declareExchange(declare: ExchangeDeclare): ConfigChange & { exchange: Exchange } {
    return catalog.declareExchange(this.s, declare);
  }

  /** What a configuration change is answered after: its own commit, or, for one that changed
   * nothing (the object exists already, or is already gone), everything journaled so far. The
   * change that made the object may be journaled and not yet settled: a second declare from an
   * operator retrying must not confirm it before the first could (found by the simulator, etcd
   * seed 2196: an exchange confirmed, by the retry, to exist while the one backup in the gate
   * had not confirmed its declare; that backup was promoted without it). */
  configSettlement(change: ConfigChange): SettlementHold | null {
    if (change.ticket) return { messageId: 0, ticket: change.ticket, lsn: change.ticket.lastLsn, needsDurable: true };
    const barrier = duplicateHold(this.s);
    return barrier.lsn === null ? null : barrier;
  }

  deleteQueue(name: string, options: { ifEmpty?: boolean; ifUnused?: boolean } = {}): ConfigChange {
    return catalog.deleteQueue(this.s, name, options);
  }

  deleteExchange(name: string): ConfigChange {
    return catalog.deleteExchange(this.s, name);
  }

  bind(exchangeName: string, queueName: string, key: string, args: Arguments): ConfigChange {
    return catalog.bind(this.s, exchangeName, queueName, key, args);
  }

  unbind(exchangeName: string, queueName: string, key: string): ConfigChange {
    return catalog.unbind(this.s, exchangeName, queueName, key);
  }

  /** A connection closed: exclusive queues it owned go (as in Qpid, they live with their owner). */
  connectionClosed(owner: string): void {
    catalog.connectionClosed(this.s, owner);
  }

  publish(target: PublishTarget, incoming: IncomingMessage): PublishOutcome {
    return publish.publish(this.s, target, incoming);
  }

  /** Routes and checks a message as publish() would, placing nothing: a transactional transfer
   * is answered with this outcome provisionally (AMQP 1.0 §4.4.1) and placed at commit. */
  checkPublish(target: PublishTarget, incoming: IncomingMessage): PublishOutcome {
    return publish.publish(this.s, target, incoming, 'check');
  }

  /** A consumer settled an acquired entry inside a transaction: the transaction holds it. */
  holdForTransaction(entry: QueueEntry): void {
    entry.queue.holdForTransaction(entry);
  }

  /** Commits a transaction's buffered work as one store commit (transact.ts). */
  commitTransaction(enqueues: readonly BufferedEnqueue[], dequeues: readonly BufferedDequeue[]): SettlementHold {
    return transact.commitTransaction(this.s, enqueues, dequeues);
  }

  /** Rolls a transaction back: its dequeued messages go back to their queues. */
  rollbackTransaction(dequeues: readonly BufferedDequeue[]): void {
    transact.rollbackTransaction(this.s, dequeues);
  }

  subscribe(queueName: string, consumer: Consumer, owner: string | null): Queue {
    return consume.subscribe(this.s, queueName, consumer, owner);
  }

  /** A consumer went away: what it held goes back to the queue, counted as a delivery attempt
   * (it may have been processed). An auto-delete queue goes with its last consumer. */
  unsubscribe(queue: Queue, consumer: Consumer): void {
    consume.unsubscribe(this.s, queue, consumer);
  }

  /** A consumer's settlement of an entry it was given. */
  settle(entry: QueueEntry, outcome: ConsumerOutcome): void {
    consume.settle(this.s, entry, outcome);
  }

  /** The encoded bytes of an entry's message, read from the store if not in memory. Only for
   * entries dispatch has checked (readable): the body it read is handed over, not read again. */
  bodyOf(entry: QueueEntry): Uint8Array {
    return consume.bodyOf(this.s, entry);
  }

  /** Messages quarantined since this broker started. */
  get quarantinedCount(): number {
    return this.s.quarantinedCount;
  }

  /** Offers available entries to consumers with capacity, round robin. Re-entrant calls (a
   * consumer settling synchronously from take()) are folded into the running loop. */
  dispatch(queue: Queue): void {
    consume.dispatch(this.s, queue);
  }

  /** Expires every available entry past its time on every queue (a periodic sweep, so that
   * queues without consumers free their space and dead-letter on time). */
  expireAll(): number {
    return expiry.expireAll(this.s);
  }

  /** Removes every available entry (qpid-config purge). */
  purge(queueName: string): { purged: number; ticket: CommitTicket | null } {
    return expiry.purge(this.s, queueName);
  }

  /** Empties a replica queue before it is refilled from its original's snapshot; returns how
   * many messages it removed. */
  replicaClear(queueName: string): number {
    return replica.replicaClear(this.s, queueName);
  }

  /** Places a message copied from an original queue (reference §1.13) on the replica queue;
   * returns its local position, or null if the queue is gone or full. */
  replicaEnqueue(queueName: string, record: EnqueueRecord): number | null {
    return replica.replicaEnqueue(this.s, queueName, record);
  }

  /** Removes the replica's copy of a message its original dequeued. */
  replicaDequeue(queueName: string, position: number): void {
    replica.replicaDequeue(this.s, queueName, position);
  }
}
