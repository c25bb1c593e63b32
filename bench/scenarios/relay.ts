// Scenario `relay`: the in-memory relay alone, 1+1 and 4+4 with 1 KiB messages, at-least-once.
// It checks the harness itself (server start, loadgen, loss check, rendering) and gives the
// ceiling a Node AMQP process reaches on this machine, which every broker figure is read against.
import { describeMachine } from '../lib/machine.js';
import { measureRow } from '../lib/load-row.js';
import type { ResultRow, ScenarioResult, TableColumn } from '../lib/results.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { rowTiming } from '../lib/scenario.js';
import { startRelay } from '../lib/servers.js';

export const name = 'relay';
export const description = 'In-memory rhea relay alone, 1+1 and 4+4, 1 KiB, at-least-once: the harness check and the ceiling';

const SHAPES = [
  { producers: 1, consumers: 1 },
  { producers: 4, consumers: 4 },
] as const;

const columns: readonly TableColumn[] = [
  { key: 'shape', header: 'size, producers+consumers' },
  { key: 'msgsPerS', header: 'msgs/s' },
  { key: 'e2eP50Ms', header: 'e2e p50 ms', digits: 2 },
  { key: 'e2eP99Ms', header: 'e2e p99 ms', digits: 2 },
  { key: 'e2eP999Ms', header: 'e2e p99.9 ms', digits: 2 },
  { key: 'settleP50Ms', header: 'settle p50 ms', digits: 2 },
  { key: 'settleP99Ms', header: 'settle p99 ms', digits: 2 },
  { key: 'lost', header: 'lost' },
  { key: 'duplicates', header: 'dups' },
  { key: 'errors', header: 'errors' },
  { key: 'serverCpuPct', header: 'server CPU %' },
  { key: 'loadgenCpuPct', header: 'loadgen CPU %' },
];

export async function run(options: ScenarioOptions): Promise<ScenarioResult> {
  const machine = describeMachine();
  const timing = rowTiming(options.size);
  const rows: ResultRow[] = [];
  let ok = true;
  for (const shape of SHAPES) {
    const measured = await measureRow({ server: 'relay' }, () => startRelay(), { ...shape, sizeBytes: 1024, ...timing }, options.log);
    rows.push(measured.row);
    ok &&= measured.ok;
  }
  return {
    scenario: name,
    size: options.size,
    machine,
    rows,
    columns,
    ok,
    notes: [],
    chart: {
      kind: 'bar',
      title: 'In-memory relay, 1 KiB, at-least-once',
      yLabel: 'messages per second (received)',
      categories: rows.map((r) => String(r['shape'])),
      series: [{ name: 'relay', values: rows.map((r) => (typeof r['msgsPerS'] === 'number' ? r['msgsPerS'] : null)) }],
    },
  };
}
