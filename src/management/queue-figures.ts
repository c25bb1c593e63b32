// What operators watch per queue and per backup (issue 18): depth, bytes, rates, consumers,
// flow control, and the replication exposure: for each queue the messages accepted here and
// not yet confirmed by every backup of the ack gate (what a failover now would lose: the RPO),
// for each backup its lag. Everything is read at request time from counters the broker keeps
// anyway (Queue.enqueuedTotal/dequeuedTotal, the gate's confirmed LSNs, the ship ledger), so
// the messaging path pays nothing for it.

import type { MessagingService } from '../amqp/server.js';
import type { Queue } from '../broker/queue.js';
import type { HaNode } from '../ha/node.js';
import type { BackupLag } from '../ha/primary.js';

export interface QueueFigures {
  readonly name: string;
  readonly durable: boolean;
  readonly replicate: string;
  readonly depth: number;
  readonly bytes: number;
  readonly acquired: number;
  readonly consumers: number;
  readonly flowStopped: boolean;
  readonly enqueuedTotal: number;
  readonly dequeuedTotal: number;
  /** Messages per second over the last sample interval (at least RATE_INTERVAL_MS). */
  readonly enqueueRate: number;
  readonly dequeueRate: number;
  /** On the queue, and not yet on every backup of the ack gate (0 without backups in it). */
  readonly unreplicatedMessages: number;
  readonly unreplicatedBytes: number;
  /** Messages found unreadable (checksum failures) and quarantined since the broker started. */
  readonly quarantined: number;
}

/** Rates are differences between samples at least this far apart. */
export const RATE_INTERVAL_MS = 1000;

interface RateSample {
  atMs: number;
  enqueued: number;
  dequeued: number;
  enqueueRate: number;
  dequeueRate: number;
}

/** Enqueue and dequeue rates, sampled lazily when asked (no timer): a rate is the change of the
 * queue's totals between the last two samples, which are at least RATE_INTERVAL_MS apart. */
export class QueueRates {
  private readonly samples = new WeakMap<Queue, RateSample>();

  rateOf(queue: Queue, nowMs: number): { enqueueRate: number; dequeueRate: number } {
    const sample = this.samples.get(queue);
    if (!sample) {
      this.samples.set(queue, { atMs: nowMs, enqueued: queue.enqueuedTotal, dequeued: queue.dequeuedTotal, enqueueRate: 0, dequeueRate: 0 });
      return { enqueueRate: 0, dequeueRate: 0 };
    }
    const elapsedMs = nowMs - sample.atMs;
    if (elapsedMs >= RATE_INTERVAL_MS) {
      sample.enqueueRate = ((queue.enqueuedTotal - sample.enqueued) * 1000) / elapsedMs;
      sample.dequeueRate = ((queue.dequeuedTotal - sample.dequeued) * 1000) / elapsedMs;
      sample.atMs = nowMs;
      sample.enqueued = queue.enqueuedTotal;
      sample.dequeued = queue.dequeuedTotal;
    }
    return { enqueueRate: sample.enqueueRate, dequeueRate: sample.dequeueRate };
  }
}

/** The LSN every backup of the gate has confirmed; null when nothing is being replicated to a
 * gate (standalone, a backup, or a primary with no backup in its gate). */
export function replicationFloor(service: MessagingService): number | null {
  return service.settlements.gate.confirmedFloor;
}

export function queueFigures(queue: Queue, floorLsn: number | null, rates: QueueRates, nowMs: number): QueueFigures {
  const unreplicated = floorLsn !== null && queue.settings.replicate === 'all' ? queue.unreplicatedAbove(floorLsn) : { messages: 0, bytes: 0 };
  const rate = rates.rateOf(queue, nowMs);
  return {
    name: queue.name,
    durable: queue.settings.durable,
    replicate: queue.settings.replicate,
    depth: queue.count,
    bytes: queue.bytes,
    acquired: queue.acquiredCount,
    consumers: queue.consumers.length,
    flowStopped: queue.flowStopped,
    enqueuedTotal: queue.enqueuedTotal,
    dequeuedTotal: queue.dequeuedTotal,
    enqueueRate: Math.round(rate.enqueueRate * 10) / 10,
    dequeueRate: Math.round(rate.dequeueRate * 10) / 10,
    unreplicatedMessages: unreplicated.messages,
    unreplicatedBytes: unreplicated.bytes,
    quarantined: queue.quarantinedTotal,
  };
}

/** The broker's replication exposure in one answer: its backups' lag and the totals of what is
 * not yet on every backup of the gate. */
export interface ReplicationSummary {
  readonly name: string;
  readonly state: string;
  readonly epoch: number;
  readonly lastLsn: number;
  /** What every backup of the gate confirmed (null: no gate with backups). */
  readonly confirmedFloorLsn: number | null;
  readonly backups: readonly BackupLag[];
  readonly unreplicatedMessages: number;
  readonly unreplicatedBytes: number;
  /** Messages quarantined (checksum failures) since the store was opened. */
  readonly quarantined: number;
}

export function replicationSummary(ha: HaNode): ReplicationSummary {
  const status = ha.status();
  const service = ha.service();
  const floor = service ? replicationFloor(service) : null;
  let messages = 0;
  let bytes = 0;
  if (service && floor !== null) {
    for (const queue of service.broker.queues) {
      if (queue.settings.replicate !== 'all') continue;
      const u = queue.unreplicatedAbove(floor);
      messages += u.messages;
      bytes += u.bytes;
    }
  }
  return {
    name: status.name,
    state: status.state,
    epoch: status.epoch,
    lastLsn: status.lastLsn,
    confirmedFloorLsn: floor,
    backups: ha.replicationLag(),
    unreplicatedMessages: messages,
    unreplicatedBytes: bytes,
    quarantined: status.recovery?.lostCount ?? 0,
  };
}
