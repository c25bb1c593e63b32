// /metrics by Prometheus conventions (issue 18), with prom-client on a registry of this
// broker's own (never the global one: tests and embedders run several brokers in a process).
// Names are qpidd_<thing>_<unit> (_total for counters, _bytes, _seconds), labels queue, backup,
// exchange, and broker on every series (a default label). Per-queue and per-backup gauges are
// filled when scraped (collect callbacks over one snapshot taken per scrape), never per message;
// the only per-message cost is the settle-latency histogram's observe. Process and Node
// runtime metrics come from collectDefaultMetrics, on a registry of their own whose text is
// kept for RUNTIME_TEXT_MS: collecting them costs about 1 ms a scrape (the event-loop delay
// histogram's stddev and percentiles, readdir of /proc/self/fd, /proc reads), which a console
// polling at 10/s turned into a measurable share of the broker's CPU; figures of the process
// change little within a second, and Prometheus scrapes every 10-60 s.

import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { LatencyHistogram, registerHistogram } from './latency-histogram.js';
import type { HaNode, HaStatus } from '../ha/node.js';
import type { BackupLag } from '../ha/primary.js';
import { queueFigures, QueueRates, replicationFloor, type QueueFigures } from './queue-figures.js';

/** Queues with series in /metrics; beyond, qpidd_metrics_queues_omitted counts them. */
export const METRICS_QUEUES_MAX = 10_000;
const HA_STATES = ['standalone', 'joining', 'catchup', 'ready', 'recovering', 'active'] as const;
/** Settling waits for a group commit (ms) and, in a cluster, for the backups (ms to s). */
const SETTLE_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** How long the runtime families' text is reused. */
export const RUNTIME_TEXT_MS = 1000;
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
  /** The process and Node runtime families, collected at most once per RUNTIME_TEXT_MS. */
  private readonly runtime = new Registry();
  private runtimeText: { text: Promise<string>; atMs: number } | null = null;
  private snapshot: Snapshot | null = null;
  /** Rates are not exported (Prometheus derives them from the counters); figures need one. */
  private readonly rates = new QueueRates();

  private readonly brokerLabel: string;

  constructor(private readonly ha: HaNode) {
    const r = this.registry;
    this.brokerLabel = `broker="${escapeLabel(ha.status().name)}"`;
    r.setDefaultLabels({ broker: ha.status().name });
    this.runtime.setDefaultLabels({ broker: ha.status().name });
    collectDefaultMetrics({ register: this.runtime });
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

    // The settle latency is observed once per delivery: a histogram of our own, shown through
    // the registry (latency-histogram.ts says why).
    const settle = new LatencyHistogram(SETTLE_BUCKETS_S);
    registerHistogram(r, 'qpidd_settle_latency_seconds', 'From a producer delivery accepted by the broker to its settlement (durable here and on every backup of the gate, or consumed)', () => [{ labels: {}, histogram: settle }]);
    const confirm = new Map<string, LatencyHistogram>();
    registerHistogram(r, 'qpidd_replication_confirm_latency_seconds', 'From a log batch shipped to a backup to its confirmation', () => [...confirm].map(([backup, histogram]) => ({ labels: { backup }, histogram })));
    ha.instruments.settleLatency = (seconds) => settle.observe(seconds);
    ha.instruments.confirmLatency = (backup, seconds) => {
      let h = confirm.get(backup);
      if (!h) confirm.set(backup, (h = new LatencyHistogram(CONFIRM_BUCKETS_S)));
      h.observe(seconds);
    };
    ha.instruments.enabled = true;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text of one scrape: the runtime families, prom-client's broker families, then the
   * per-queue and per-exchange ones. */
  async text(): Promise<string> {
    const runtime = this.runtimeFamilies();
    const snapshot = this.take();
    this.snapshot = snapshot;
    try {
      const text = await this.registry.metrics();
      return `${await runtime}${text}${seriesText(snapshot, this.brokerLabel)}`;
    } finally {
      this.snapshot = null;
    }
  }

  private runtimeFamilies(): Promise<string> {
    const nowMs = performance.now();
    if (this.runtimeText === null || nowMs - this.runtimeText.atMs >= RUNTIME_TEXT_MS) {
      const text = this.runtime.metrics();
      // A failed collection is not kept: the next scrape tries again.
      text.catch(() => {
        if (this.runtimeText?.text === text) this.runtimeText = null;
      });
      this.runtimeText = { text, atMs: nowMs };
    }
    return this.runtimeText.text;
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

/** A family with a series per queue (or exchange): its name, TYPE, HELP and value. */
interface SeriesFamily<T> {
  readonly name: string;
  readonly type: 'gauge' | 'counter';
  readonly help: string;
  readonly value: (row: T) => number;
}

const QUEUE_FAMILIES: readonly SeriesFamily<QueueFigures>[] = [
  { name: 'qpidd_queue_depth', type: 'gauge', help: 'Messages on the queue (available, acquired and paged out)', value: (q) => q.depth },
  { name: 'qpidd_queue_bytes', type: 'gauge', help: 'Bytes of the messages on the queue', value: (q) => q.bytes },
  { name: 'qpidd_queue_acquired', type: 'gauge', help: 'Messages of the queue delivered to consumers and not yet settled', value: (q) => q.acquired },
  { name: 'qpidd_queue_consumers', type: 'gauge', help: 'Consumers of the queue', value: (q) => q.consumers },
  { name: 'qpidd_queue_flow_stopped', type: 'gauge', help: '1 while the queue is past its flow stop threshold (its producers get no credit)', value: (q) => (q.flowStopped ? 1 : 0) },
  { name: 'qpidd_queue_enqueued_total', type: 'counter', help: 'Messages placed on the queue since the broker started serving', value: (q) => q.enqueuedTotal },
  { name: 'qpidd_queue_dequeued_total', type: 'counter', help: 'Messages taken off the queue (consumed, expired, purged, dropped) since the broker started serving', value: (q) => q.dequeuedTotal },
  { name: 'qpidd_queue_unreplicated_messages', type: 'gauge', help: 'Messages on the queue not yet confirmed by every backup of the ack gate: lost if the primary died now', value: (q) => q.unreplicatedMessages },
  { name: 'qpidd_queue_quarantined_total', type: 'counter', help: 'Messages of the queue found unreadable (checksum failures) and quarantined since the broker started', value: (q) => q.quarantined },
  { name: 'qpidd_queue_unreplicated_bytes', type: 'gauge', help: 'Bytes of the messages on the queue not yet confirmed by every backup of the ack gate', value: (q) => q.unreplicatedBytes },
];

const EXCHANGE_FAMILIES: readonly SeriesFamily<{ name: string; unrouted: number }>[] = [
  { name: 'qpidd_exchange_unrouted_total', type: 'counter', help: 'Messages no binding of the exchange took (dropped, or refused under qpid.unroutable)', value: (e) => e.unrouted },
];

/** Label values escaped as the text format says: backslash, double quote and line feed. */
function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** The per-queue and per-exchange families in the text format. Written here rather than
 * through prom-client, whose formatting costs about 6 us a series (13,000 series of 1,000
 * queues took 80 ms a scrape, measured); these are plain string joins over the snapshot. */
function seriesText(s: Snapshot, brokerLabel: string): string {
  const parts: string[] = [];
  const write = <T extends { name: string }>(families: readonly SeriesFamily<T>[], rows: readonly T[], label: string): void => {
    const labels = rows.map((row) => `{${label}="${escapeLabel(row.name)}",${brokerLabel}} `);
    for (const f of families) {
      parts.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      for (let i = 0; i < rows.length; i++) parts.push(`${f.name}${labels[i] as string}${f.value(rows[i] as T)}`);
    }
  };
  write(QUEUE_FAMILIES, s.queues, 'queue');
  write(EXCHANGE_FAMILIES, s.exchanges, 'exchange');
  return `${parts.join('\n')}\n`;
}
