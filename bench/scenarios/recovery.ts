// Scenario `recovery`: how long a broker whose store holds 10^4, 10^5 and 10^6 queued 1 KiB
// persistent messages takes from spawn to serving, and its memory afterwards. Recovery is opening
// the LMDB environment and loading the catalog; queue entries are paged in as consumers need them
// (DESIGN.md §2), so the curve should be flat. Each store is written straight through the store
// API (lib/deep-store.ts), then qpidd starts on it: "listening" is the spawn-to-listening-line
// time; "first message" adds a consumer's connect, attach and first delivery. The baseline, in
// the same run, is a store holding a single message. Each store is started several times and the
// median kept; its files are in the OS page cache (just written), so this is a warm start.
import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { buildDeepStore, removeDeepStore } from '../lib/deep-store.js';
import type { DeepStore } from '../lib/deep-store.js';
import { describeMachine } from '../lib/machine.js';
import { probeFirstMessage } from '../lib/probe-consumer.js';
import { MIB, processMemory } from '../lib/proc-memory.js';
import type { ResultRow, ScenarioResult, TableColumn } from '../lib/results.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { startBroker } from '../lib/servers.js';
import { median, round } from '../lib/stats.js';

export const name = 'recovery';
export const description =
  'Time from spawn to serving (listening; first message to a consumer) and RSS of a broker whose store holds 10^4, 10^5, 10^6 queued 1 KiB messages, beside a 1-message store (tiny: 10^3, 10^4)';

const PLANS = {
  tiny: { sizes: [1, 1_000, 10_000], starts: 1 },
  full: { sizes: [1, 10_000, 100_000, 1_000_000], starts: 5 },
} as const;

/** Disk a store of n messages needs, with room to spare (about 2.5 KiB per message measured). */
const DISK_BYTES_PER_MESSAGE = 4096;
const TARGET_SERVING_MS = 1000;
const TARGET_RSS_MIB = 200;

const columns: readonly TableColumn[] = [
  { key: 'messagesLabel', header: 'queued messages' },
  { key: 'storeMiB', header: 'store MiB' },
  { key: 'listeningMs', header: 'spawn to listening ms' },
  { key: 'servingMs', header: 'spawn to first message ms' },
  { key: 'ratio', header: 'ratio to 1-message store', digits: 2 },
  { key: 'rssMiB', header: 'RSS MiB', digits: 1 },
  { key: 'anonMiB', header: 'of which heap/anon MiB', digits: 1 },
  { key: 'fileMiB', header: 'of which file-backed MiB (node binary, store map)', digits: 1 },
  { key: 'starts', header: 'starts' },
  { key: 'buildS', header: 'store build s', digits: 1 },
];

interface StartSample {
  readonly listeningMs: number;
  readonly servingMs: number;
  readonly rssMiB: number;
  readonly anonMiB: number;
  readonly fileMiB: number;
}

async function startOnce(store: DeepStore): Promise<StartSample> {
  const spawnedAtMs = performance.now();
  const broker = await startBroker({ dataDir: store.dataDir, readyTimeoutMs: 120_000 });
  const listeningAtMs = performance.now();
  try {
    const probe = await probeFirstMessage(broker.host, broker.port, store.queue, 60_000);
    const memory = processMemory(broker.pid);
    if (broker.exitedEarly()) throw new Error('broker exited during the probe');
    return {
      listeningMs: listeningAtMs - spawnedAtMs,
      servingMs: probe.firstMessageAtMs - spawnedAtMs,
      rssMiB: (memory?.rssBytes ?? NaN) / MIB,
      anonMiB: (memory?.anonBytes ?? NaN) / MIB,
      fileMiB: (memory?.fileBytes ?? NaN) / MIB,
    };
  } finally {
    await broker.stop();
  }
}

