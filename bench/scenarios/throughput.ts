// Scenario `throughput`: the standalone broker against the relay baseline measured in the same
// run, at-least-once. Transient rows send non-durable messages to a non-durable queue; durable
// rows send durable messages to a durable queue (settled only once fsynced, DESIGN.md §5). Every
// row starts its server fresh (the broker on a new data directory), so rows do not inherit
// backlog, page cache warmth or store growth from each other. Ratio = broker / relay msgs/s.
import { describeMachine } from '../lib/machine.js';
import { measureRow, shapeLabel } from '../lib/load-row.js';
import type { LoadShape } from '../lib/load-row.js';
import { brokerBuilt, brokerScript } from '../lib/paths.js';
import type { ResultRow, ScenarioResult, TableColumn } from '../lib/results.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { rowTiming } from '../lib/scenario.js';
import { startBroker, startRelay } from '../lib/servers.js';

export const name = 'throughput';
export const description =
  'Standalone broker, transient and durable, beside the relay baseline: 1 KiB at 1+1, 4+4, 16+16; 100 B and 64 KiB at 4+4 (tiny: 1 KiB 1+1 and 4+4)';

type Shape = Pick<LoadShape, 'sizeBytes' | 'producers' | 'consumers'>;

const FULL_SHAPES: readonly Shape[] = [
  { sizeBytes: 1024, producers: 1, consumers: 1 },
  { sizeBytes: 1024, producers: 4, consumers: 4 },
  { sizeBytes: 1024, producers: 16, consumers: 16 },
  { sizeBytes: 100, producers: 4, consumers: 4 },
  { sizeBytes: 65536, producers: 4, consumers: 4 },
];
const TINY_SHAPES: readonly Shape[] = FULL_SHAPES.slice(0, 2);

type Series = 'relay' | 'broker transient' | 'broker durable';
const SERIES: readonly Series[] = ['relay', 'broker transient', 'broker durable'];

const columns: readonly TableColumn[] = [
  { key: 'shape', header: 'size, producers+consumers' },
  { key: 'server', header: 'server' },
  { key: 'msgsPerS', header: 'msgs/s' },
  { key: 'ratio', header: 'ratio to relay', digits: 2 },
  { key: 'e2eP50Ms', header: 'e2e p50 ms', digits: 2 },
  { key: 'e2eP99Ms', header: 'e2e p99 ms', digits: 2 },
  { key: 'e2eP999Ms', header: 'e2e p99.9 ms', digits: 2 },
  { key: 'settleP50Ms', header: 'settle p50 ms', digits: 2 },
  { key: 'settleP99Ms', header: 'settle p99 ms', digits: 2 },
  { key: 'lost', header: 'lost' },
  { key: 'errors', header: 'errors' },
  { key: 'serverCpuPct', header: 'server CPU %' },
  { key: 'loadgenCpuPct', header: 'loadgen CPU %' },
];

export async function run(options: ScenarioOptions): Promise<ScenarioResult> {
  const machine = describeMachine();
  const timing = rowTiming(options.size);
  const shapes = options.size === 'tiny' ? TINY_SHAPES : FULL_SHAPES;
  const withBroker = brokerBuilt();
  const notes: string[] = [];
  if (!withBroker) {
    notes.push(`broker not built (${brokerScript} is missing): broker rows skipped, relay rows only`);
    options.log(`note: ${notes[0]}`);
  }
  const rows: ResultRow[] = [];
  let ok = true;
  for (const shape of shapes) {
    options.log(`${shapeLabel(shape)}:`);
    let relayMsgsPerS: number | undefined;
    for (const series of SERIES) {
      if (series !== 'relay' && !withBroker) continue;
      const durable = series === 'broker durable';
      const start = series === 'relay' ? () => startRelay() : () => startBroker({ storeSync: 'fsync' });
      const measured = await measureRow({ server: series, durable }, start, { ...shape, ...timing, durable }, options.log);
      ok &&= measured.ok;
      const msgsPerS = measured.row['msgsPerS'];
      if (series === 'relay' && typeof msgsPerS === 'number') relayMsgsPerS = msgsPerS;
      const ratio = typeof msgsPerS === 'number' && relayMsgsPerS ? Math.round((msgsPerS / relayMsgsPerS) * 100) / 100 : null;
      rows.push({ ...measured.row, ratio });
      if (!measured.ok) notes.push(`${shapeLabel(shape)} ${series}: ${String(measured.row['problem'])}`);
    }
  }
  const categories = shapes.map(shapeLabel);
  const valueOf = (series: Series, shape: string): number | null => {
    const row = rows.find((r) => r['server'] === series && r['shape'] === shape);
    return row && typeof row['msgsPerS'] === 'number' ? row['msgsPerS'] : null;
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
      title: 'Standalone broker vs in-memory relay, at-least-once',
      yLabel: 'messages per second (received)',
      categories,
      series: SERIES.filter((s) => s === 'relay' || withBroker).map((s) => ({ name: s, values: categories.map((c) => valueOf(s, c)) })),
    },
  };
}
