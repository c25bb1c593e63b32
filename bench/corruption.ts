// The corruption bench (issue 16): flip one random byte in the used region of a stopped store,
// then look at it as the tools and the broker would, each in a child process (LMDB can abort on a
// damaged page): `qpid-store verify` (full), and a broker's open (quick verify) followed by
// reading every queue the way delivery does (readQueue, readMessage). Per trial the outcome is:
// detected (by verify, at start, or on read: a quarantine), harmless (every message read back
// intact, nothing missing: the byte was one nothing reads), or BAD: an altered body handed out, or
// a message missing with nothing reporting it. Prints one JSON line per region (meta, log,
// message, index, and structure: LMDB's own page and node headers, keys and branch pages) and the
// total, detected / trials. Trials are spread evenly over the regions.
//
//   node dist/bench/corruption.js [--trials N] [--seed S] [--messages M] [--json]
//   BENCH_CORRUPTION_TRIALS=1000 sets the default trial count (the target); npm test runs
//   a tiny version (test/store/corruption-bench.test.ts). Exit 1 if any trial was BAD.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { open } from 'lmdb';
import { openLmdbStore, type StoreRecord } from '../store/index.js';
import { seededRandom } from '../src/core/random.js';

export type Region = 'meta' | 'log' | 'message' | 'index' | 'structure';
export const REGIONS: readonly Region[] = ['meta', 'log', 'message', 'index', 'structure'];
const TRIAL_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'corruption-trial.js');
const PAGE_BYTES = 4096;

export interface Originals {
  /** `${queue}\u0000${messageId}` -> the body, base64. */
  readonly bodies: Record<string, string>;
}

/** Builds the base store in one batch (one LMDB transaction: no stale copies of its values in
 * free pages, so every byte the bench flips is one something reads), and closes it. */
async function buildStore(dataDir: string, messages: number, random: () => number): Promise<Originals> {
  const store = openLmdbStore({ dataDir });
  const queues = ['q0', 'q1', 'q2'];
  const records: StoreRecord[] = queues.map((queue) => ({ kind: 'queue-declare', queue, durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }));
  records.push({ kind: 'exchange-declare', exchange: 'x', type: 'direct', durable: true, autoDelete: false, alternateExchange: null, arguments: {} });
  records.push({ kind: 'bind', exchange: 'x', queue: 'q0', key: 'k', arguments: {} });
  const positions = new Map<string, number>();
  const bodies: Record<string, string> = {};
  for (let i = 0; i < messages; i++) {
    const id = store.allocateMessageId();
    // Mostly small bodies on leaf pages, some on overflow pages; some held by two queues.
    const size = random() < 0.1 ? 5000 + Math.floor(random() * 4000) : 100 + Math.floor(random() * 900);
    const body = Buffer.alloc(size);
    for (let b = 0; b < size; b++) body[b] = 32 + Math.floor(random() * 95);
    body.write(`message ${id} `);
    const targets = [queues[i % 3]!, ...(random() < 0.15 ? [queues[(i + 1) % 3]!] : [])].map((queue) => {
      const position = (positions.get(queue) ?? 0) + 1;
      positions.set(queue, position);
      bodies[`${queue}\u0000${id}`] = body.toString('base64');
      return { queue, position };
    });
    records.push({ kind: 'enqueue', messageId: id, persistent: true, expiresAtMs: null, body, targets });
  }
  await store.commit(records).durable;
  await store.close();
  return { bodies };
}

const TABLE_REGIONS: Readonly<Record<string, Region>> = { meta: 'meta', log: 'log', messages: 'message', enqueues: 'index', queues: 'index', exchanges: 'index', bindings: 'index' };

/** Which region each byte of data.mdb belongs to (null: unused, a run of zeros). Values are found
 * in the file by their bytes; a value found more than once is left to 'structure'. */
