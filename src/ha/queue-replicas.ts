// The replica queues one broker keeps (reference §1.13): each a QueueReplica following the queue
// of the same name on another broker. Kept apart from the HA node, whose role they do not
// change: a standalone broker can keep them too (--ha-queue-replication yes).

import type { Broker } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import type { Clock } from '../core/clock.js';
import type { BrokerLogger } from '../core/log.js';
import { parseQpidUrl } from '../core/qpid-url.js';
import type { ReplicationConnector } from './backup.js';
import { QueueReplica, type ReplicaMode } from './queue-replica.js';

export interface QueueReplicasDeps {
  readonly name: string;
  readonly storeId: () => string;
  readonly connector: () => ReplicationConnector;
  readonly clock: Clock;
  readonly logger: BrokerLogger;
  readonly retryIntervalMs: number;
}

export interface ReplicaSummary {
  readonly queue: string;
  readonly state: string;
  readonly lastLsn: number;
}

export class QueueReplicas {
  private readonly replicas = new Map<string, QueueReplica>();

  constructor(private readonly deps: QueueReplicasDeps) {}

  /** Makes `queue` of `broker` a replica of the queue of the same name at `source` (a Qpid
   * URL): 'strict', or 'force' with --force, and 'resume' at a restart. The replica's firstSync
   * says how its first snapshot went; nothing local changes before it (queue-replica.ts). A
   * replica that is refused is forgotten. */
  start(broker: Broker, queue: string, source: string, mode: ReplicaMode): QueueReplica {
    let url;
    try {
      url = parseQpidUrl(source);
    } catch (err) {
      throw new BrokerError('BAD_URL', `replicate: ${(err as Error).message}`);
    }
    this.replicas.get(queue)?.stop();
    const replica = new QueueReplica({
      broker,
      connector: this.deps.connector(),
      clock: this.deps.clock,
      logger: this.deps.logger.child({ module: 'queue-replica', queue }),
      name: this.deps.name,
      storeId: this.deps.storeId(),
      queue,
      source: url.addresses,
      retryIntervalMs: this.deps.retryIntervalMs,
      mode,
    });
    this.replicas.set(queue, replica);
    void replica.firstSync.then((outcome) => {
      if (outcome.kind === 'refused' && this.replicas.get(queue) === replica) this.replicas.delete(queue);
    });
    replica.start();
    this.deps.logger.info({ queue, source, mode }, 'replica queue started');
    return replica;
  }

  /** Replica queues declared with qpid.replica-source follow their original again. */
  resume(broker: Broker): void {
    for (const queue of broker.queues) {
      const source = queue.settings.arguments['qpid.replica-source'];
      if (typeof source === 'string') this.start(broker, queue.name, source, 'resume');
    }
  }

  summary(): ReplicaSummary[] {
    return [...this.replicas].map(([queue, r]) => ({ queue, state: r.state, lastLsn: r.lastLsn }));
  }

  stop(): void {
    for (const replica of this.replicas.values()) replica.stop();
    this.replicas.clear();
  }
}
