// The faults a crash run injects, each followed by what the cluster manager (the harness) does
// about it and a wait until the brokers are whole again, so that faults come in sequence with
// time to catch up between them (DESIGN.md §5: "up to N-1 failures in sequence"). Every step is
// a history line, so a failing run shows exactly which fault preceded the loss.
import type { Random } from '../../../src/core/random.js';
import type { ClusterBrokers, StandaloneBrokers } from './brokers.js';
import type { HistoryWriter } from './history.js';

export type StandaloneFault = 'standalone-kill';
export type ClusterFault = 'primary-kill' | 'backup-kill' | 'primary-hang' | 'total-failure' | 'catchup-kill' | 'primary-kill-during-catchup';
export type FaultKind = StandaloneFault | ClusterFault;

export const CLUSTER_FAULTS: readonly ClusterFault[] = ['primary-kill', 'backup-kill', 'primary-hang', 'total-failure', 'catchup-kill', 'primary-kill-during-catchup'];

export interface FaultRecord {
  readonly kind: FaultKind;
  readonly target: string;
  /** From the fault to brokers whole again. */
  readonly recoveryMs: number;
  readonly detail: Record<string, unknown>;
}

export interface FaultContext {
  readonly random: Random;
  readonly history: HistoryWriter;
  /** The heartbeat both brokers and clients use: a hung broker is noticed after twice it. */
  readonly heartbeatS: number;
}

const CATCHUP_KILL_ATTEMPTS_MAX = 3;
/** A stale primary that wakes up must find the higher epoch and stop within this. */
const STALE_FENCE_MS_MAX = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function step(ctx: FaultContext, fault: FaultKind, target: string, action: string, detail: Record<string, unknown> = {}): void {
  ctx.history.write({ kind: 'fault', fault, target, detail: { action, ...detail } });
}

/** kill -9 of the standalone broker and a restart on the same data directory and port.
 * `wipeStore` deletes the store while the broker is down: data loss on purpose, for the suite's
 * test of itself (a run that loses messages must fail). */
export async function standaloneKill(brokers: StandaloneBrokers, ctx: FaultContext, options: { wipeStore?: boolean } = {}): Promise<FaultRecord> {
  const startedMs = performance.now();
  const downMs = ctx.random.int(0, 500);
  step(ctx, 'standalone-kill', 'standalone', 'SIGKILL');
  await brokers.kill('SIGKILL');
  if (options.wipeStore) {
    step(ctx, 'standalone-kill', 'standalone', 'wipe the store (sabotage)');
    brokers.wipeStore();
  }
  await sleep(downMs);
  step(ctx, 'standalone-kill', 'standalone', 'restart');
  await brokers.restart();
  step(ctx, 'standalone-kill', 'standalone', 'listening');
  return { kind: 'standalone-kill', target: 'standalone', recoveryMs: Math.round(performance.now() - startedMs), detail: { downMs, ...(options.wipeStore ? { wipeStore: true } : {}) } };
}

/** A ready backup to promote, chosen at random among those that say they are ready. */
async function readyBackup(brokers: ClusterBrokers, ctx: FaultContext, exclude: number): Promise<number> {
  const candidates: number[] = [];
  for (let i = 0; i < brokers.size; i++) {
    if (i === exclude || !brokers.running(i) || brokers.stopped.has(i)) continue;
    const status = await brokers.status(i).catch(() => null);
    if (status?.state === 'ready') candidates.push(i);
  }
  if (candidates.length === 0) throw new Error(`no ready backup to promote (the harness waits for every backup to be ready before a fault)`);
  return ctx.random.pick(candidates);
}

/** The primary dies; the manager promotes a ready backup and restarts the dead broker, which
 * rejoins as a backup. */
async function primaryKill(brokers: ClusterBrokers, ctx: FaultContext): Promise<FaultRecord> {
  const startedMs = performance.now();
  const old = brokers.primary;
  const target = brokers.name(old);
  step(ctx, 'primary-kill', target, 'SIGKILL');
  await brokers.kill(old);
  const next = await readyBackup(brokers, ctx, old);
  step(ctx, 'primary-kill', brokers.name(next), 'promote');
  await brokers.promote(next);
  await brokers.waitForState(next, 'active');
  step(ctx, 'primary-kill', brokers.name(next), 'active');
  const restartNow = ctx.random.bool(0.5);
  if (!restartNow) await sleep(ctx.random.int(100, 1000));
  step(ctx, 'primary-kill', target, 'restart');
  await brokers.restart(old);
  await brokers.waitWhole();
  step(ctx, 'primary-kill', target, 'whole');
  return { kind: 'primary-kill', target, recoveryMs: Math.round(performance.now() - startedMs), detail: { promoted: brokers.name(next) } };
}