async function regionMap(dataDir: string, file: Buffer): Promise<(Region | null)[]> {
  const map: (Region | null)[] = new Array(file.length).fill(null);
  // Used bytes: anything but runs of 16 or more zeros (fresh pages are zeroed).
  for (let i = 0; i < file.length; ) {
    if (file[i] !== 0) {
      map[i++] = 'structure';
      continue;
    }
    let j = i;
    while (j < file.length && file[j] === 0) j++;
    if (j - i < 16) for (let k = i; k < j; k++) map[k] = 'structure';
    i = j;
  }
  for (let i = 0; i < 2 * PAGE_BYTES && i < file.length; i++) if (map[i] !== null) map[i] = 'meta';
  const env = open({ path: join(dataDir, 'store'), maxDbs: 10, readOnly: true, encoding: 'binary', keyEncoding: 'ordered-binary' } as never) as unknown as {
    openDB(o: object): { getRange(o: object): Iterable<{ value: Buffer }> };
    close(): Promise<void>;
  };
  try {
    for (const [table, region] of Object.entries(TABLE_REGIONS)) {
      const db = env.openDB({ name: table, encoding: 'binary', keyEncoding: 'ordered-binary' });
      for (const { value } of db.getRange({})) {
        const first = file.indexOf(value);
        if (first < 0 || file.indexOf(value, first + 1) >= 0) continue;
        for (let k = first; k < first + value.length; k++) map[k] = region;
      }
    }
  } finally {
    await env.close();
  }
  return map;
}

export interface TrialOutcome {
  readonly region: Region;
  readonly offset: number;
  readonly verify: 'clean' | 'violations' | 'crashed';
  readonly start: 'ok' | 'refused' | 'crashed';
  readonly reported: number;
  readonly altered: number;
  readonly missing: number;
  readonly verdict: 'detected' | 'harmless' | 'bad';
}

function runChild(args: readonly string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; result: Record<string, unknown> | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TRIAL_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.on('close', (code, signal) => {
      let result: Record<string, unknown> | null = null;
      try {
        result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
      } catch {
        result = null;
      }
      resolve({ code, signal, result });
    });
  });
}

async function trial(workDir: string, originalsPath: string, offset: number, region: Region, file: Buffer, random: () => number): Promise<TrialOutcome> {
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(join(workDir, 'store'), { recursive: true });
  const damaged = Buffer.from(file);
  damaged[offset] = damaged[offset]! ^ (1 + Math.floor(random() * 255));
  writeFileSync(join(workDir, 'store', 'data.mdb'), damaged);
  const v = await runChild([workDir, 'verify', originalsPath]);
  const verify = v.result === null ? 'crashed' : (v.result['violations'] as number) > 0 ? 'violations' : 'clean';
  const s = await runChild([workDir, 'serve', originalsPath]);
  const serve = s.result;
  const start = serve === null ? 'crashed' : serve['start'] === 'refused' ? 'refused' : 'ok';
  const reported = Number(serve?.['reported'] ?? 0);
  const altered = Number(serve?.['altered'] ?? 0);
  const missing = Number(serve?.['missing'] ?? 0);
  const detected = verify !== 'clean' || start !== 'ok' || reported > 0;
  const verdict = altered > 0 || (missing > 0 && !detected) ? 'bad' : detected ? 'detected' : 'harmless';
  return { region, offset, verify, start, reported, altered, missing, verdict };
}

export interface CorruptionSummary {
  readonly region: Region | 'total';
  readonly trials: number;
  readonly detected: number;
  readonly harmless: number;
  readonly bad: number;
  readonly verifyDetected: number;
  readonly startRefused: number;
  readonly readReported: number;
  readonly crashedReader: number;
}

