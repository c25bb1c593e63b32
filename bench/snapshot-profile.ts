// Probe (not a scenario): a new backup's full copy behind a primary holding N queued 1 KiB
// messages, timed from spawn to ready, with both brokers' CPU per MB queued; with `load`, while
// the catch-up scenario's 4+4 unthrottled durable producers and consumers run on the primary
// (the replication issue's hardest row, at a size that takes a minute, not fifteen), and their
// rate during the catch-up against before. BENCH_PROFILE_DIR=dir adds V8 CPU profiles of both
// brokers (written when they stop). The first run also pays the primary's one-time log retention.
//   node dist/bench/snapshot-profile.js [MESSAGES (200000)] [RUNS (3)] [load]
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { BenchCluster } from './lib/cluster.js';
import { buildDeepStore, removeDeepStore } from './lib/deep-store.js';
import { FAILOVER_LOAD_DEFAULTS } from './lib/failover-load-options.js';
import { LoadProcess } from './lib/load-process.js';
import { epochNowMs, timelineRate } from './lib/timeline.js';

const LOAD = { ...FAILOVER_LOAD_DEFAULTS, producers: 4, consumers: 4, rateMsgsPerS: 0, queue: 'catch-up-load', drainS: 60 };
const BASELINE_MS = 4000;

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function main(): Promise<void> {
  const messages = Number(process.argv[2] ?? 200_000);
  const runs = Number(process.argv[3] ?? 3);
  const loaded = process.argv[4] === 'load';
  const log = (line: string): void => console.log(line);
  const store = await buildDeepStore({ messages, keepLog: true, log });
  const cluster = await BenchCluster.create({ size: 2, replicate: 'all', maintenanceS: 0.1, heartbeatS: 120, dataDirs: [store.dataDir] });
  const mb = (store.messages * store.messageBytes) / 1e6;
  try {
    await cluster.start(0);
    await cluster.promote(0);
    await cluster.waitForState(0, ['active'], 120_000);
    for (let run = 0; run < runs; run++) {
      const dir = cluster.dataDirs[1] as string;
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const load = loaded ? await LoadProcess.start({ ...LOAD, url: `127.0.0.1:${cluster.ports[0]}` }) : null;
      const loadStartMs = epochNowMs();
      if (load) await new Promise((r) => setTimeout(r, BASELINE_MS));
      const primaryPid = cluster.member(0).pid;
      const primaryBefore = cpuMs(primaryPid);
      const spawnedAtMs = epochNowMs();
      await cluster.start(1);
      await cluster.waitForState(1, ['ready'], 600_000, 25);
      const readyAtMs = epochNowMs();
      const s = (readyAtMs - spawnedAtMs) / 1000;
      const cpu = `primary CPU ${((cpuMs(primaryPid) - primaryBefore) / mb).toFixed(1)} ms/MB, backup CPU ${(cpuMs(cluster.member(1).pid) / mb).toFixed(1)} ms/MB (incl. start-up)`;
      let rates = '';
      if (load) {
        const result = await load.finish(120_000);
        const before = timelineRate(result.timeline, 'accepted', loadStartMs + 1000, spawnedAtMs);
        const during = timelineRate(result.timeline, 'accepted', spawnedAtMs, readyAtMs);
        rates = `; producers ${Math.round(before ?? 0)} msg/s before, ${Math.round(during ?? 0)} during (${before ? ((during ?? 0) / before).toFixed(2) : '-'}), lost ${result.counts.lost}`;
      }
      log(`run ${run}: ready after ${s.toFixed(2)} s, ${(mb / s).toFixed(1)} MB/s; ${cpu}${rates}`);
      await cluster.stopMember(1);
    }
  } finally {
    await cluster.stop();
    removeDeepStore(store);
  }
}

await main();