/** A ready backup dies and is restarted: it wipes its store and catches up again. */
async function backupKill(brokers: ClusterBrokers, ctx: FaultContext): Promise<FaultRecord> {
  const startedMs = performance.now();
  const victim = ctx.random.pick(brokers.backups());
  const target = brokers.name(victim);
  const downMs = ctx.random.int(0, 1000);
  step(ctx, 'backup-kill', target, 'SIGKILL');
  await brokers.kill(victim);
  await sleep(downMs);
  step(ctx, 'backup-kill', target, 'restart');
  await brokers.restart(victim);
  await brokers.waitWhole();
  step(ctx, 'backup-kill', target, 'whole');
  return { kind: 'backup-kill', target, recoveryMs: Math.round(performance.now() - startedMs), detail: { downMs } };
}

/**
 * The primary hangs (SIGSTOP) for longer than twice the heartbeat, so that backups and clients
 * notice. Then either the hang ends (SIGCONT: the backups resync from the same primary), or the
 * manager fences the hung broker as a resource manager would (SIGKILL), promotes a ready backup
 * and restarts the fenced broker as a backup. With `unfenced` allowed, a third ending: the
 * manager promotes a backup without killing the hung primary, which then wakes up as a stale
 * primary and must fence itself (exit) on finding a higher epoch. That is beyond the reference's
 * contract (fencing is the resource manager's job, §1.12.12.5), so only soak runs ask for it.
 */
async function primaryHang(brokers: ClusterBrokers, ctx: FaultContext, unfenced: boolean): Promise<FaultRecord> {
  const startedMs = performance.now();
  const hung = brokers.primary;
  const target = brokers.name(hung);
  const hangMs = ctx.random.int(2 * ctx.heartbeatS * 1000 + 500, 2 * ctx.heartbeatS * 1000 + 2500);
  const outcome = ctx.random.pick(unfenced ? ['resume', 'fence', 'unfenced'] : ['resume', 'resume', 'fence']);
  step(ctx, 'primary-hang', target, 'SIGSTOP', { hangMs, outcome });
  brokers.signal(hung, 'SIGSTOP');
  await sleep(hangMs);
  let promoted: string | undefined;
  if (outcome === 'resume') {
    step(ctx, 'primary-hang', target, 'SIGCONT');
    brokers.signal(hung, 'SIGCONT');
  } else if (outcome === 'unfenced') {
    const next = await readyBackup(brokers, ctx, hung);
    promoted = brokers.name(next);
    step(ctx, 'primary-hang', promoted, 'promote (hung primary not fenced)');
    await brokers.promote(next);
    await brokers.waitForState(next, 'active');
    step(ctx, 'primary-hang', target, 'SIGCONT');
    const stale = brokers.cluster.broker(hung);
    brokers.signal(hung, 'SIGCONT');
    const exit = await Promise.race([stale.exited, sleep(STALE_FENCE_MS_MAX).then(() => null)]);
    if (!exit) throw new Error(`${target} resumed as a stale primary and was still running ${STALE_FENCE_MS_MAX} ms later (no self-fencing)`);
    step(ctx, 'primary-hang', target, 'fenced itself', { code: exit.code, signal: exit.signal });
    brokers.forget(hung);
    step(ctx, 'primary-hang', target, 'restart');
    await brokers.restart(hung);
  } else {
    step(ctx, 'primary-hang', target, 'SIGKILL (fence)');
    await brokers.kill(hung);
    const next = await readyBackup(brokers, ctx, hung);
    promoted = brokers.name(next);
    step(ctx, 'primary-hang', promoted, 'promote');
    await brokers.promote(next);
    await brokers.waitForState(next, 'active');
    step(ctx, 'primary-hang', target, 'restart');
    await brokers.restart(hung);
  }
  await brokers.waitWhole();
  step(ctx, 'primary-hang', target, 'whole');
  return { kind: 'primary-hang', target, recoveryMs: Math.round(performance.now() - startedMs), detail: { hangMs, outcome, ...(promoted ? { promoted } : {}) } };
}

/**
 * Every broker dies at once. All restart `joining` with their stores; the manager asks each for
 * its epoch and last LSN (`qpid-ha status --json`), promotes the most recent, and the others
 * wipe their stores and resync from it.
 */
async function totalFailure(brokers: ClusterBrokers, ctx: FaultContext): Promise<FaultRecord> {
  const startedMs = performance.now();
  const all = Array.from({ length: brokers.size }, (_, i) => i);
  step(ctx, 'total-failure', 'all', 'SIGKILL');
  await Promise.all(all.map((i) => brokers.kill(i)));
  await sleep(ctx.random.int(0, 500));
  step(ctx, 'total-failure', 'all', 'restart');
  await Promise.all(all.map((i) => brokers.restart(i)));
  const stores = await Promise.all(all.map(async (i) => ({ i, status: await brokers.waitForState(i, 'joining') })));
  const newest = (a: (typeof stores)[number], b: (typeof stores)[number]): number => b.status.epoch - a.status.epoch || b.status.lastLsn - a.status.lastLsn;
  const ranked = [...stores].sort(newest);
  const best = ranked.filter((s) => newest(s, ranked[0] as (typeof stores)[number]) === 0);
  const chosen = ctx.random.pick(best).i;
  const positions = Object.fromEntries(stores.map((s) => [brokers.name(s.i), { epoch: s.status.epoch, lastLsn: s.status.lastLsn }]));
  step(ctx, 'total-failure', brokers.name(chosen), 'promote', { stores: positions });
  await brokers.promote(chosen);
  await brokers.waitWhole();
  step(ctx, 'total-failure', 'all', 'whole');
  return { kind: 'total-failure', target: 'all', recoveryMs: Math.round(performance.now() - startedMs), detail: { promoted: brokers.name(chosen), stores: positions } };
}

