// Scenario `ha-throughput`: the durable load of `throughput` on a 3-broker cluster with
// `--ha-replicate all` (every message replicated, producers settled only once every ready backup
// has confirmed it: the ack gate, DESIGN.md §4), beside the standalone broker measured in the same
// run. The ratio cluster / standalone is the cost of replication. A last row runs the cluster at
// half the 4+4 rate it reached unthrottled, where latency is service time rather than queueing
// (the target: p99 under 50 ms there). All three brokers and the loadgen share the machine's cores.
import { startClusterServer } from '../lib/cluster-server.js';
import { describeMachine } from '../lib/machine.js';
import { measureRow, shapeLabel } from '../lib/load-row.js';
import type { LoadShape } from '../lib/load-row.js';
import type { ResultRow, ScenarioResult, TableColumn } from '../lib/results.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { rowTiming } from '../lib/scenario.js';
import { startBroker } from '../lib/servers.js';

export const name = 'ha-throughput';
export const description =
  'Durable 1 KiB at 1+1, 4+4, 16+16 on a 3-broker cluster (ha-replicate all, ack gating) beside the standalone broker, plus the cluster at half its 4+4 rate (tiny: 4+4 only)';

type Shape = Pick<LoadShape, 'sizeBytes' | 'producers' | 'consumers'>;

const FULL_SHAPES: readonly Shape[] = [
  { sizeBytes: 1024, producers: 1, consumers: 1 },
  { sizeBytes: 1024, producers: 4, consumers: 4 },
  { sizeBytes: 1024, producers: 16, consumers: 16 },
];
const TINY_SHAPES: readonly Shape[] = [{ sizeBytes: 1024, producers: 4, consumers: 4 }];
/** The shape whose half-rate latency is measured (the targets are stated for 4+4). */
const LATENCY_SHAPE: Shape = { sizeBytes: 1024, producers: 4, consumers: 4 };

const CLUSTER = { size: 3, replicate: 'all', maintenanceS: 0.1, heartbeatS: 1 } as const;

const columns: readonly TableColumn[] = [
  { key: 'shape', header: 'size, producers+consumers' },
  { key: 'server', header: 'server' },
  { key: 'rateLabel', header: 'offered rate' },
  { key: 'msgsPerS', header: 'msgs/s' },
  { key: 'ratio', header: 'ratio to standalone', digits: 2 },
  { key: 'e2eP50Ms', header: 'e2e p50 ms', digits: 2 },
  { key: 'e2eP99Ms', header: 'e2e p99 ms', digits: 2 },
  { key: 'e2eP999Ms', header: 'e2e p99.9 ms', digits: 2 },
  { key: 'settleP50Ms', header: 'settle p50 ms', digits: 2 },
  { key: 'settleP99Ms', header: 'settle p99 ms', digits: 2 },
  { key: 'lost', header: 'lost' },
  { key: 'errors', header: 'errors' },
  { key: 'serverCpuPct', header: 'primary CPU %' },
  { key: 'peerCpuPct', header: 'backups CPU %' },
  { key: 'loadgenCpuPct', header: 'loadgen CPU %' },
];

function msgsPerS(row: ResultRow): number | null {
  return typeof row['msgsPerS'] === 'number' ? row['msgsPerS'] : null;
}

