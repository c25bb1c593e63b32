// A replica queue (reference §1.13): a queue on this broker that follows a queue of the same
// name on another broker (standalone or a cluster, given by a Qpid URL) through that broker's
// record stream filtered to the queue. On every (re)connection the replica is refilled from a
// snapshot, then follows the live log: enqueues are placed on the local queue in order, and the
// original's dequeues remove the matching local entries (the original's positions are mapped to
// the local ones). Not in any ack gate: replication of a queue is asynchronous, as in the
// reference. The replica must not be consumed from or published to while it follows (the
// reference's warning applies).
//
// What the local queue held is replaced only at the end of a snapshot that shows the original
// queue exists (issue 19: `qpid-ha replicate` from a broker without the queue emptied a queue of
// 200 accepted messages). The first sync of a `replicate` without --force ('strict') also refuses
// a local queue that holds messages and a source that cannot be reached, leaving the queue as it
// was; a replica that already follows ('resume') keeps retrying an unreachable source, and one
// whose original is gone stops and keeps its copies.

import type { EnqueueRecord, QueueDeclareRecord } from '../../store/index.js';
import type { Broker } from '../broker/broker.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { formatAddress, type QpidAddress } from '../core/qpid-url.js';
import type { ReplicationChannel, ReplicationConnector } from './backup.js';
import type { PrimaryFrame } from './messages.js';

export interface QueueReplicaDeps {
  readonly broker: Broker;
  readonly connector: ReplicationConnector;
  readonly clock: Clock;
  readonly logger: Logger;
  /** This broker's name and store id (the original logs who follows it). */
  readonly name: string;
  readonly storeId: string;
  readonly queue: string;
  /** Where the original queue lives: every address is tried in turn. */
  readonly source: readonly QpidAddress[];
  readonly retryIntervalMs: number;
  /** How the first sync treats what the local queue holds (see the file comment): 'strict'
   * refuses a non-empty queue, a source without the queue and an unreachable source; 'force'
   * replaces whatever is there and keeps trying; 'resume' is a replica that already follows. */
  readonly mode: ReplicaMode;
}

export type ReplicaState = 'connecting' | 'catchup' | 'following' | 'stopped';
export type ReplicaMode = 'strict' | 'force' | 'resume';

/** How the first sync ended. A refusal stopped the replica and changed nothing locally. */
export type FirstSync =
  | { readonly kind: 'following'; readonly removed: number; readonly copied: number }
  | { readonly kind: 'refused'; readonly code: 'REPLICA_NOT_EMPTY' | 'REPLICA_SOURCE_UNREACHABLE' | 'REPLICA_SOURCE_NO_QUEUE' | 'NOT_ALLOWED'; readonly message: string };

export class QueueReplica {
  private stateValue: ReplicaState = 'connecting';
  private channel: ReplicationChannel | null = null;
  private generation = 0;
  private nextAddress = 0;
  private timer: TimerHandle | null = null;
  private chain: Promise<void> = Promise.resolve();
  /** The original's positions -> the local queue's. */
  private positions = new Map<number, number>();
  private snapshotEnqueues: EnqueueRecord[] = [];
  /** The queue's declare in the snapshot being received: null while the original is not seen. */
  private snapshotDeclare: QueueDeclareRecord | null = null;
  private appliedLsn = 0;
  private synced = false;
  /** Connections closed before the first sync; 'strict' gives up once every address failed. */
  private failedAttempts = 0;
  private resolveFirstSync: ((outcome: FirstSync) => void) | null = null;
  /** Settles once: the first snapshot applied, or the replica refused (and stopped). */
  readonly firstSync: Promise<FirstSync>;

  constructor(private readonly deps: QueueReplicaDeps) {
    this.firstSync = new Promise((resolve) => {
      this.resolveFirstSync = resolve;
    });
  }

  get state(): ReplicaState {
    return this.stateValue;
  }

