// /metrics by Prometheus conventions (issue 18), with prom-client on a registry of this
// broker's own (never the global one: tests and embedders run several brokers in a process).
// Names are qpidd_<thing>_<unit> (_total for counters, _bytes, _seconds), labels queue, backup,
// exchange, and broker on every series (a default label). Per-queue and per-backup gauges are
// filled when scraped (collect callbacks over one snapshot taken per scrape), never per message;
// the only per-message cost is the settle-latency histogram's observe. Process and Node
// runtime metrics come from collectDefaultMetrics.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { HaNode, HaStatus } from '../ha/node.js';
import type { BackupLag } from '../ha/primary.js';
import { queueFigures, QueueRates, replicationFloor, type QueueFigures } from './queue-figures.js';

/** Queues with series in /metrics; beyond, qpidd_metrics_queues_omitted counts them. */
export const METRICS_QUEUES_MAX = 10_000;
const HA_STATES = ['standalone', 'joining', 'catchup', 'ready', 'recovering', 'active'] as const;
/** Settling waits for a group commit (ms) and, in a cluster, for the backups (ms to s). */
const SETTLE_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CONFIRM_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What one scrape reads, taken once at its start so that every family agrees. */
interface Snapshot {
  readonly status: HaStatus;
  readonly queues: readonly QueueFigures[];
  readonly omitted: number;
  readonly exchanges: readonly { name: string; unrouted: number }[];
  readonly backups: readonly BackupLag[];
  readonly pendingSettlements: number;
  readonly quarantined: number;
}

export class BrokerMetrics {
  readonly registry = new Registry();
  private snapshot: Snapshot | null = null;
  /** Rates are not exported (Prometheus derives them from the counters); figures need one. */
  private readonly rates = new QueueRates();