export async function run(options: ScenarioOptions): Promise<ScenarioResult> {
  const machine = describeMachine();
  const plan = PLANS[options.size];
  const notes: string[] = [
    `load average (1 min) at start: ${machine.loadAverage1m}`,
    'warm start: each store was just written, so its pages are in the OS page cache; medians of the starts',
  ];
  const rows: ResultRow[] = [];
  let ok = true;
  let baselineMs: number | null = null;
  for (const messages of plan.sizes) {
    const disk = statfsSync(tmpdir());
    const freeBytes = disk.bavail * disk.bsize;
    if (freeBytes < messages * DISK_BYTES_PER_MESSAGE * 1.5) {
      notes.push(`${messages} messages skipped: ${Math.round(freeBytes / MIB)} MiB free in ${tmpdir()}, need ~${Math.round((messages * DISK_BYTES_PER_MESSAGE * 1.5) / MIB)}`);
      continue;
    }
    options.log(`${messages.toLocaleString('en-US')} queued messages: building the store`);
    let store: DeepStore | undefined;
    try {
      store = await buildDeepStore({ messages, log: options.log });
      options.log(`  built in ${store.buildS.toFixed(1)} s, ${Math.round(store.diskBytes / MIB)} MiB on disk; ${plan.starts} start(s)`);
      const samples: StartSample[] = [];
      for (let i = 0; i < plan.starts; i++) {
        const sample = await startOnce(store);
        options.log(`  start ${i + 1}: listening ${sample.listeningMs.toFixed(0)} ms, first message ${sample.servingMs.toFixed(0)} ms, RSS ${sample.rssMiB.toFixed(1)} MiB (anon ${sample.anonMiB.toFixed(1)})`);
        samples.push(sample);
      }
      const servingMs = median(samples.map((s) => s.servingMs)) as number;
      if (messages === 1) baselineMs = servingMs;
      rows.push({
        messages,
        messagesLabel: messages === 1 ? '1 (baseline)' : messages.toLocaleString('en-US'),
        storeMiB: Math.round(store.diskBytes / MIB),
        listeningMs: round(median(samples.map((s) => s.listeningMs))),
        servingMs: round(servingMs),
        ratio: baselineMs ? round(servingMs / baselineMs, 2) : null,
        rssMiB: round(median(samples.map((s) => s.rssMiB)), 1),
        anonMiB: round(median(samples.map((s) => s.anonMiB)), 1),
        fileMiB: round(median(samples.map((s) => s.fileMiB)), 1),
        starts: samples.length,
        buildS: round(store.buildS, 1),
        samples,
        ok: true,
      });
    } catch (err) {
      ok = false;
      const problem = (err as Error).message.split('\n')[0] as string;
      notes.push(`${messages} messages: ${problem}`);
      options.log(`  failed: ${(err as Error).message}`);
      rows.push({ messages, messagesLabel: messages.toLocaleString('en-US'), ok: false, problem });
    } finally {
      if (store) removeDeepStore(store);
    }
  }
  const largest = rows.filter((r) => r['ok'] === true).at(-1);
  if (largest && largest['messages'] !== 1) {
    notes.push(
      `${String(largest['messagesLabel'])} messages: ${String(largest['servingMs'])} ms to the first message (target < ${TARGET_SERVING_MS} ms), ` +
        `RSS ${String(largest['rssMiB'])} MiB (target < ${TARGET_RSS_MIB} MiB)`,
    );
  }
  const measured = rows.filter((r) => r['ok'] === true);
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
      title: 'Recovery: spawn to serving (ms) and RSS after recovery (MiB), by queued 1 KiB messages',
      yLabel: 'ms, or MiB for RSS',
      categories: measured.map((r) => String(r['messagesLabel'])),
      series: [
        { name: 'spawn to listening (ms)', values: measured.map((r) => r['listeningMs'] as number) },
        { name: 'spawn to first message (ms)', values: measured.map((r) => r['servingMs'] as number) },
        { name: 'RSS (MiB)', values: measured.map((r) => r['rssMiB'] as number) },
      ],
    },
  };
}
