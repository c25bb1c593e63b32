// Scenario `catch-up-cases`: the four catch-up cases of the replication issue (15), each beside its
// target, on one 2-broker cluster whose primary holds 10^6 queued 1 KiB messages (tiny: 10^4).
// The `catch-up` scenario measures a new backup's full copy; this one measures what a backup that
// returns costs, in the order a cluster meets them:
// 1. a ready backup killed (SIGKILL) under a paced load (5k msg/s) and restarted 5 s later:
//    restart to ready, how it caught up, and the bytes shipped against what it missed;
// 2. the same backup frozen (SIGSTOP) for 30 s under that load, with qpidd's default 120 s
//    heartbeat: the longest time producers got no settlement, then thawed: back in the gate;
// 3. total cluster failure (both SIGKILL), both restarted and the first promoted: the second's
//    time to ready with --ha-total-failure-resync incremental, and with the default, wipe, as the
//    baseline in the same run;
// 4. a new backup (empty store) while 4+4 unthrottled durable producers send: spawn to ready,
//    and the producers' rate during the catch-up against before.
// The first full copy (a new backup behind the idle primary) is the first row: what every return
// cost before incremental catch-up. Two brokers, so --ha-min-backups is 0: the primary settles
// alone while its backup is away, as a 2-broker cluster does.
import { setTimeout as delay } from 'node:timers/promises';
import { mkdirSync, rmSync } from 'node:fs';
import { BenchCluster, pollUntil } from '../lib/cluster.js';
import { buildDeepStore, removeDeepStore } from '../lib/deep-store.js';
import type { DeepStore } from '../lib/deep-store.js';
import { FAILOVER_LOAD_DEFAULTS } from '../lib/failover-load-options.js';
import type { FailoverLoadResult } from '../lib/failover-run.js';
import { LoadProcess } from '../lib/load-process.js';
import { describeMachine } from '../lib/machine.js';
import type { ResultRow, ScenarioResult, TableColumn } from '../lib/results.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { round } from '../lib/stats.js';
import { epochNowMs, longestGapMs, timelineRate } from '../lib/timeline.js';
import type { CatchUp } from '../../src/ha/catch-up.js';

export const name = 'catch-up-cases';
export const description =
  "The replication issue's catch-up cases behind 10^6 queued 1 KiB messages: a backup back after 5 s down, frozen 30 s, after a total failure (incremental and wipe), and new under 4+4 unthrottled producers (tiny: 10^4)";

interface Plan {
  readonly messages: number;
  readonly pacedMsgsPerS: number;
  readonly downS: number;
  readonly frozenS: number;
  /** Load before a fault (warm-up and baseline) and after a backup is back. */
  readonly settleS: number;
  readonly confirmTimeoutS: number;
}

const PLANS: Record<ScenarioOptions['size'], Plan> = {
  tiny: { messages: 10_000, pacedMsgsPerS: 1000, downS: 1, frozenS: 4, settleS: 1, confirmTimeoutS: 1 },
  full: { messages: 1_000_000, pacedMsgsPerS: 5000, downS: 5, frozenS: 30, settleS: 4, confirmTimeoutS: 5 },
};

/** qpidd's default heartbeat: a frozen backup is then never dropped for silence within the run. */
const HEARTBEAT_S = 120;
const READY_TIMEOUT_MS = 400_000;
const TARGETS = { returnReadyS: 2, totalFailureReadyS: 5, newBackupReadyS: 60, duringRatio: 0.5 };
// The paced load's consumers attach only at its end: a message consumed at once is settled
// without its backups (the durability contract), so with live consumers a frozen backup would
// hold nothing up and the stall row would measure nothing.
// At full size that is ~265,000 messages (~290 MB) for the consumers to drain at the end.
const PACED = { ...FAILOVER_LOAD_DEFAULTS, producers: 4, consumers: 4, queue: 'catch-up-paced', drainS: 240, deferConsumers: true };
const PACED_FINISH_TIMEOUT_MS = 300_000;
const UNTHROTTLED = { ...PACED, deferConsumers: false, rateMsgsPerS: 0, capacity: 1000, credit: 1000, queue: 'catch-up-unthrottled' };