  constructor(private readonly ha: HaNode) {
    const r = this.registry;
    r.setDefaultLabels({ broker: ha.status().name });
    collectDefaultMetrics({ register: r });
    const snap = (): Snapshot => this.snapshot ?? this.take();
    const gauge = (name: string, help: string, labelNames: readonly string[], fill: (g: Gauge<string>, s: Snapshot) => void): void => {
      new Gauge({
        name,
        help,
        labelNames,
        registers: [r],
        collect() {
          if (labelNames.length > 0) this.reset();
          fill(this, snap());
        },
      });
    };
    const counter = (name: string, help: string, labelNames: readonly string[], fill: (c: Counter<string>, s: Snapshot) => void): void => {
      new Counter({
        name,
        help,
        labelNames,
        registers: [r],
        collect() {
          this.reset();
          fill(this, snap());
        },
      });
    };

    gauge('qpidd_ha_state', 'The HA state of the broker: 1 for the current state', ['state'], (g, s) => {
      for (const state of HA_STATES) g.set({ state }, s.status.state === state ? 1 : 0);
    });
    gauge('qpidd_epoch', 'The HA epoch (raised by every promotion)', [], (g, s) => g.set(s.status.epoch));
    gauge('qpidd_store_last_lsn', 'The last LSN in the store', [], (g, s) => g.set(s.status.lastLsn));
    gauge('qpidd_store_first_lsn', 'The first LSN the store still holds', [], (g, s) => g.set(s.status.firstLsn));
    gauge('qpidd_store_full', '1 while commits fail for lack of space', [], (g, s) => g.set(s.status.storeCondition.full ? 1 : 0));
    counter('qpidd_messages_lost_total', 'Messages quarantined since the store was opened (checksum failures)', [], (c, s) => c.inc(s.quarantined));
    gauge('qpidd_pending_settlements', 'Producer deliveries and configuration changes waiting for the ack gate', [], (g, s) => g.set(s.pendingSettlements));

    gauge('qpidd_queue_depth', 'Messages on the queue (available, acquired and paged out)', ['queue'], (g, s) => {
      for (const q of s.queues) g.set({ queue: q.name }, q.depth);
    });
    gauge('qpidd_queue_bytes', 'Bytes of the messages on the queue', ['queue'], (g, s) => {
      for (const q of s.queues) g.set({ queue: q.name }, q.bytes);
    });
    gauge('qpidd_queue_acquired', 'Messages of the queue delivered to consumers and not yet settled', ['queue'], (g, s) => {
      for (const q of s.queues) g.set({ queue: q.name }, q.acquired);
    });
    gauge('qpidd_queue_consumers', 'Consumers of the queue', ['queue'], (g, s) => {
      for (const q of s.queues) g.set({ queue: q.name }, q.consumers);
    });
    gauge('qpidd_queue_flow_stopped', '1 while the queue is past its flow stop threshold (its producers get no credit)', ['queue'], (g, s) => {
      for (const q of s.queues) g.set({ queue: q.name }, q.flowStopped ? 1 : 0);
    });
    counter('qpidd_queue_enqueued_total', 'Messages placed on the queue since the broker started serving', ['queue'], (c, s) => {
      for (const q of s.queues) c.inc({ queue: q.name }, q.enqueuedTotal);
    });
    counter('qpidd_queue_dequeued_total', 'Messages taken off the queue (consumed, expired, purged, dropped) since the broker started serving', ['queue'], (c, s) => {
      for (const q of s.queues) c.inc({ queue: q.name }, q.dequeuedTotal);
    });
    gauge('qpidd_queue_unreplicated_messages', 'Messages on the queue not yet confirmed by every backup of the ack gate: lost if the primary died now', ['queue'], (g, s) => {
      for (const q of s.queues) g.set({ queue: q.name }, q.unreplicatedMessages);
    });
    gauge('qpidd_queue_unreplicated_bytes', 'Bytes of the messages on the queue not yet confirmed by every backup of the ack gate', ['queue'], (g, s) => {
      for (const q of s.queues) g.set({ queue: q.name }, q.unreplicatedBytes);
    });
    gauge('qpidd_metrics_queues_omitted', `Queues beyond the ${METRICS_QUEUES_MAX} shown in /metrics`, [], (g, s) => g.set(s.omitted));
    counter('qpidd_exchange_unrouted_total', 'Messages no binding of the exchange took (dropped, or refused under qpid.unroutable)', ['exchange'], (c, s) => {
      for (const e of s.exchanges) c.inc({ exchange: e.name }, e.unrouted);
    });

    gauge('qpidd_backup_confirmed_lsn', 'The last LSN the backup confirmed durable', ['backup'], (g, s) => {
      for (const b of s.backups) g.set({ backup: b.name }, b.confirmedLsn);
    });
    gauge('qpidd_backup_lag_records', 'Log records the primary holds beyond what the backup confirmed', ['backup'], (g, s) => {
      for (const b of s.backups) g.set({ backup: b.name }, b.lagRecords);
    });
    gauge('qpidd_backup_lag_bytes', 'Bytes shipped to the backup and not confirmed, and bytes waiting to be shipped', ['backup'], (g, s) => {
      for (const b of s.backups) g.set({ backup: b.name }, b.lagBytes);
    });
    gauge('qpidd_backup_lag_seconds', 'How long the oldest batch shipped to the backup has waited for its confirmation', ['backup'], (g, s) => {
      for (const b of s.backups) g.set({ backup: b.name }, b.lagSeconds);
    });
    gauge('qpidd_backup_ready', '1 when the backup is ready (promotable)', ['backup'], (g, s) => {
      for (const b of s.backups) g.set({ backup: b.name }, b.state === 'ready' ? 1 : 0);
    });
    gauge('qpidd_backup_in_gate', '1 when the backup is in the ack gate (producers wait for its confirmations)', ['backup'], (g, s) => {
      for (const b of s.backups) g.set({ backup: b.name }, b.inGate ? 1 : 0);
    });

    const settle = new Histogram({ name: 'qpidd_settle_latency_seconds', help: 'From a producer delivery accepted by the broker to its settlement (durable here and on every backup of the gate, or consumed)', buckets: SETTLE_BUCKETS_S, registers: [r] });
    const confirm = new Histogram({ name: 'qpidd_replication_confirm_latency_seconds', help: 'From a log batch shipped to a backup to its confirmation', labelNames: ['backup'], buckets: CONFIRM_BUCKETS_S, registers: [r] });
    ha.instruments.settleLatency = (seconds) => settle.observe(seconds);
    ha.instruments.confirmLatency = (backup, seconds) => confirm.observe({ backup }, seconds);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text of one scrape. */
  async text(): Promise<string> {
    this.snapshot = this.take();
    try {
      return await this.registry.metrics();
    } finally {
      this.snapshot = null;
    }
  }

  private take(): Snapshot {
    const status = this.ha.status();
    const service = this.ha.service();
    const queues: QueueFigures[] = [];
    let omitted = 0;
    const exchanges: { name: string; unrouted: number }[] = [];
    if (service) {
      const floor = replicationFloor(service);
      const nowMs = performance.now();
      for (const q of service.broker.queues) {
        if (queues.length >= METRICS_QUEUES_MAX) omitted++;
        else queues.push(queueFigures(q, floor, this.rates, nowMs));
      }
      for (const e of service.broker.exchanges) exchanges.push({ name: e.name, unrouted: e.unroutedCount });
    }
    return {
      status,
      queues,
      omitted,
      exchanges,
      backups: this.ha.replicationLag(),
      pendingSettlements: service?.settlements.pending ?? 0,
      quarantined: status.recovery?.lostCount ?? 0,
    };
  }
}