/** A backup is killed while it catches up (its store holds a partial snapshot or log), then
 * restarted to catch up again from scratch. A catch-up that was over before the kill landed is
 * tried again, killing at once, a few times. */
async function catchupKill(brokers: ClusterBrokers, ctx: FaultContext): Promise<FaultRecord> {
  const startedMs = performance.now();
  const victim = ctx.random.pick(brokers.backups());
  const target = brokers.name(victim);
  step(ctx, 'catchup-kill', target, 'SIGKILL');
  await brokers.kill(victim);
  // Catch-up of a few thousand messages lasts about a hundred milliseconds here: land inside it.
  const delayMs = ctx.random.int(0, 80);
  let stateAtKill = 'ready';
  let attempts = 0;
  while (stateAtKill === 'ready' && attempts < CATCHUP_KILL_ATTEMPTS_MAX) {
    attempts++;
    step(ctx, 'catchup-kill', target, 'restart');
    await brokers.restart(victim);
    await brokers.waitForStateLog(victim, 'catchup');
    await sleep(attempts === 1 ? delayMs : 0);
    // The state when the kill lands, from the broker's own log.
    const logs = brokers.cluster.broker(victim).logs;
    stateAtKill = logs.some((line) => line.msg === 'HA state changed' && line['to'] === 'ready') ? 'ready' : 'catchup';
    step(ctx, 'catchup-kill', target, 'SIGKILL during catch-up', { delayMs: attempts === 1 ? delayMs : 0, stateAtKill });
    await brokers.kill(victim);
  }
  step(ctx, 'catchup-kill', target, 'restart');
  await brokers.restart(victim);
  await brokers.waitWhole();
  step(ctx, 'catchup-kill', target, 'whole');
  return { kind: 'catchup-kill', target, recoveryMs: Math.round(performance.now() - startedMs), detail: { delayMs, attempts, stateAtKill } };
}

/** Two failures without time to catch up between them: a backup restarts, and while it is
 * catching up the primary dies. The other backup is still ready and is promoted; the catching-up
 * one (never in the gate) must start again from the new primary. Needs three brokers. */
async function primaryKillDuringCatchup(brokers: ClusterBrokers, ctx: FaultContext): Promise<FaultRecord> {
  const startedMs = performance.now();
  const old = brokers.primary;
  const backups = brokers.backups();
  if (backups.length < 2) throw new Error('primary-kill-during-catchup needs two backups');
  const rejoining = ctx.random.pick(backups);
  const survivor = backups.find((i) => i !== rejoining) as number;
  step(ctx, 'primary-kill-during-catchup', brokers.name(rejoining), 'SIGKILL');
  await brokers.kill(rejoining);
  step(ctx, 'primary-kill-during-catchup', brokers.name(rejoining), 'restart');
  await brokers.restart(rejoining);
  await brokers.waitForStateLog(rejoining, 'catchup');
  const logs = brokers.cluster.broker(rejoining).logs;
  const stateAtKill = logs.some((line) => line.msg === 'HA state changed' && line['to'] === 'ready') ? 'ready' : 'catchup';
  step(ctx, 'primary-kill-during-catchup', brokers.name(old), 'SIGKILL', { rejoining: brokers.name(rejoining), rejoiningState: stateAtKill });
  await brokers.kill(old);
  step(ctx, 'primary-kill-during-catchup', brokers.name(survivor), 'promote');
  await brokers.promote(survivor);
  await brokers.waitForState(survivor, 'active');
  step(ctx, 'primary-kill-during-catchup', brokers.name(old), 'restart');
  await brokers.restart(old);
  await brokers.waitWhole();
  step(ctx, 'primary-kill-during-catchup', 'all', 'whole');
  return {
    kind: 'primary-kill-during-catchup',
    target: brokers.name(old),
    recoveryMs: Math.round(performance.now() - startedMs),
    detail: { promoted: brokers.name(survivor), rejoining: brokers.name(rejoining), stateAtKill },
  };
}

export async function clusterFault(kind: ClusterFault, brokers: ClusterBrokers, ctx: FaultContext, options: { unfencedHangs?: boolean } = {}): Promise<FaultRecord> {
  switch (kind) {
    case 'primary-kill':
      return primaryKill(brokers, ctx);
    case 'backup-kill':
      return backupKill(brokers, ctx);
    case 'primary-hang':
      return primaryHang(brokers, ctx, options.unfencedHangs === true);
    case 'total-failure':
      return totalFailure(brokers, ctx);
    case 'catchup-kill':
      return catchupKill(brokers, ctx);
    case 'primary-kill-during-catchup':
      return primaryKillDuringCatchup(brokers, ctx);
  }
}

