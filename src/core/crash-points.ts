// Named crash points (issue 16; FoundationDB's BUGGIFY is the idea, here a public interface):
// `qpidd --enable-crash-points yes --crash-at POINT[:N][,POINT[:N]...]` kills the process with
// SIGKILL the Nth time (default 1) execution passes POINT. Crash-suite authors place a kill in the
// window they mean to test instead of hitting it by luck. Disarmed (the default) a point costs one
// Map lookup. Adding a point is one line in CRASH_POINTS and one crashPoint() call where it is.

export const CRASH_POINTS = {
  'store.before-commit': 'a batch of records has LSNs and is about to be written: nothing of it is on disk; none of it was settled',
  'store.after-commit-before-flush': 'the batch is committed (visible to readers, replication may ship it) but not yet flushed: nothing of it was settled',
  'store.after-flush-before-settle': 'the batch is durable on disk; no producer has been settled for it yet',
  'store.retention.mid-drop': 'retention has deleted log entries inside a write transaction that has not committed: none of the deletions happen',
  'ha.primary.after-ship-before-confirm': 'the primary has sent log records to a backup and has no confirmation for them: those messages are not settled',
  'ha.backup.after-apply-before-confirm': 'a backup has made shipped records durable but not confirmed them: the primary has not settled them',
  'ha.backup.mid-snapshot': 'a backup has wiped its store and applied part of a snapshot: its store is marked incomplete and must be resynced',
  'ha.backup.mid-truncate': 'a returning backup is taking its divergent log tail back (incremental catch-up) inside a write transaction that has not committed: none of it is taken back; nothing of the tail was settled',
  'ha.promote.after-epoch-write': 'a promoted backup has written its new epoch durably but serves no clients yet',
  'txn.mid-commit': 'a transaction is being committed: half of its enqueues and dequeues are written inside a store transaction that has not committed: none of them happen, and its discharge was not settled',
  'ha.promote.before-active': 'a new primary is recovering (backups may be connected) and about to become active: nothing was settled under its epoch',
} as const;

export type CrashPointName = keyof typeof CRASH_POINTS;

export function isCrashPointName(name: string): name is CrashPointName {
  return Object.hasOwn(CRASH_POINTS, name);
}

/** Parsed --crash-at: each point and the pass that kills. */
export type CrashPlan = ReadonlyMap<CrashPointName, number>;

/** Parses `POINT[:N][,POINT[:N]...]`; a reason when it is not that. */
export function parseCrashPlan(text: string): { ok: true; value: CrashPlan } | { ok: false; reason: string } {
  const plan = new Map<CrashPointName, number>();
  for (const part of text.split(',').map((p) => p.trim())) {
    if (part === '') return { ok: false, reason: 'expected POINT[:N][,POINT[:N]...] (qpidd --list-crash-points lists them)' };
    const [name, count, extra] = part.split(':');
    if (extra !== undefined || !isCrashPointName(name!)) return { ok: false, reason: `unknown crash point ${JSON.stringify(part)} (qpidd --list-crash-points lists them)` };
    const n = count === undefined ? 1 : Number(count);
    if (!Number.isSafeInteger(n) || n < 1 || !/^\d+$/.test(count ?? '1')) return { ok: false, reason: `${JSON.stringify(part)}: N must be an integer >= 1` };
    if (plan.has(name)) return { ok: false, reason: `crash point ${name} is named twice` };
    plan.set(name, n);
  }
  return { ok: true, value: plan };
}

const armed = new Map<CrashPointName, { readonly passes: number; passesLeft: number }>();
let beforeKill: ((point: CrashPointName, pass: number) => void) | null = null;

/** Arms the plan for this process (qpidd does, with --enable-crash-points yes). `onFire` runs
 * just before the kill (qpidd writes one line to stderr, so a test can tell the kill was placed). */
export function armCrashPoints(plan: CrashPlan, onFire?: (point: CrashPointName, pass: number) => void): void {
  armed.clear();
  for (const [name, n] of plan) armed.set(name, { passes: n, passesLeft: n });
  beforeKill = onFire ?? null;
}

/** Execution passes `point`: the armed pass kills the process with SIGKILL, at once. */
export function crashPoint(point: CrashPointName): void {
  if (armed.size === 0) return;
  const state = armed.get(point);
  if (!state) return;
  state.passesLeft--;
  if (state.passesLeft > 0) return;
  beforeKill?.(point, state.passes);
  process.kill(process.pid, 'SIGKILL');
}

/** `qpidd --list-crash-points`: one line per point. */
export function formatCrashPoints(): string {
  const width = Math.max(...Object.keys(CRASH_POINTS).map((n) => n.length));
  return Object.entries(CRASH_POINTS)
    .map(([name, what]) => `${name.padEnd(width)}  ${what}`)
    .join('\n');
}