export function summarize(outcomes: readonly TrialOutcome[]): CorruptionSummary[] {
  const of = (region: Region | 'total', list: readonly TrialOutcome[]): CorruptionSummary => ({
    region,
    trials: list.length,
    detected: list.filter((o) => o.verdict === 'detected').length,
    harmless: list.filter((o) => o.verdict === 'harmless').length,
    bad: list.filter((o) => o.verdict === 'bad').length,
    verifyDetected: list.filter((o) => o.verify !== 'clean').length,
    startRefused: list.filter((o) => o.start === 'refused').length,
    readReported: list.filter((o) => o.reported > 0).length,
    crashedReader: list.filter((o) => o.verify === 'crashed' || o.start === 'crashed').length,
  });
  return [...REGIONS.map((r) => of(r, outcomes.filter((o) => o.region === r))), of('total', outcomes)];
}

export async function runCorruptionBench(options: { trials: number; seed: number; messages: number; onTrial?: (o: TrialOutcome, i: number) => void }): Promise<{ outcomes: TrialOutcome[]; summary: CorruptionSummary[] }> {
  const rng = seededRandom(options.seed);
  const random = (): number => rng.next();
  const root = mkdtempSync(join(tmpdir(), 'qpidd-corruption-'));
  try {
    const baseDir = join(root, 'base');
    const originals = await buildStore(baseDir, options.messages, random);
    const originalsPath = join(root, 'originals.json');
    writeFileSync(originalsPath, JSON.stringify(originals));
    const file = readFileSync(join(baseDir, 'store', 'data.mdb'));
    const map = await regionMap(baseDir, file);
    // Stratified: each region gets its share of the trials, whatever its size (the meta region
    // is a few hundred bytes beside megabytes of bodies).
    const used = new Map<Region, number[]>(REGIONS.map((r) => [r, []]));
    for (let i = 0; i < map.length; i++) if (map[i] !== null) used.get(map[i]!)!.push(i);
    const regions = REGIONS.filter((r) => used.get(r)!.length > 0);
    const outcomes: TrialOutcome[] = [];
    for (let i = 0; i < options.trials; i++) {
      const offsets = used.get(regions[i % regions.length]!)!;
      const offset = offsets[Math.floor(random() * offsets.length)]!;
      const outcome = await trial(join(root, 'trial'), originalsPath, offset, map[offset]!, file, random);
      outcomes.push(outcome);
      options.onTrial?.(outcome, i);
    }
    return { outcomes, summary: summarize(outcomes) };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string', default: process.env['BENCH_CORRUPTION_TRIALS'] ?? '100' },
      seed: { type: 'string', default: String(Math.floor(Math.random() * 2 ** 31)) },
      messages: { type: 'string', default: '200' },
      json: { type: 'boolean', default: false },
    },
  });
  const trials = Number(values.trials);
  const seed = Number(values.seed);
  const messages = Number(values.messages);
  if (![trials, seed, messages].every((n) => Number.isSafeInteger(n) && n >= 0)) {
    process.stderr.write('corruption: --trials, --seed and --messages take whole numbers\n');
    process.exit(2);
  }
  process.stderr.write(`corruption: ${trials} trials, seed ${seed} (replay: --seed ${seed}), ${messages} messages\n`);
  const started = Date.now();
  const { outcomes, summary } = await runCorruptionBench({
    trials,
    seed,
    messages,
    onTrial: (o, i) => {
      if (o.verdict === 'bad') process.stderr.write(`corruption: trial ${i} BAD: ${JSON.stringify(o)}\n`);
      if ((i + 1) % 50 === 0) process.stderr.write(`corruption: ${i + 1}/${trials} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    },
  });
  for (const row of summary) process.stdout.write(`${JSON.stringify({ bench: 'corruption', seed, messages, ...row })}\n`);
  if (!values.json) {
    for (const row of summary) {
      process.stderr.write(`${row.region.padEnd(10)} detected ${row.detected}/${row.trials}, harmless ${row.harmless}, BAD ${row.bad} (verify ${row.verifyDetected}, refused at start ${row.startRefused}, reported on read ${row.readReported}, reader crashed ${row.crashedReader})\n`);
    }
  }
  process.exit(outcomes.some((o) => o.verdict === 'bad') ? 1 : 0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) void main();
