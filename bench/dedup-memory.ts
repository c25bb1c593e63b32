// What a qpid.dedup_window costs in memory per remembered message-id (issue 12): windows are
// filled with ids of the shapes producers use (the failover load's "producer:seq", a UUID string,
// a 16-byte binary UUID as src/amqp/message-id.ts keys it), and the V8 heap is measured after a
// full GC before and after, each round in a fresh process (median of the rounds). The store's side is one row per id in
// the dedup table (9 bytes + the key + a 4-byte CRC, plus LMDB's per-entry overhead).
//
// run: node dist/bench/dedup-memory.js [--entries N] [--rounds R] [--json]
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DedupWindow } from '../src/broker/dedup-window.js';
import { dedupKeyOf } from '../src/amqp/message-id.js';

export interface DedupMemoryRow {
  readonly shape: string;
  readonly keyChars: number;
  readonly entries: number;
  readonly bytesPerEntry: number;
}

const SHAPES: Record<string, (i: number) => unknown> = {
  'producer:seq string': (i) => `1:${i}`,
  // A fresh flat string, as rhea decodes one from the message's bytes.
  'UUID string': () => Buffer.from(randomUUID(), 'latin1').toString('latin1'),
  'binary UUID (16 bytes)': () => Buffer.from(randomUUID().replace(/-/g, ''), 'hex'),
};

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** A full window of `entries` ids made by `make`, keyed as the broker keys them. */
function filledWindow(entries: number, make: (i: number) => unknown): DedupWindow {
  const window = new DedupWindow(entries);
  for (let i = 0; i < entries; i++) window.remember(dedupKeyOf(make(i)) as string);
  return window;
}

/** Heap bytes per id of one full window, in this process (a fresh one: a window measured
 * earlier in the same process is not reliably collected before the next measurement). */
function measureOnce(shape: string, entries: number): number {
  const make = SHAPES[shape];
  if (!make) throw new Error(`no id shape "${shape}"`);
  const before = heapAfterGc();
  const window = filledWindow(entries, make);
  const after = heapAfterGc();
  if (window.size !== entries) throw new Error(`window holds ${window.size} of ${entries}`);
  return (after - before) / entries;
}

/** Bytes of heap per remembered id, for each id shape: the window's ring slot, its index entry
 * and the key string (the window holds the only reference to it once the message is enqueued).
 * Each round of each shape runs in its own process. */
export function measureDedupMemory(entries: number, rounds: number): DedupMemoryRow[] {
  const rows: DedupMemoryRow[] = [];
  for (const [shape, make] of Object.entries(SHAPES)) {
    const perEntry: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--one', shape, '--entries', String(entries)], { encoding: 'utf8' });
      perEntry.push(Number(out.trim()));
    }
    rows.push({ shape, keyChars: (dedupKeyOf(make(0)) as string).length, entries, bytesPerEntry: Math.round(median(perEntry)) });
  }
  return rows;
}

function main(): void {
  const { values } = parseArgs({ options: { entries: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' }, json: { type: 'boolean', default: false }, one: { type: 'string' } } });
  const entries = Number(values.entries);
  const rounds = Number(values.rounds);
  if (!Number.isSafeInteger(entries) || entries < 1000) throw new Error(`--entries ${values.entries}: at least 1000`);
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error(`--rounds ${values.rounds}: at least 1`);
  if (values.one !== undefined) {
    process.stdout.write(`${measureOnce(values.one, entries)}\n`);
    return;
  }
  const rows = measureDedupMemory(entries, rounds);
  if (values.json) {
    for (const row of rows) process.stdout.write(`${JSON.stringify({ bench: 'dedup-memory', node: process.version, ...row })}\n`);
    return;
  }
  process.stdout.write(`| id shape | key chars | entries | heap bytes per id |\n|---|---:|---:|---:|\n`);
  for (const row of rows) process.stdout.write(`| ${row.shape} | ${row.keyChars} | ${row.entries} | ${row.bytesPerEntry} |\n`);
}

if (process.argv[1]?.endsWith('dedup-memory.js')) main();
