// Probe (not a scenario): what the primary spends to read a snapshot and encode its frames,
// without a broker, a backup or the network, so that a change to that path can be measured
// apart from a catch-up's noise. Builds a store of N queued 1 KiB messages, then reads its
// snapshot in the primary's batches (256 records) and encodes each batch as a replication frame,
// RUNS times: CPU µs per record, and the garbage collector's share.
//   node --expose-gc dist/bench/snapshot-read.js [MESSAGES (200000)] [RUNS (5)]
import { PerformanceObserver } from 'node:perf_hooks';
import { openLmdbStore } from '../store/index.js';
import type { Snapshot, StoreRecord } from '../store/index.js';
import { encodePrimaryFrame } from '../src/ha/messages.js';

const FRAME_HEADER_BYTES = 5;
import { buildDeepStore, removeDeepStore } from './lib/deep-store.js';

const BATCH = 256;

type BatchRead = (maxRecords: number, frameHeadroom?: number) => { readonly records: StoreRecord[]; readonly done: boolean };

async function readAll(snapshot: Snapshot, sink: (records: StoreRecord[]) => void): Promise<number> {
  let n = 0;
  // The synchronous batch read where the build has one, else the async iterator it replaced.
  const read = (snapshot as unknown as { read?: BatchRead }).read?.bind(snapshot);
  if (read) {
    for (;;) {
      // As the primary reads: records encoded into their frame as they are read (a build
      // without that ignores the headroom).
      const batch = read(BATCH, FRAME_HEADER_BYTES);
      n += batch.records.length;
      sink(batch.records);
      if (batch.done) return n;
    }
  }
  let records: StoreRecord[] = [];
  for await (const record of snapshot.records()) {
    records.push(record);
    if (records.length === BATCH) {
      n += records.length;
      sink(records);
      records = [];
    }
  }
  sink(records);
  return n + records.length;
}

async function main(): Promise<void> {
  const messages = Number(process.argv[2] ?? 200_000);
  const runs = Number(process.argv[3] ?? 5);
  const deep = await buildDeepStore({ messages, log: (line) => console.log(line) });
  let gcMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  observer.observe({ entryTypes: ['gc'] });
  const store = openLmdbStore({ dataDir: deep.dataDir, readOnly: true });
  try {
    const perRecord: number[] = [];
    for (let run = 0; run < runs; run++) {
      (globalThis as { gc?: () => void }).gc?.();
      gcMs = 0;
      let bytes = 0;
      const cpu0 = process.cpuUsage();
      const snapshot = store.snapshot();
      const n = await readAll(snapshot, (records) => {
        bytes += encodePrimaryFrame({ kind: 'snapshot-records', epoch: 1, records }).byteLength;
      });
      snapshot.close();
      const cpu = process.cpuUsage(cpu0);
      const us = (cpu.user + cpu.system) / n;
      perRecord.push(us);
      await new Promise((r) => setTimeout(r, 50));
      console.log(`run ${run}: ${n} records, ${(bytes / 1e6).toFixed(0)} MB framed, ${us.toFixed(2)} µs CPU per record, GC ${((gcMs * 1000) / n).toFixed(2)} µs per record`);
    }
    perRecord.sort((a, b) => a - b);
    console.log(`median ${perRecord[Math.floor(perRecord.length / 2)]?.toFixed(2)} µs CPU per record`);
  } finally {
    await store.close();
    removeDeepStore(deep);
  }
}

await main();
