// Store benchmark: durable enqueue+dequeue of 1 KiB records through the LMDB store with 1, 16
// and 256 concurrent writers, beside the raw fsync rate of the same disk measured in the same
// run (a loop of write + fdatasync), and the open time of a store holding many queued 1 KiB
// messages (1,000,000 at full size). Targets (issue 2): with 256 writers at least 50 records
// per fsync; open time under 1 s.
//
//   node dist/bench/store.js [--size tiny|full] [--dir DIR]
//
// stdout: one JSON line per row, then a markdown table. Progress on stderr. Tiny finishes in a
// few seconds (test/store/bench-store-smoke.test.ts runs it).

import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openLmdbStore, type EnqueueRecord, type LmdbStore, type StoreRecord } from '../store/index.js';
import { describeMachine } from './lib/machine.js';
import { markdownTable, type TableColumn } from './lib/results.js';

type Size = 'tiny' | 'full';

interface Plan {
  readonly rowSeconds: number;
  readonly writers: readonly number[];
  readonly openMessages: number;
}

const PLANS: Record<Size, Plan> = {
  tiny: { rowSeconds: 0.4, writers: [1, 16, 256], openMessages: 20_000 },
  full: { rowSeconds: 5, writers: [1, 16, 256], openMessages: 1_000_000 },
};

const BODY_BYTES = 1024;

function progress(message: string): void {
  process.stderr.write(`bench store: ${message}\n`);
}

