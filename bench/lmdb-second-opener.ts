// Does another process opening a live LMDB environment harm its writer? (store/README.md,
// "Reading a live store".) lmdb-js alone, none of our store code: a writer process commits one
// transaction at a time (a log record, an index entry added or removed, a counter), while
// opener processes open the environment read-only and close it again; afterwards the checker
// reads the closed environment and reports lost records, and the writer's exit (SIGSEGV seen).
//
//   node dist/bench/lmdb-second-opener.js [--runs 6] [--seconds 15] [--openers 3]
//
// Prints one JSON line per run and a summary; exits 1 if any run lost data or crashed.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { open } from 'lmdb';

const TABLES = ['meta', 'log', 'enqueues'] as const;
const options = { maxDbs: 8, maxReaders: 126, mapSize: 64 * 1024 ** 3, pageSize: 4096, encoding: 'binary', keyEncoding: 'ordered-binary', cache: false, eventTurnBatching: false } as const;

type Env = ReturnType<typeof open>;

function tables(env: Env): Record<(typeof TABLES)[number], ReturnType<Env['openDB']>> {
  return Object.fromEntries(TABLES.map((name) => [name, env.openDB({ name, encoding: 'binary', keyEncoding: 'ordered-binary' } as never)])) as never;
}

async function writer(dir: string): Promise<void> {
  const env = open({ path: dir, ...options, overlappingSync: true } as never);
  const t = tables(env);
  let lsn = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const next = lsn + 1;
      await env.childTransaction(() => {
        t.log.putSync(next, Buffer.from(`record ${next}`));
        if (next % 2 === 1) t.enqueues.putSync(next, Buffer.from('entry'));
        else t.enqueues.removeSync(next - 1);
        t.meta.putSync('last', Buffer.from(String(next)));
      });
      lsn = next;
      await env.flushed;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  console.log('ready');
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on('end', resolve));
  stopped = true;
  await loop;
  await env.close();
}

async function opener(dir: string): Promise<void> {
  const env = open({ path: dir, ...options, readOnly: true } as never);
  await env.close();
}

/** What the closed environment says is missing; empty when sound. */
async function check(dir: string): Promise<string[]> {
  const env = open({ path: dir, ...options, readOnly: true } as never);
  const t = tables(env);
  const last = Number(t.meta.getBinary('last')?.toString() ?? 0);
  const problems: string[] = [];
  let expected = 1;
  for (const { key } of t.log.getRange({})) {
    const k = key as number;
    if (k !== expected) problems.push(`log records ${expected}..${k - 1} lost`);
    expected = k + 1;
  }
  if (expected !== last + 1) problems.push(`log ends at ${expected - 1}, meta says ${last}`);
  const entries = [...t.enqueues.getKeys({})].length;
  if (entries !== last % 2) problems.push(`${entries} index entries where ${last % 2} belong`);
  await env.close();
  return problems;
}

async function run(seconds: number, openers: number): Promise<{ writer: string; openings: number; problems: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'lmdb-second-opener-'));
  const self = fileURLToPath(import.meta.url);
  try {
    const child = spawn(process.execPath, [self, '--role', 'writer', '--dir', dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? `exit ${code}`)));
    await new Promise((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
    const until = Date.now() + seconds * 1000;
    let openings = 0;
    await Promise.all(
      Array.from({ length: openers }, async () => {
        while (Date.now() < until) {
          await new Promise((resolve) => spawn(process.execPath, [self, '--role', 'opener', '--dir', dir], { stdio: 'inherit' }).on('exit', resolve));
          openings++;
        }
      }),
    );
    child.stdin!.end();
    const writer = await exited;
    const checked = spawnSync(process.execPath, [self, '--role', 'check', '--dir', dir], { encoding: 'utf8' });
    return { writer, openings, problems: JSON.parse(checked.stdout || '[]') as string[] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const { values } = parseArgs({ options: { role: { type: 'string' }, dir: { type: 'string' }, runs: { type: 'string', default: '6' }, seconds: { type: 'string', default: '15' }, openers: { type: 'string', default: '3' } } });
if (values.role === 'writer') await writer(values.dir!);
else if (values.role === 'opener') await opener(values.dir!);
else if (values.role === 'check') console.log(JSON.stringify(await check(values.dir!)));
else {
  const runs = Number(values.runs);
  // The runs go in parallel, as the failures need a busy machine to show in a short time.
  const results = await Promise.all(Array.from({ length: runs }, () => run(Number(values.seconds), Number(values.openers))));
  for (const r of results) console.log(JSON.stringify(r));
  const bad = results.filter((r) => r.writer !== 'exit 0' || r.problems.length > 0).length;
  console.log(`${bad} of ${runs} runs lost records or crashed the writer (${results.reduce((a, r) => a + r.openings, 0)} openings by other processes)`);
  process.exitCode = bad > 0 ? 1 : 0;
}
