// What checksums cost (issue 16: under 3% of durable throughput). The same load as the throughput
// scenario's durable rows, in one run, against two builds of the broker taking turns: this one,
// and a copy built with store/checksum-build.ts's flag off (a build kept only for this
// measurement: it writes zero seals and checks none). Prints one JSON line per row and the ratio.
//   node dist/bench/checksum-cost.js [--size tiny|full] [--rounds N]
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { measureRow } from './lib/load-row.js';
import { distRoot } from './lib/paths.js';
import { rowTiming } from './lib/scenario.js';
import { startBroker } from './lib/servers.js';
import { describeMachine } from './lib/machine.js';
import { median } from './lib/stats.js';

const FLAG_FILE = join('store', 'checksum-build.js');

/** A copy of dist/ with checksums compiled out; removed by the caller. */
function buildWithoutChecksums(): { root: string; script: string } {
  const root = mkdtempSync(join(tmpdir(), 'qpidd-nocrc-'));
  cpSync(distRoot, join(root, 'dist'), { recursive: true });
  symlinkSync(join(distRoot, '..', 'node_modules'), join(root, 'node_modules'));
  cpSync(join(distRoot, '..', 'package.json'), join(root, 'package.json'));
  const flag = join(root, 'dist', FLAG_FILE);
  const text = readFileSync(flag, 'utf8');
  const off = text.replace(/CHECKSUMS_BUILT_IN(\s*=\s*)true/, 'CHECKSUMS_BUILT_IN$1false');
  if (off === text) throw new Error(`${flag}: the flag was not found`);
  writeFileSync(flag, off);
  return { root, script: join(root, 'dist', 'tools', 'qpidd.js') };
}

export interface ChecksumCost {
  readonly withMsgsPerS: number[];
  readonly withoutMsgsPerS: number[];
  /** Throughput lost over the whole run: 1 - sum(with) / sum(without), in percent. */
  readonly costPct: number;
  /** The median over the rounds of each round's throughput loss, in percent: one round that a
   * burst of other tenants' work hit moves it less than the whole-run figure. */
  readonly medianCostPct: number | null;
  /** Broker CPU per message, with and without, per round (µs). */
  readonly withCpuUsPerMsg: number[];
  readonly withoutCpuUsPerMsg: number[];
  /** The median over the rounds of each round's extra CPU per message, in percent: steadier
   * than msgs/s when other tenants take the cores, since a round's two rows run back to back. */
  readonly cpuCostPct: number | null;
}

/** A row's broker CPU per received message in µs (its CPU averaged over the loadgen run). */
function cpuUsPerMsg(row: Record<string, unknown>): number {
  const cpuPct = Number(row['serverCpuPct']);
  const rate = Number(row['msgsPerS']);
  return rate > 0 && Number.isFinite(cpuPct) ? Math.round(((cpuPct / 100) * 1e6) / rate) : NaN;
}

export async function measureChecksumCost(options: { size: 'tiny' | 'full'; rounds: number; log: (line: string) => void }): Promise<ChecksumCost> {
  const build = buildWithoutChecksums();
  try {
    const timing = rowTiming(options.size);
    const shape = { sizeBytes: 1024, producers: 4, consumers: 4, ...timing, durable: true };
    const withMsgsPerS: number[] = [];
    const withoutMsgsPerS: number[] = [];
    const withCpuUsPerMsg: number[] = [];
    const withoutCpuUsPerMsg: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      // Alternate which goes first: the machine's load drifts within a run.
      const order = round % 2 === 0 ? ['with', 'without'] : ['without', 'with'];
      for (const which of order) {
        const measured = await measureRow({ server: `broker durable, checksums ${which === 'with' ? 'on' : 'off'}`, durable: true }, () => startBroker({ storeSync: 'fsync', ...(which === 'without' ? { script: build.script } : {}) }), shape, options.log);
        if (!measured.ok) throw new Error(`${which} checksums: ${String(measured.row['problem'])}`);
        const rate = Number(measured.row['msgsPerS']);
        (which === 'with' ? withMsgsPerS : withoutMsgsPerS).push(rate);
        (which === 'with' ? withCpuUsPerMsg : withoutCpuUsPerMsg).push(cpuUsPerMsg(measured.row));
        process.stdout.write(`${JSON.stringify({ bench: 'checksum-cost', round, checksums: which === 'with', size: options.size, ...measured.row })}\n`);
      }
    }
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    const costPct = Math.round((1 - sum(withMsgsPerS) / sum(withoutMsgsPerS)) * 1000) / 10;
    const roundCpuCosts = withCpuUsPerMsg.map((w, i) => (w / (withoutCpuUsPerMsg[i] as number) - 1) * 100).filter(Number.isFinite);
    const cpuCost = median(roundCpuCosts);
    const roundCosts = withMsgsPerS.map((w, i) => (1 - w / (withoutMsgsPerS[i] as number)) * 100);
    const rateCost = median(roundCosts);
    return { withMsgsPerS, withoutMsgsPerS, costPct, medianCostPct: rateCost === null ? null : Math.round(rateCost * 10) / 10, withCpuUsPerMsg, withoutCpuUsPerMsg, cpuCostPct: cpuCost === null ? null : Math.round(cpuCost * 10) / 10 };
  } finally {
    rmSync(build.root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { size: { type: 'string', default: 'full' }, rounds: { type: 'string', default: '3' } } });
  const size = values.size === 'tiny' ? 'tiny' : 'full';
  const rounds = Math.max(1, Number(values.rounds) || 3);
  const result = await measureChecksumCost({ size, rounds, log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${JSON.stringify({ bench: 'checksum-cost', summary: true, size, rounds, ...result, target: 'under 3%', machine: describeMachine() })}\n`);
  process.stderr.write(`checksums on ${result.withMsgsPerS.join(', ')} msg/s; off ${result.withoutMsgsPerS.join(', ')} msg/s; cost ${result.costPct}% over the run, median round ${String(result.medianCostPct)}% (target under 3%)\n`);
  process.stderr.write(`broker CPU per message: on ${result.withCpuUsPerMsg.join(', ')} µs; off ${result.withoutCpuUsPerMsg.join(', ')} µs; median extra CPU per message ${String(result.cpuCostPct)}%\n`);
}

if (process.argv[1]?.endsWith('checksum-cost.js')) void main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`checksum-cost: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