const columns: readonly TableColumn[] = [
  { key: 'case', header: 'case' },
  { key: 'target', header: 'target' },
  { key: 'figure', header: 'measured' },
  { key: 'met', header: 'met' },
  { key: 'howLabel', header: 'how it caught up' },
  { key: 'shippedMB', header: 'shipped MB', digits: 1 },
  { key: 'missedMB', header: 'missed MB', digits: 1 },
  { key: 'beforeMsgsPerS', header: 'producer msgs/s before' },
  { key: 'duringMsgsPerS', header: 'during' },
  { key: 'lost', header: 'lost' },
];

function describeCatchUp(catchUp: CatchUp | undefined): string {
  if (!catchUp) return 'unknown';
  return catchUp.kind === 'incremental' ? `incremental from LSN ${catchUp.fromLsn.toLocaleString('en-US')}` : `snapshot (${catchUp.reason})`;
}

/** What the primary says of member 1: how its last join caught up and the bytes shipped since. */
async function backupAsSeenByPrimary(cluster: BenchCluster): Promise<{ catchUp: CatchUp | undefined; shippedBytes: number }> {
  const status = await cluster.status(0);
  const member = status.members.find((m) => m.name === 'b1');
  return { catchUp: member?.catchUp, shippedBytes: member?.shippedBytes ?? 0 };
}

/** Resolves at the moment the primary counts member 1 in its ack gate again (a thawed backup's
 * own status may still say `ready` from before its freeze: the primary's view is the one that
 * settles producers). */
async function waitUntilGated(cluster: BenchCluster, timeoutMs: number): Promise<number> {
  await pollUntil(async () => ((await cluster.status(0)).gate?.backups ?? 0) >= 1, 'b1 back in the ack gate', timeoutMs, 25);
  return epochNowMs();
}

/** Spawns member 1 (optionally on an emptied directory) and resolves with spawn and ready times. */
async function startBackup(cluster: BenchCluster, options: { empty: boolean; args?: readonly string[] }): Promise<{ spawnedAtMs: number; readyAtMs: number }> {
  if (options.empty) {
    const dir = cluster.dataDirs[1] as string;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }
  const spawnedAtMs = epochNowMs();
  await cluster.start(1, options.args);
  await cluster.waitForState(1, ['ready'], READY_TIMEOUT_MS, 25);
  return { spawnedAtMs, readyAtMs: epochNowMs() };
}

function loadProblem(result: FailoverLoadResult): Record<string, unknown> {
  return result.ok ? {} : { problem: `load: lost ${result.counts.lost}, drained ${result.drained}; ${result.errorSamples.join('; ')}` };
}

/** Pushes each case's row into `rows` as soon as it is measured, so that a case that throws
 * leaves the ones before it reported. */
