// Scenario `soak`: a 3-broker cluster under a mixed load for 10 minutes with periodic failures,
// sampling every broker's RSS and V8 heap once a second: they must level off (no leak). The load
// is three streams on the failover client: durable 1 KiB, transient 100 B and durable 16 KiB.
// One broker, b2, is never killed, so that one process lives through the whole run: it is a
// backup while the primary is killed and b0/b1 take turns; at mid-run the primary is killed once
// more and b2 promoted; from then on b2 stays primary while backups are killed and rejoin (the
// primary's side of a failure: a backup leaving the gate, a new one catching up). Every killed
// broker restarts on its store at once. The leak verdict is the slope of b2's anonymous memory and
// V8 heap over the last half of each of its two roles (RSS, which also counts the touched pages of
// the memory-mapped store, is reported beside); the baseline is the same process earlier in the run.
import { BenchCluster } from '../lib/cluster.js';
import { FAILOVER_LOAD_DEFAULTS } from '../lib/failover-load-options.js';
import type { FailoverLoadOptions, FailoverLoadResult } from '../lib/failover-run.js';
import { LoadProcess } from '../lib/load-process.js';
import { describeMachine } from '../lib/machine.js';
import { MemorySampler } from '../lib/memory-sampler.js';
import type { MemorySample } from '../lib/memory-sampler.js';
import type { ResultRow, ScenarioResult, TableColumn } from '../lib/results.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { maximum, round, slope } from '../lib/stats.js';
import { epochNowMs, timelineRate } from '../lib/timeline.js';

export const name = 'soak';
export const description =
  'A mixed load on a 3-broker cluster for 10 minutes with a failure every 75 s (primary kills, then backup kills under a long-lived primary); RSS and heap sampled every second must level off (tiny: 8 s, 2 failures)';

type FailureKind = 'kill primary' | 'kill primary, promote b2' | 'kill backup';

interface Plan {
  readonly durationS: number;
  readonly failures: readonly { readonly atS: number; readonly kind: FailureKind }[];
  /** Rate multiplier on the streams below (tiny runs lighter). */
  readonly rateScale: number;
}

const PLANS: Record<ScenarioOptions['size'], Plan> = {
  tiny: { durationS: 8, rateScale: 0.5, failures: [{ atS: 2, kind: 'kill primary, promote b2' }, { atS: 5, kind: 'kill backup' }] },
  full: {
    durationS: 600,
    rateScale: 1,
    failures: [
      { atS: 75, kind: 'kill primary' },
      { atS: 150, kind: 'kill primary' },
      { atS: 225, kind: 'kill primary' },
      { atS: 300, kind: 'kill primary, promote b2' },
      { atS: 375, kind: 'kill backup' },
      { atS: 450, kind: 'kill backup' },
      { atS: 525, kind: 'kill backup' },
    ],
  },
};

const LONG_LIVED = 2;
/** Growth over the last half of a role, above which memory has not levelled off. */
const LEAK_SLOPE_MIB_PER_MIN = 5;
/** A span shorter than this gets no verdict: a restarted broker spends its first minutes catching
 * up and growing into its working set (the tiny run, and b0/b1's incarnations between kills). */
const VERDICT_MIN_S = 240;

interface Stream {
  readonly label: string;
  readonly options: Omit<FailoverLoadOptions, 'url'>;
  /** Transient messages may be lost in a failover; only durable streams must lose nothing. */
  readonly mustNotLose: boolean;
}