/** Raw disk: write 1 KiB then fdatasync, in a loop, for `seconds`. */
function rawFsyncRate(dir: string, seconds: number): number {
  const path = join(dir, 'fsync-probe');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(BODY_BYTES, 7);
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  try {
    while (performance.now() < end) {
      writeSync(fd, block, 0, block.length, (n % 1024) * BODY_BYTES);
      fdatasyncSync(fd);
      n++;
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  return n / ((performance.now() - start) / 1000);
}

const queueDeclare = (queue: string): StoreRecord => ({ kind: 'queue-declare', queue, durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} });

/** `writers` concurrent producers, each: enqueue (await durable), dequeue (await durable). */
async function durableWriters(dir: string, writers: number, seconds: number): Promise<Record<string, number>> {
  const dataDir = join(dir, `writers-${writers}`);
  const store = openLmdbStore({ dataDir, sync: 'fsync', logMaxBytes: 256 * 1024 * 1024 });
  try {
    await store.commit([queueDeclare('bench')]).durable;
    const body = Buffer.alloc(BODY_BYTES, 0x61);
    let position = 0;
    let records = 0;
    let stop = false;
    const latenciesMs: number[] = [];
    const writer = async (): Promise<void> => {
      while (!stop) {
        const id = store.allocateMessageId();
        const p = ++position;
        const t0 = performance.now();
        const enq: EnqueueRecord = { kind: 'enqueue', messageId: id, persistent: true, expiresAtMs: null, body, targets: [{ queue: 'bench', position: p }] };
        await store.commit([enq]).durable;
        latenciesMs.push(performance.now() - t0);
        await store.commit([{ kind: 'dequeue', queue: 'bench', position: p, messageId: id, cause: 'consumed' }]).durable;
        records += 2;
      }
    };
    // Warm-up: a short run that is not counted.
    const warm = Array.from({ length: writers }, writer);
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop = true;
    await Promise.all(warm);
    stop = false;
    records = 0;
    latenciesMs.length = 0;
    const before = store.stats();
    const start = performance.now();
    const running = Array.from({ length: writers }, writer);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    stop = true;
    await Promise.all(running);
    const elapsedS = (performance.now() - start) / 1000;
    const after = store.stats();
    const batches = after.batches - before.batches;
    latenciesMs.sort((a, b) => a - b);
    return {
      records_per_s: records / elapsedS,
      fsyncs_per_s: batches / elapsedS,
      records_per_fsync: batches > 0 ? (after.entries - before.entries) / batches : 0,
      durable_p50_ms: latenciesMs[Math.floor(latenciesMs.length * 0.5)] ?? NaN,
      durable_p99_ms: latenciesMs[Math.floor(latenciesMs.length * 0.99)] ?? NaN,
    };
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Builds a store with `messages` queued 1 KiB messages, closes it, and times the open. */
async function openTime(dir: string, messages: number): Promise<Record<string, number>> {
  const dataDir = join(dir, 'open');
  const buildStart = performance.now();
  // Built without fsync and with a small log: the build is set-up, not what is measured.
  let store: LmdbStore = openLmdbStore({ dataDir, sync: 'none', logMaxBytes: 16 * 1024 * 1024 });
  await store.commit([queueDeclare('deep'), queueDeclare('other')]).durable;
  const body = Buffer.alloc(BODY_BYTES, 0x62);
  const perCommit = 1000;
  let inFlight: Promise<void>[] = [];
  for (let done = 0; done < messages; ) {
    const n = Math.min(perCommit, messages - done);
    const records: EnqueueRecord[] = [];
    for (let i = 0; i < n; i++) {
      done++;
      records.push({ kind: 'enqueue', messageId: store.allocateMessageId(), persistent: true, expiresAtMs: null, body, targets: [{ queue: 'deep', position: done }] });
    }
    inFlight.push(store.commit(records).committed);
    if (inFlight.length >= 8) {
      await Promise.all(inFlight);
      inFlight = [];
    }
    if (done % 100_000 === 0) progress(`building the open-time store: ${done.toLocaleString('en-US')} of ${messages.toLocaleString('en-US')} messages`);
  }
  await Promise.all(inFlight);
  await store.close();
  const buildS = (performance.now() - buildStart) / 1000;

  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const start = performance.now();
  store = openLmdbStore({ dataDir, sync: 'fsync' });
  const count = store.queue('deep')?.count ?? 0;
  const first = store.readQueue('deep', 0, 100);
  const openMs = performance.now() - start;
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  if (count !== messages || first.length !== Math.min(100, messages)) throw new Error(`open-time store holds ${count} messages, expected ${messages}`);
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
  return { open_ms: openMs, open_rss_growth_mib: rssGrowth / 1024 / 1024, build_s: buildS };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { size: { type: 'string', default: 'full' }, dir: { type: 'string' } }, strict: true });
  const size = values.size as Size;
  if (size !== 'tiny' && size !== 'full') {
    process.stderr.write(`bench store: --size must be tiny or full, not ${JSON.stringify(values.size)}\n`);
    process.exit(2);
  }
  const plan = PLANS[size];
  const dir = mkdtempSync(join(values.dir ?? tmpdir(), 'bench-store-'));
  const machine = describeMachine();
  const rows: Array<Record<string, unknown>> = [];
  const emit = (row: Record<string, unknown>): void => {
    rows.push(row);
    process.stdout.write(`${JSON.stringify({ scenario: 'store', size, machine, ...row })}\n`);
  };
  try {
    progress(`raw fsync loop (${plan.rowSeconds} s)`);
    const raw = rawFsyncRate(dir, plan.rowSeconds);
    emit({ test: 'raw write+fdatasync, 1 KiB', writers: 1, fsyncs_per_s: raw, records_per_s: raw, records_per_fsync: 1 });
    for (const writers of plan.writers) {
      progress(`durable enqueue+dequeue, ${writers} writers (${plan.rowSeconds} s)`);
      const r = await durableWriters(dir, writers, plan.rowSeconds);
      const target = writers === 256 ? r.records_per_fsync! >= 50 : undefined;
      emit({ test: 'durable enqueue+dequeue, 1 KiB', writers, ...r, fsync_ratio_to_raw: r.fsyncs_per_s! / raw, ...(target === undefined ? {} : { target_50_per_fsync_met: target }) });
    }
    progress(`open time of a store with ${plan.openMessages.toLocaleString('en-US')} queued messages`);
    const o = await openTime(dir, plan.openMessages);
    emit({ test: `open, ${plan.openMessages.toLocaleString('en-US')} queued 1 KiB messages`, messages: plan.openMessages, ...o, target_under_1s_met: o.open_ms! < 1000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const columns: TableColumn[] = [
    { key: 'test', header: 'test' },
    { key: 'writers', header: 'writers' },
    { key: 'records_per_s', header: 'records/s' },
    { key: 'fsyncs_per_s', header: 'fsyncs/s' },
    { key: 'records_per_fsync', header: 'records/fsync', digits: 1 },
    { key: 'durable_p50_ms', header: 'durable p50 ms', digits: 2 },
    { key: 'durable_p99_ms', header: 'durable p99 ms', digits: 2 },
    { key: 'open_ms', header: 'open ms', digits: 1 },
    { key: 'open_rss_growth_mib', header: 'open RSS growth MiB', digits: 1 },
  ];
  process.stdout.write(`\n${markdownTable(columns, rows)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench store: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