async function measure(store: DeepStore, plan: Plan, rows: ResultRow[], log: (line: string) => void): Promise<void> {
  const mb = (bytes: number): number | null => round(bytes / 1e6, 1);
  const cluster = await BenchCluster.create({
    size: 2,
    maintenanceS: 0.1,
    heartbeatS: HEARTBEAT_S,
    dataDirs: [store.dataDir],
    // Unbounded queues: the paced load's deferred consumers leave ~290 MB queued, and past the
    // default 100 MB limit flow control would stop its producers (and, with the consumers
    // waiting for the producers to finish, for good): this scenario measures replication.
    extraArgs: ['--ha-confirm-timeout', String(plan.confirmTimeoutS), '--default-queue-limit', '0'],
  });
  const seconds = (fromMs: number, toMs: number): number => (toMs - fromMs) / 1000;
  try {
    await cluster.start(0);
    await cluster.promote(0);
    await cluster.waitForState(0, ['active'], 120_000);
    const first = await startBackup(cluster, { empty: true });
    const firstCopy = await backupAsSeenByPrimary(cluster);
    const firstS = seconds(first.spawnedAtMs, first.readyAtMs);
    log(`  new backup, idle primary: ready after ${firstS.toFixed(2)} s, ${describeCatchUp(firstCopy.catchUp)}`);
    rows.push({
      case: `new backup, idle primary (the full copy every return cost before)`,
      target: '-',
      figure: `${firstS.toFixed(2)} s`,
      readyS: round(firstS, 2),
      howLabel: describeCatchUp(firstCopy.catchUp),
      catchUp: firstCopy.catchUp,
      shippedMB: mb(firstCopy.shippedBytes),
      ok: true,
    });

    // Cases 1 and 2 under one paced load.
    const paced = await LoadProcess.start({ ...PACED, rateMsgsPerS: plan.pacedMsgsPerS, url: cluster.url });
    let pacedResult: FailoverLoadResult;
    const returned = { killedAtMs: 0, spawnedAtMs: 0, readyAtMs: 0, catchUp: undefined as CatchUp | undefined, shippedBytes: 0 };
    const frozen = { stoppedAtMs: 0, contAtMs: 0, gatedAtMs: 0 };
    try {
      await delay(plan.settleS * 1000);
      returned.killedAtMs = epochNowMs();
      await cluster.kill(1);
      await delay(plan.downS * 1000);
      Object.assign(returned, await startBackup(cluster, { empty: false }));
      Object.assign(returned, await backupAsSeenByPrimary(cluster));
      log(`  backup down ${plan.downS} s: ready ${seconds(returned.spawnedAtMs, returned.readyAtMs).toFixed(2)} s after its restart, ${describeCatchUp(returned.catchUp)}, ${mb(returned.shippedBytes)} MB shipped`);
      await delay(plan.settleS * 1000);
      frozen.stoppedAtMs = epochNowMs();
      cluster.signal(1, 'SIGSTOP');
      await delay(plan.frozenS * 1000);
      frozen.contAtMs = epochNowMs();
      cluster.signal(1, 'SIGCONT');
      frozen.gatedAtMs = await waitUntilGated(cluster, READY_TIMEOUT_MS);
      log(`  backup frozen ${plan.frozenS} s: back in the gate ${seconds(frozen.contAtMs, frozen.gatedAtMs).toFixed(2)} s after SIGCONT`);
      await delay(plan.settleS * 1000);
      pacedResult = await paced.finish(PACED_FINISH_TIMEOUT_MS);
    } catch (err) {
      paced.kill();
      throw err;
    }
    const accepted = (fromMs: number, toMs: number): number => (timelineRate(pacedResult.timeline, 'accepted', fromMs, toMs) ?? 0) * seconds(fromMs, toMs);
    const returnS = seconds(returned.spawnedAtMs, returned.readyAtMs);
    const missedBytes = accepted(returned.killedAtMs, returned.readyAtMs) * store.messageBytes;
    const shippedRatio = missedBytes > 0 ? returned.shippedBytes / missedBytes : null;
    rows.push({
      case: `backup down ${plan.downS} s (SIGKILL), producers at ${plan.pacedMsgsPerS} msg/s: restart to ready`,
      target: `< ${TARGETS.returnReadyS} s; shipped ≈ missed`,
      figure: `${returnS.toFixed(2)} s; shipped/missed ${shippedRatio === null ? '-' : shippedRatio.toFixed(2)}`,
      met: returnS < TARGETS.returnReadyS && returned.catchUp?.kind === 'incremental' && shippedRatio !== null && shippedRatio < 2,
      readyS: round(returnS, 2),
      howLabel: describeCatchUp(returned.catchUp),
      catchUp: returned.catchUp,
      shippedMB: mb(returned.shippedBytes),
      missedMB: mb(missedBytes),
      shippedRatio: round(shippedRatio, 2),
      beforeMsgsPerS: round(timelineRate(pacedResult.timeline, 'accepted', returned.killedAtMs - plan.settleS * 1000 + 1000, returned.killedAtMs)),
      duringMsgsPerS: round(timelineRate(pacedResult.timeline, 'accepted', returned.killedAtMs, returned.readyAtMs)),
      lost: pacedResult.counts.lost,
      ok: pacedResult.ok,
      ...loadProblem(pacedResult),
    });
    const stallMs = longestGapMs(pacedResult.timeline, 'accepted', frozen.stoppedAtMs, frozen.contAtMs);
    rows.push({
      case: `ready backup frozen ${plan.frozenS} s (SIGSTOP), heartbeat ${HEARTBEAT_S} s: longest producer stall`,
      target: `≤ ${plan.confirmTimeoutS} s (--ha-confirm-timeout)`,
      figure: stallMs === null ? '-' : `${(stallMs / 1000).toFixed(1)} s; back in the gate ${seconds(frozen.contAtMs, frozen.gatedAtMs).toFixed(2)} s after SIGCONT`,
      met: stallMs !== null && stallMs <= plan.confirmTimeoutS * 1000,
      stallS: stallMs === null ? null : stallMs / 1000,
      regatedS: round(seconds(frozen.contAtMs, frozen.gatedAtMs), 2),
      beforeMsgsPerS: round(timelineRate(pacedResult.timeline, 'accepted', frozen.stoppedAtMs - plan.settleS * 1000 + 1000, frozen.stoppedAtMs)),
      duringMsgsPerS: round(timelineRate(pacedResult.timeline, 'accepted', frozen.stoppedAtMs, frozen.contAtMs)),
      lost: pacedResult.counts.lost,
      ok: pacedResult.ok,
      ...loadProblem(pacedResult),
    });

    // Case 3: total failure, incremental then the default (wipe) as the baseline.
    for (const resync of ['incremental', 'wipe'] as const) {
      await Promise.all([cluster.kill(0), cluster.kill(1)]);
      const args = resync === 'incremental' ? ['--ha-total-failure-resync', 'incremental'] : [];
      await Promise.all([cluster.start(0, args), cluster.start(1, args)]);
      await cluster.promote(0);
      const promotedAtMs = epochNowMs();
      await cluster.waitForState(0, ['active'], 120_000);
      await cluster.waitForState(1, ['ready'], READY_TIMEOUT_MS, 25);
      const readyS = seconds(promotedAtMs, epochNowMs());
      const seen = await backupAsSeenByPrimary(cluster);
      log(`  total failure, ${resync}: second broker ready ${readyS.toFixed(2)} s after the promotion, ${describeCatchUp(seen.catchUp)}`);
      rows.push({
        case: `total cluster failure, --ha-total-failure-resync ${resync}: second broker ready after the first is promoted`,
        target: resync === 'incremental' ? `< ${TARGETS.totalFailureReadyS} s` : 'full copy (the default stays as it is)',
        figure: `${readyS.toFixed(2)} s`,
        met: resync === 'incremental' ? readyS < TARGETS.totalFailureReadyS && seen.catchUp?.kind === 'incremental' : seen.catchUp?.kind === 'snapshot',
        readyS: round(readyS, 2),
        howLabel: describeCatchUp(seen.catchUp),
        catchUp: seen.catchUp,
        shippedMB: mb(seen.shippedBytes),
        ok: true,
      });
    }

    // Case 4: a new backup while unthrottled producers saturate the primary.
    await cluster.kill(1);
    const busy = await LoadProcess.start({ ...UNTHROTTLED, url: cluster.url });
    let busyResult: FailoverLoadResult;
    let joined: { spawnedAtMs: number; readyAtMs: number };
    const loadStartMs = epochNowMs();
    try {
      await delay(plan.settleS * 2 * 1000);
      joined = await startBackup(cluster, { empty: true });
      await delay(plan.settleS * 1000);
      busyResult = await busy.finish(120_000);
    } catch (err) {
      busy.kill();
      throw err;
    }
    const seen = await backupAsSeenByPrimary(cluster);
    const readyS = seconds(joined.spawnedAtMs, joined.readyAtMs);
    const before = timelineRate(busyResult.timeline, 'accepted', loadStartMs + plan.settleS * 1000, joined.spawnedAtMs);
    const during = timelineRate(busyResult.timeline, 'accepted', joined.spawnedAtMs, joined.readyAtMs);
    const ratio = before && during !== null ? during / before : null;
    log(`  new backup under ${UNTHROTTLED.producers}+${UNTHROTTLED.consumers} unthrottled: ready after ${readyS.toFixed(2)} s; producers ${round(before)} msg/s before, ${round(during)} during`);
    rows.push({
      case: `new backup, ${UNTHROTTLED.producers}+${UNTHROTTLED.consumers} durable producers unthrottled: spawn to ready`,
      target: `< ${TARGETS.newBackupReadyS} s; producers ≥ ${TARGETS.duringRatio * 100}% of their rate`,
      figure: `${readyS.toFixed(2)} s; producers at ${ratio === null ? '-' : `${Math.round(ratio * 100)}%`}`,
      met: readyS < TARGETS.newBackupReadyS && ratio !== null && ratio >= TARGETS.duringRatio,
      readyS: round(readyS, 2),
      duringRatio: round(ratio, 2),
      howLabel: describeCatchUp(seen.catchUp),
      catchUp: seen.catchUp,
      shippedMB: mb(seen.shippedBytes),
      beforeMsgsPerS: round(before),
      duringMsgsPerS: round(during),
      lost: busyResult.counts.lost,
      ok: busyResult.ok,
      ...loadProblem(busyResult),
    });
  } finally {
    await cluster.stop();
  }
}

