// A replica queue (reference §1.13): a queue on this broker that follows a queue of the same
// name on another broker (standalone or a cluster, given by a Qpid URL) through that broker's
// record stream filtered to the queue. On every (re)connection the replica is cleared and
// refilled from a snapshot, then follows the live log: enqueues are placed on the local queue
// in order, and the original's dequeues remove the matching local entries (the original's
// positions are mapped to the local ones). Not in any ack gate: replication of a queue is
// asynchronous, as in the reference. The replica must not be consumed from or published to
// while it follows (the reference's warning applies).

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
}

export type ReplicaState = 'connecting' | 'catchup' | 'following' | 'stopped';

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
  private appliedLsn = 0;

  constructor(private readonly deps: QueueReplicaDeps) {}

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
    this.schedule(this.deps.retryIntervalMs);
  }

  private async handle(frame: PrimaryFrame): Promise<void> {
    const broker = this.deps.broker;
    const queue = this.deps.queue;
    switch (frame.kind) {
      case 'hello':
        this.deps.logger.info({ queue, original: frame.name }, 'replica queue connected to the original; catching up');
        return;
      case 'snapshot-begin':
        this.stateValue = 'catchup';
        this.snapshotEnqueues = [];
        this.positions = new Map();
        broker.replicaClear(queue);
        this.appliedLsn = frame.lsn;
        return;
      case 'snapshot-records':
        for (const record of frame.records) {
          if (record.kind === 'queue-declare') this.ensureQueue(record);
          else if (record.kind === 'enqueue') this.snapshotEnqueues.push(record);
        }
        return;
      case 'snapshot-end': {
        // A snapshot may list a queue's messages out of position order: restore FIFO order.
        const ordered = this.snapshotEnqueues
          .flatMap((record) => record.targets.filter((t) => t.queue === queue).map((t) => ({ record, position: t.position })))
          .sort((a, b) => a.position - b.position);
        for (const { record, position } of ordered) this.enqueue(record, position);
        this.snapshotEnqueues = [];
        this.stateValue = 'following';
        this.channel?.send({ kind: 'confirm', epoch: frame.epoch, lsn: this.appliedLsn });
        this.deps.logger.info({ queue, messages: ordered.length }, 'replica queue caught up');
        return;
      }
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