export async function run(options: ScenarioOptions): Promise<ScenarioResult> {
  const machine = describeMachine();
  const timing = rowTiming(options.size);
  const shapes = options.size === 'tiny' ? TINY_SHAPES : FULL_SHAPES;
  const notes: string[] = [`load average (1 min) at start: ${machine.loadAverage1m}`];
  const rows: ResultRow[] = [];
  let ok = true;
  let clusterLatencyShapeRate: number | null = null;
  let standaloneLatencyShapeRate: number | null = null;

  for (const shape of shapes) {
    options.log(`${shapeLabel(shape)}:`);
    const standalone = await measureRow(
      { server: 'standalone durable', rateLabel: 'max' },
      () => startBroker({ storeSync: 'fsync' }),
      { ...shape, ...timing, durable: true },
      options.log,
    );
    const standaloneRate = msgsPerS(standalone.row);
    rows.push({ ...standalone.row, ratio: standaloneRate === null ? null : 1 });
    const cluster = await measureRow(
      { server: 'cluster durable', rateLabel: 'max' },
      () => startClusterServer(CLUSTER, options.log),
      { ...shape, ...timing, durable: true },
      options.log,
    );
    const clusterRate = msgsPerS(cluster.row);
    rows.push({ ...cluster.row, ratio: clusterRate !== null && standaloneRate ? Math.round((clusterRate / standaloneRate) * 100) / 100 : null });
    for (const measured of [standalone, cluster]) {
      ok &&= measured.ok;
      if (!measured.ok) notes.push(`${shapeLabel(shape)} ${String(measured.row['server'])}: ${String(measured.row['problem'])}`);
    }
    if (shapeLabel(shape) === shapeLabel(LATENCY_SHAPE)) {
      clusterLatencyShapeRate = clusterRate;
      standaloneLatencyShapeRate = standaloneRate;
    }
  }

  // Latency at half the cluster's unthrottled 4+4 rate, for the cluster and (same offered load)
  // the standalone broker: the difference is what replication adds to a message's journey.
  if (clusterLatencyShapeRate) {
    const rate = Math.round(clusterLatencyShapeRate / 2);
    options.log(`${shapeLabel(LATENCY_SHAPE)} at ${rate} msg/s (half the cluster's maximum):`);
    const shape = { ...LATENCY_SHAPE, ...timing, durable: true, rateMsgsPerS: rate };
    const label = `${rate.toLocaleString('en-US')}/s (half)`;
    // The standalone broker at the same offered load, in the full run only (tiny keeps to seconds).
    const standalone =
      options.size === 'full' ? await measureRow({ server: 'standalone durable', rateLabel: label }, () => startBroker({ storeSync: 'fsync' }), shape, options.log) : undefined;
    const cluster = await measureRow({ server: 'cluster durable', rateLabel: label }, () => startClusterServer(CLUSTER, options.log), shape, options.log);
    if (standalone) rows.push({ ...standalone.row, ratio: null });
    rows.push({ ...cluster.row, ratio: null });
    for (const measured of standalone ? [standalone, cluster] : [cluster]) {
      ok &&= measured.ok;
      if (!measured.ok) notes.push(`half rate ${String(measured.row['server'])}: ${String(measured.row['problem'])}`);
    }
    const p99 = cluster.row['e2eP99Ms'];
    notes.push(`cluster 4+4 at half its maximum (${rate} msg/s): e2e p99 ${String(p99)} ms (target < 50 ms)`);
  }
  if (clusterLatencyShapeRate !== null && standaloneLatencyShapeRate) {
    const ratio = clusterLatencyShapeRate / standaloneLatencyShapeRate;
    notes.push(`cluster / standalone durable 4+4: ${ratio.toFixed(2)} (target >= 0.60)`);
  }

  const categories = shapes.map(shapeLabel);
  const valueOf = (server: string, shape: string): number | null => {
    const row = rows.find((r) => r['server'] === server && r['shape'] === shape && r['rateLabel'] === 'max');
    return row ? msgsPerS(row) : null;
  };
  return {
    scenario: name,
    size: options.size,
    machine,
    rows,
    columns,
    ok,
    notes,
    chart: {
      kind: 'bar',
      title: 'Durable 1 KiB, at-least-once: 3-broker cluster (ack gating) vs standalone',
      yLabel: 'messages per second (received)',
      categories,
      series: ['standalone durable', 'cluster durable'].map((server) => ({ name: server, values: categories.map((c) => valueOf(server, c)) })),
    },
  };
}