export async function run(options: ScenarioOptions): Promise<ScenarioResult> {
  const machine = describeMachine();
  const plan = PLANS[options.size];
  const notes: string[] = [
    `load average (1 min) at start: ${machine.loadAverage1m}`,
    `2 brokers (--ha-min-backups 0), link heartbeat ${HEARTBEAT_S} s, --ha-confirm-timeout ${plan.confirmTimeoutS} s, maintenance interval 0.1 s, --default-queue-limit 0 (unbounded queues: the paced load's deferred consumers leave ~290 MB queued); the primary's store holds ${plan.messages.toLocaleString('en-US')} queued messages and keeps its whole log`,
    'missed MB: messages the producers had accepted from the kill to the backup\'s ready, at their encoded size; shipped MB: what the primary reports it shipped to the backup since its join (log records: enqueues and dequeues; or the snapshot)',
    'a row is met only when its catch-up took the intended path too (incremental where the issue asks for it)',
  ];
  options.log(`${plan.messages.toLocaleString('en-US')} queued messages: building the primary's store`);
  let store: DeepStore | undefined;
  const rows: ResultRow[] = [];
  let ok = true;
  try {
    store = await buildDeepStore({ messages: plan.messages, keepLog: true, log: options.log });
    await measure(store, plan, rows, options.log);
  } catch (err) {
    ok = false;
    notes.push(`failed: ${(err as Error).message.split('\n')[0] as string}`);
    options.log(`  failed: ${(err as Error).message}`);
  } finally {
    if (store) removeDeepStore(store);
  }
  for (const row of rows) {
    if (row['ok'] !== true) {
      ok = false;
      notes.push(`${String(row['case'])}: ${String(row['problem'])}`);
    }
    if (row['met'] === false) notes.push(`target not met: ${String(row['case'])} (${String(row['figure'])}; target ${String(row['target'])})`);
  }
  const timed = rows.filter((r) => typeof r['readyS'] === 'number');
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
      title: `Backup to ready behind ${plan.messages.toLocaleString('en-US')} queued messages (s)`,
      yLabel: 's',
      categories: timed.map((r) => String(r['case']).split(':')[0] as string),
      series: [{ name: 'to ready', values: timed.map((r) => r['readyS'] as number) }],
    },
  };
}