function streams(rateScale: number): Stream[] {
  const base = { ...FAILOVER_LOAD_DEFAULTS, drainS: 60 };
  return [
    { label: 'durable 1 KiB 2+2', mustNotLose: true, options: { ...base, queue: 'soak-durable', producers: 2, consumers: 2, sizeBytes: 1024, durable: true, rateMsgsPerS: 500 * rateScale } },
    { label: 'transient 100 B 1+1', mustNotLose: false, options: { ...base, queue: 'soak-transient', producers: 1, consumers: 1, sizeBytes: 100, durable: false, rateMsgsPerS: 500 * rateScale } },
    { label: 'durable 16 KiB 1+1', mustNotLose: true, options: { ...base, queue: 'soak-large', producers: 1, consumers: 1, sizeBytes: 16384, durable: true, rateMsgsPerS: 50 * rateScale } },
  ];
}

const columns: readonly TableColumn[] = [
  { key: 'what', header: 'process or stream' },
  { key: 'span', header: 'seconds' },
  { key: 'rss', header: 'RSS MiB first / max / last' },
  { key: 'rssSlope', header: 'RSS MiB/min, last half', digits: 2 },
  { key: 'anon', header: 'anon MiB first / max / last' },
  { key: 'anonSlope', header: 'anon MiB/min, last half', digits: 2 },
  { key: 'heap', header: 'heap MiB first / max / last' },
  { key: 'heapSlope', header: 'heap MiB/min, last half', digits: 2 },
  { key: 'verdict', header: 'levels off' },
  { key: 'accepted', header: 'accepted' },
  { key: 'msgsPerS', header: 'msgs/s' },
  { key: 'lost', header: 'lost' },
  { key: 'duplicates', header: 'dups' },
];

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Memory figures of one run of samples (one process, or one role of it). */
function memoryRow(what: string, samples: readonly MemorySample[]): ResultRow {
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last) return { what, span: 0 };
  const spanS = last.atS - first.atS;
  const secondHalf = samples.filter((s) => s.atS >= first.atS + spanS / 2);
  const heapSamples = samples.filter((s) => s.heapUsedMiB !== null);
  const heapHalf = secondHalf.filter((s) => s.heapUsedMiB !== null);
  const perMin = (points: [number, number][]): number | null => {
    const value = slope(points);
    return value === null ? null : round(value * 60, 2);
  };
  const rssSlope = perMin(secondHalf.map((s) => [s.atS, s.rssMiB]));
  const anonSlope = perMin(secondHalf.map((s) => [s.atS, s.anonMiB]));
  const heapSlope = perMin(heapHalf.map((s) => [s.atS, s.heapUsedMiB as number]));
  const triple = (values: number[]): string => (values.length === 0 ? '-' : `${values[0]} / ${maximum(values)} / ${values.at(-1)}`);
  // The verdict reads the process's own memory: the V8 heap and the anonymous pages. Total RSS
  // also counts the pages of the memory-mapped store it has touched, which grow with the store
  // (the log up to --store-log-max-bytes, the queues' depth) and belong to the page cache.
  const verdict =
    spanS < VERDICT_MIN_S || anonSlope === null || heapSlope === null ? null : anonSlope < LEAK_SLOPE_MIB_PER_MIN && heapSlope < LEAK_SLOPE_MIB_PER_MIN;
  return {
    what,
    span: round(spanS),
    rss: triple(samples.map((s) => s.rssMiB)),
    rssSlope,
    anon: triple(samples.map((s) => s.anonMiB)),
    anonSlope,
    heap: triple(heapSamples.map((s) => s.heapUsedMiB as number)),
    heapSlope,
    verdict: verdict === null ? 'too short' : verdict ? 'yes' : 'NO',
    levelsOff: verdict,
    samples: samples.length,
    detail: samples.map((s) => [s.atS, s.rssMiB, s.anonMiB, s.heapUsedMiB]),
  };
}