  get lastLsn(): number {
    return this.appliedLsn;
  }

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.settleFirstSync({ kind: 'refused', code: 'REPLICA_SOURCE_UNREACHABLE', message: `replication of ${this.deps.queue} was stopped before it reached its original` });
    this.stateValue = 'stopped';
    this.timer?.cancel();
    this.generation++;
    this.channel?.close();
    this.channel = null;
  }

  private schedule(delayMs: number): void {
    if (this.stateValue === 'stopped') return;
    this.timer?.cancel();
    this.timer = this.deps.clock.setTimer(delayMs, () => this.connect());
  }

  private connect(): void {
    if (this.stateValue === 'stopped' || this.channel || this.deps.source.length === 0) return;
    const address = this.deps.source[this.nextAddress++ % this.deps.source.length] as QpidAddress;
    const generation = ++this.generation;
    this.stateValue = 'connecting';
    this.channel = this.deps.connector.connect(address, {
      opened: () => {
        if (generation !== this.generation) return;
        this.channel?.send({ kind: 'join', epoch: 0, name: this.deps.name, storeId: this.deps.storeId, address: null, epochSeen: 0, queue: this.deps.queue });
      },
      frame: (frame) => {
        if (generation !== this.generation) return;
        this.chain = this.chain
          .then(() => (generation === this.generation ? this.handle(frame) : undefined))
          .then(
            () => {
              if (generation === this.generation) this.channel?.processed();
            },
            (err: unknown) => {
              this.deps.logger.error({ err, queue: this.deps.queue }, 'replica queue update failed; resyncing');
              if (generation === this.generation) this.disconnected();
            },
          );
      },
      closed: (reason) => {
        if (generation !== this.generation) return;
        this.deps.logger.debug({ queue: this.deps.queue, address: formatAddress(address), reason }, 'replica queue link closed');
        this.disconnected();
      },
    });
  }

  private disconnected(): void {
    this.generation++;
    const channel = this.channel;
    this.channel = null;
    channel?.close();
    if (this.stateValue === 'stopped') return;
    this.stateValue = 'connecting';
    if (!this.synced && this.deps.mode === 'strict') {
      // Refused before anything local changed: every address was tried once.
      if (++this.failedAttempts >= this.deps.source.length) {
        const where = this.deps.source.map(formatAddress).join(', ');
        this.refuse('REPLICA_SOURCE_UNREACHABLE', `replicate: the original of ${this.deps.queue} at ${where} cannot be reached; nothing was changed (--force keeps trying)`);
        return;
      }
      this.schedule(0);
      return;
    }
    this.schedule(this.deps.retryIntervalMs);
  }

  private settleFirstSync(outcome: FirstSync): void {
    const resolve = this.resolveFirstSync;
    this.resolveFirstSync = null;
    resolve?.(outcome);
  }

  private refuse(code: Extract<FirstSync, { kind: 'refused' }>['code'], message: string): void {
    this.deps.logger.warn({ queue: this.deps.queue, code, reason: message }, 'replica queue refused; the local queue is unchanged');
    this.settleFirstSync({ kind: 'refused', code, message });
    this.stop();
  }

  private async handle(frame: PrimaryFrame): Promise<void> {
    const broker = this.deps.broker;
    const queue = this.deps.queue;
    switch (frame.kind) {
      case 'hello':
        // Following ourselves would copy every copy again, forever.
        if (frame.storeId === this.deps.storeId) {
          this.refuse('NOT_ALLOWED', `replicate: ${this.deps.source.map(formatAddress).join(', ')} is this broker; a queue cannot replicate itself`);
          return;
        }
        this.deps.logger.info({ queue, original: frame.name }, 'replica queue connected to the original; catching up');
        return;
      case 'snapshot-begin':
        this.stateValue = 'catchup';
        this.snapshotEnqueues = [];
        this.snapshotDeclare = null;
        this.appliedLsn = frame.lsn;
        return;
      case 'snapshot-records':
        for (const record of frame.records) {
          if (record.kind === 'queue-declare' && record.queue === queue) this.snapshotDeclare = record;
          else if (record.kind === 'enqueue') this.snapshotEnqueues.push(record);
        }
        return;
      case 'snapshot-end':
        this.snapshotEnded(frame.epoch);
        return;
      case 'log': {
        for (const entry of frame.entries) {
          const record = entry.record;
          if (record.kind === 'enqueue') {
            for (const target of record.targets) if (target.queue === queue) this.enqueue(record, target.position);
          } else if (record.kind === 'dequeue' && record.queue === queue) {
            const local = this.positions.get(record.position);
            if (local !== undefined) {
              this.positions.delete(record.position);
              broker.replicaDequeue(queue, local);
            }
          } else if (record.kind === 'queue-declare' && record.queue === queue) {
            this.ensureQueue(record);
          } else if (record.kind === 'queue-delete' && record.queue === queue) {
            this.deps.logger.warn({ queue }, 'the original queue was deleted; the replica stops following it');
            this.stop();
            return;
          }
          this.appliedLsn = record.kind === 'skip' ? record.lastLsn : entry.lsn;
        }
        this.channel?.send({ kind: 'confirm', epoch: frame.epoch, lsn: this.appliedLsn });
        return;
      }
      case 'state':
        return;
    }
  }

  /** The snapshot is complete: only now, and only when it shows the original queue, is the
   * local queue's content replaced. */
  private snapshotEnded(epoch: number): void {
    const broker = this.deps.broker;
    const queue = this.deps.queue;
    const first = !this.synced;
    const mode = first ? this.deps.mode : 'resume';
    const enqueues = this.snapshotEnqueues;
    this.snapshotEnqueues = [];
    const declare = this.snapshotDeclare;
    if (declare === null && mode !== 'force') {
      if (mode === 'strict') {
        this.refuse('REPLICA_SOURCE_NO_QUEUE', `replicate: the original broker has no durable or replicated queue ${queue}; nothing was changed (--force replicates anyway)`);
        return;
      }
      this.deps.logger.warn({ queue, kept: broker.queue(queue)?.count ?? 0 }, 'the original queue does not exist; the replica stops following it and keeps its messages');
      this.stop();
      return;
    }
    const held = broker.queue(queue)?.count ?? 0;
    if (mode === 'strict' && held > 0) {
      // Checked again here, not only when the command ran: a producer may have filled it since.
      this.refuse('REPLICA_NOT_EMPTY', `replicate: queue ${queue} holds ${held} messages, which the original's would replace; nothing was changed (--force replaces them)`);
      return;
    }
    // A snapshot may list a queue's messages out of position order: restore FIFO order.
    const ordered = enqueues
      .flatMap((record) => record.targets.filter((t) => t.queue === queue).map((t) => ({ record, position: t.position })))
      .sort((a, b) => a.position - b.position);
    if (declare !== null) this.ensureQueue(declare);
    const removed = broker.replicaClear(queue);
    this.positions = new Map();
    for (const { record, position } of ordered) this.enqueue(record, position);
    this.stateValue = 'following';
    this.synced = true;
    this.channel?.send({ kind: 'confirm', epoch, lsn: this.appliedLsn });
    this.deps.logger.info({ queue, copied: ordered.length, removed, first }, 'replica queue caught up');
    this.settleFirstSync({ kind: 'following', removed, copied: ordered.length });
  }

  private ensureQueue(declare: QueueDeclareRecord): void {
    const broker = this.deps.broker;
    if (broker.queue(this.deps.queue)) return;
    broker.declareQueue(
      { name: this.deps.queue, durable: declare.durable, autoDelete: false, exclusive: false, alternateExchange: null, arguments: declare.arguments },
      null,
    );
  }

  private enqueue(record: EnqueueRecord, originalPosition: number): void {
    const local = this.deps.broker.replicaEnqueue(this.deps.queue, record);
    if (local !== null) this.positions.set(originalPosition, local);
  }
}
