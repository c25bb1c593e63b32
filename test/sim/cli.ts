// `npm run sim -- ...`: run the deterministic simulation over many seeds, or replay one.
//   --seeds N        run N seeds (from --from, default 1), in --jobs worker processes (default 2)
//   --seed N         run one seed; with --trace print its event trace (--trace-level debug adds
//                    replication frames and backups' routine logs)
//   --variant NAME   run with a deliberately broken variant (variants.ts)
//   --bad-manager    every run's cluster manager makes bad choices (--good-manager: none do)
//   --etcd-manager   fail over with the issue-17 qpid-ha-manager (one per broker, src/manager/step.ts)
//                    over a simulated etcd instead of the scripted manager
//   --json           one JSON line per seed instead of the summary
// A failing seed prints `seed=N` and the command that replays it. Exit status 1 if any failed.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runSimulation, type SimResult } from './runner.js';
import { isVariant, VARIANTS, type VariantName } from './variants.js';

interface Args {
  seed: number | null;
  seeds: number;
  from: number;
  jobs: number;
  trace: boolean;
  traceLevel: 'info' | 'debug';
  variant: VariantName | null;
  json: boolean;
  worker: boolean;
  stopAfter: number;
  badManager: boolean | undefined;
  etcdManager: boolean;
}

function usage(message: string): never {
  console.error(`sim: ${message}`);
  console.error('usage: npm run sim -- [--seeds N] [--from N] [--jobs N] [--seed N [--trace] [--trace-level debug]] [--variant NAME] [--bad-manager|--good-manager] [--etcd-manager] [--json]');
  console.error(`variants: ${Object.keys(VARIANTS).join(', ')}`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { seed: null, seeds: 100, from: 1, jobs: 2, trace: false, traceLevel: 'info', variant: null, json: false, worker: false, stopAfter: 20, badManager: undefined, etcdManager: false };
  const int = (value: string | undefined, name: string): number => {
    const n = Number(value);
    if (value === undefined || !Number.isSafeInteger(n) || n < 0) usage(`${name} needs a non-negative integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    switch (arg) {
      case '--seed':
        args.seed = int(argv[++i], arg);
        break;
      case '--seeds':
        args.seeds = int(argv[++i], arg);
        break;
      case '--from':
        args.from = int(argv[++i], arg);
        break;
      case '--jobs':
        args.jobs = Math.max(1, int(argv[++i], arg));
        break;
      case '--trace':
        args.trace = true;
        break;
      case '--trace-level': {
        const level = argv[++i];
        if (level !== 'info' && level !== 'debug') usage('--trace-level is info or debug');
        args.traceLevel = level;
        args.trace = true;
        break;
      }
      case '--variant': {
        const name = argv[++i] ?? '';
        if (!isVariant(name)) usage(`unknown variant ${name}`);
        args.variant = name;
        break;
      }
      case '--etcd-manager':
        args.etcdManager = true;
        break;
      case '--bad-manager':
        args.badManager = true;
        break;
      case '--good-manager':
        args.badManager = false;
        break;
      case '--json':
        args.json = true;
        break;
      case '--worker':
        args.worker = true;
        break;
      case '--stop-after':
        args.stopAfter = int(argv[++i], arg);
        break;
      default:
        usage(`unknown argument ${arg}`);
    }
  }
  return args;
}

interface SeedLine {
  seed: number;
  ok: boolean;
  converged: boolean;
  violations: { code: string; atMs: number; detail: string }[];
  stats: Record<string, unknown>;
  wallMs: number;
}

async function runOne(seed: number, args: Args): Promise<{ line: SeedLine; result: SimResult }> {
  const started = performance.now();
  const result = await runSimulation({ seed, trace: args.trace, traceLevel: args.traceLevel, variant: args.variant, ...(args.etcdManager ? { manager: 'etcd' as const } : {}), ...(args.badManager === undefined ? {} : { badManager: args.badManager }) });
  const line: SeedLine = { seed, ok: result.ok, converged: result.converged, violations: result.violations.map((v) => ({ ...v })), stats: { ...result.stats }, wallMs: Math.round(performance.now() - started) };
  return { line, result };
}

function replayCommand(seed: number, args: Args): string {
  const manager = args.badManager === undefined ? '' : args.badManager ? ' --bad-manager' : ' --good-manager';
  return `npm run sim -- --seed ${seed}${args.variant ? ` --variant ${args.variant}` : ''}${manager}${args.etcdManager ? ' --etcd-manager' : ''} --trace`;
}

function printFailure(line: SeedLine, args: Args): void {
  console.log(`FAIL seed=${line.seed}`);
  for (const v of line.violations.slice(0, 5)) console.log(`  ${v.code} at ${v.atMs.toFixed(3)} ms: ${v.detail.split('\n')[0]}`);
  if (line.violations.length > 5) console.log(`  ... ${line.violations.length - 5} more`);
  console.log(`  replay: ${replayCommand(line.seed, args)}`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.seed !== null) {
    const { line, result } = await runOne(args.seed, args);
    if (args.trace) for (const text of result.trace) console.log(text);
    if (args.json) console.log(JSON.stringify(line));
    else if (line.ok) console.log(`ok seed=${line.seed} (${line.wallMs} ms wall) ${JSON.stringify(line.stats)}`);
    else printFailure(line, args);
    process.exitCode = line.ok ? 0 : 1;
    return;
  }
  if (args.worker) {
    for (let seed = args.from; seed < args.from + args.seeds; seed++) {
      const { line } = await runOne(seed, args);
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
    return;
  }
  await runMany(args);
}

/** Splits the seeds over worker processes and reports as results come in. */
async function runMany(args: Args): Promise<void> {
  const started = performance.now();
  const jobs = Math.min(args.jobs, Math.max(1, args.seeds));
  const per = Math.ceil(args.seeds / jobs);
  const failures: SeedLine[] = [];
  const counts = new Map<string, number>();
  let done = 0;
  let eventsTotal = 0;
  let settledTotal = 0;
  let staleSettledTotal = 0;
  let permittedTotal = 0;
  const script = fileURLToPath(import.meta.url);
  const workers = Array.from({ length: jobs }, (_, j) => {
    const from = args.from + j * per;
    const count = Math.max(0, Math.min(per, args.from + args.seeds - from));
    if (count === 0) return Promise.resolve();
    const passOn = [...(args.variant ? ['--variant', args.variant] : []), ...(args.etcdManager ? ['--etcd-manager'] : []), ...(args.badManager === undefined ? [] : [args.badManager ? '--bad-manager' : '--good-manager'])];
    const child = spawn(process.execPath, [script, '--worker', '--from', String(from), '--seeds', String(count), ...passOn], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (text) => {
      if (!text.startsWith('{')) return;
      const line = JSON.parse(text) as SeedLine;
      done++;
      eventsTotal += Number(line.stats['events'] ?? 0);
      settledTotal += Number(line.stats['settled'] ?? 0);
      staleSettledTotal += Number(line.stats['staleSettled'] ?? 0);
      permittedTotal += Number(line.stats['permittedLosses'] ?? 0);
      if (args.json) console.log(text);
      if (!line.ok) {
        failures.push(line);
        for (const v of line.violations) counts.set(v.code, (counts.get(v.code) ?? 0) + 1);
        if (!args.json && failures.length <= args.stopAfter) printFailure(line, args);
      }
      if (!args.json && done % 100 === 0) console.error(`${done}/${args.seeds} seeds, ${failures.length} failed, ${Math.round((performance.now() - started) / 1000)} s`);
    });
    return new Promise<void>((resolve) => child.on('exit', () => resolve()));
  });
  await Promise.all(workers);
  const seconds = (performance.now() - started) / 1000;
  if (!args.json) {
    console.log(
      `${done} seeds${args.variant ? ` (variant ${args.variant})` : ''}: ${done - failures.length} ok, ${failures.length} failed; ${eventsTotal} events, ${settledTotal} messages settled, ${staleSettledTotal} settled by stale primaries, ${permittedTotal} losses the contract allows; ${seconds.toFixed(1)} s`,
    );
    if (counts.size > 0) console.log(`violations by code: ${[...counts].map(([c, n]) => `${c} ${n}`).join(', ')}`);
    if (failures.length > 0) console.log(`failing seeds: ${failures.map((f) => f.seed).join(' ')}`);
  }
  process.exitCode = failures.length > 0 || done < args.seeds ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