export async function run(options: ScenarioOptions): Promise<ScenarioResult> {
  const machine = describeMachine();
  const plan = PLANS[options.size];
  const notes: string[] = [`load average (1 min) at start: ${machine.loadAverage1m}`];
  const rows: ResultRow[] = [];
  let ok = true;
  const loadStreams = streams(plan.rateScale);
  notes.push(`load: ${loadStreams.map((s) => `${s.label} at ${s.options.rateMsgsPerS} msg/s`).join('; ')}; failover client, heartbeat 1 s`);

  const cluster = await BenchCluster.startReady({ size: 3, replicate: 'all', maintenanceS: 0.1, heartbeatS: 1, http: true }, options.log);
  const sampler = new MemorySampler(() =>
    cluster.members.flatMap((m, i) => (m ? [{ member: `b${i}`, pid: m.pid, ...(m.httpPort === undefined ? {} : { httpPort: m.httpPort }) }] : [])),
  );
  const loads: LoadProcess[] = [];
  const results: (FailoverLoadResult | undefined)[] = [];
  const events: ResultRow[] = [];
  let switchAtS: number | null = null;
  const startedMs = performance.now();
  const elapsedS = (): number => (performance.now() - startedMs) / 1000;
  try {
    sampler.start();
    for (const stream of loadStreams) loads.push(await LoadProcess.start({ ...stream.options, url: cluster.url }));
    const loadStartMs = epochNowMs();
    options.log(`  ${loads.length} load streams attached; running ${plan.durationS} s`);
    let primary = 0;
    let nextBackupVictim = 0;
    for (const failure of plan.failures) {
      await delay(Math.max(0, failure.atS - elapsedS()) * 1000);
      const atS = round(elapsedS(), 1);
      let victim: number;
      let promoted: number | null = null;
      if (failure.kind === 'kill backup') {
        victim = [nextBackupVictim, 1 - nextBackupVictim].find((i) => i !== primary) as number;
        nextBackupVictim = 1 - victim;
      } else {
        victim = primary;
        promoted = failure.kind === 'kill primary, promote b2' ? LONG_LIVED : 1 - primary;
      }
      const killedAtMs = performance.now();
      const gone = cluster.kill(victim);
      let activeMs: number | null = null;
      if (promoted !== null) {
        await cluster.promote(promoted);
        await cluster.waitForState(promoted, ['active'], 30_000, 20);
        activeMs = round(performance.now() - killedAtMs);
        primary = promoted;
        if (promoted === LONG_LIVED) switchAtS = atS;
      }
      await gone;
      await cluster.start(victim);
      for (let i = 0; i < 3; i++) if (i !== primary) await cluster.waitForState(i, ['ready'], 120_000);
      const rejoinMs = round(performance.now() - killedAtMs);
      events.push({ atS, kind: failure.kind, victim: `b${victim}`, promoted: promoted === null ? null : `b${promoted}`, activeMs, allReadyMs: rejoinMs });
      options.log(`  ${atS} s: ${failure.kind}: b${victim}${promoted !== null ? ` -> b${promoted} active after ${activeMs} ms` : ''}; all backups ready after ${rejoinMs} ms`);
    }
    await delay(Math.max(0, plan.durationS - elapsedS()) * 1000);
    const loadEndMs = epochNowMs();
    sampler.stop();
    for (const load of loads) results.push(await load.finish(120_000));
    results.forEach((result, i) => {
      const stream = loadStreams[i] as Stream;
      if (!result) return;
      const streamOk = result.drained && (!stream.mustNotLose || result.counts.lost === 0) && result.counts.received > 0;
      ok &&= streamOk;
      if (!streamOk) notes.push(`${stream.label}: lost ${result.counts.lost}, drained ${result.drained}; ${result.errorSamples.join('; ')}`);
      rows.push({
        what: `load ${stream.label}`,
        span: round((loadEndMs - loadStartMs) / 1000),
        accepted: result.counts.accepted,
        msgsPerS: round(timelineRate(result.timeline, 'accepted', loadStartMs, loadEndMs)),
        lost: result.counts.lost,
        duplicates: result.counts.duplicates,
        ok: streamOk,
        detail: result,
      });
    });
  } catch (err) {
    ok = false;
    notes.push(`failed at ${round(elapsedS())} s: ${(err as Error).message.split('\n')[0]}`);
    options.log(`  failed: ${(err as Error).message}`);
    for (const load of loads) load.kill();
  } finally {
    sampler.stop();
    await cluster.stop();
  }

  // Memory: the long-lived broker by role, then every other incarnation.
  const samples = sampler.samples;
  const longLived = samples.filter((s) => s.member === `b${LONG_LIVED}`);
  const longLivedPid = longLived[0]?.pid;
  const b2 = longLived.filter((s) => s.pid === longLivedPid);
  const roleRows: ResultRow[] = [];
  if (switchAtS === null) {
    roleRows.push(memoryRow(`b${LONG_LIVED} (backup all run)`, b2));
  } else {
    const at = switchAtS;
    roleRows.push(memoryRow(`b${LONG_LIVED} as backup (0-${at} s)`, b2.filter((s) => s.atS < at)));
    roleRows.push(memoryRow(`b${LONG_LIVED} as primary (${at} s-end)`, b2.filter((s) => s.atS >= at)));
  }
  for (const row of roleRows) {
    if (row['levelsOff'] === false) {
      ok = false;
      notes.push(`${String(row['what'])}: memory still growing over the last half (anon ${String(row['anonSlope'])} MiB/min, heap ${String(row['heapSlope'])} MiB/min; limit ${LEAK_SLOPE_MIB_PER_MIN})`);
    }
  }
  const incarnations = new Map<string, MemorySample[]>();
  for (const sample of samples) {
    if (sample.member === `b${LONG_LIVED}` && sample.pid === longLivedPid) continue;
    const key = `${sample.member} pid ${sample.pid}`;
    incarnations.set(key, [...(incarnations.get(key) ?? []), sample]);
  }
  const incarnationRows = [...incarnations.entries()].map(([key, list]) => memoryRow(key, list));
  rows.unshift(...roleRows, ...incarnationRows);
  rows.push({ what: 'failures', events });
  notes.push(
    `failures: ${events.map((e) => `${String(e['atS'])} s ${String(e['kind'])}: ${String(e['victim'])}${e['promoted'] ? ` -> ${String(e['promoted'])} active after ${String(e['activeMs'])} ms` : ''}, all backups ready after ${String(e['allReadyMs'])} ms`).join('; ')}`,
    `levels off: the least-squares slope over the last half of the span is under ${LEAK_SLOPE_MIB_PER_MIN} MiB/min for both the anonymous memory and the V8 heap ` +
      `(spans under ${VERDICT_MIN_S} s get no verdict); RSS also counts the touched pages of the memory-mapped store, which grow with the store; each row's detail holds its samples [s, RSS, anon, heap]`,
  );

  const series = (member: string, pick: (s: MemorySample) => number | null, label: string): { name: string; points: [number, number][] } => ({
    name: label,
    points: samples.filter((s) => s.member === member).flatMap((s) => {
      const value = pick(s);
      return value === null ? [] : [[s.atS, value] as [number, number]];
    }),
  });
  return {
    scenario: name,
    size: options.size,
    machine,
    rows,
    columns,
    ok,
    notes,
    chart: {
      kind: 'line',
      title: 'Soak: broker memory, sampled every second (b0/b1 restart after each kill)',
      xLabel: 'seconds',
      yLabel: 'MiB',
      series: [
        series(`b${LONG_LIVED}`, (s) => s.rssMiB, `b${LONG_LIVED} RSS (never killed)`),
        series(`b${LONG_LIVED}`, (s) => s.anonMiB, `b${LONG_LIVED} anon`),
        series(`b${LONG_LIVED}`, (s) => s.heapUsedMiB, `b${LONG_LIVED} heap used`),
        series('b0', (s) => s.rssMiB, 'b0 RSS'),
        series('b1', (s) => s.rssMiB, 'b1 RSS'),
      ],
    },
  };
}
