// The decisions of qpid-ha-manager (issue 17, DESIGN.md §8) as a pure step function:
// (state, event) -> (state, actions). No etcd, no sockets, no timers, no Date.now(): the driver
// (driver.ts) feeds it what it observed (its broker's status, the cluster's keys in etcd, the
// results of its own requests) with the monotonic time, and carries out the actions it returns.
// The same function can be driven by a script or a simulator.
//
// THE TIMING ARGUMENT (why no two brokers settle producers in the same interval):
//   1. The leader key /<cluster>/leader lives under this manager's etcd lease of `ttl`. etcd
//      resets a lease's TTL when it processes a keep-alive, which is after the manager sent it:
//      if the keep-alive sent at local time K succeeded, the key cannot expire before K + ttl.
//      The driver reports K as `etcdValidUntilMs` = K + ttl (event 'etcd-lease').
//   2. The leader's manager grants its broker a serving lease (src/ha/serving-lease.ts) once, with
//      the promotion, at local time R0 for S0 = T0 - R0, where T_i = K_i + ttl - margin. The
//      broker applies it on arrival, R0 + d0, so its deadline is T0 + d0. After each keep-alive K_i
//      the manager extends that lease by the offset T_i - T0, computed on its own clock: the
//      broker's deadline becomes (T0 + d0) + (T_i - T0) = T_i + d0 = K_i + ttl - margin + d0.
//      Each extension also carries T_i - (its send time), and the broker keeps the earliest
//      grant deadline any message implies (arrival + that - offset = T0 + d_j), so its deadline
//      is T_i + min(d0, ..., d_i): before K_i + ttl, the key's earliest expiry, as long as one
//      message of the lease (network plus the broker's event loop) took less than `margin`
//      (default ttl/3: 1 s of 3 s). A late extension never moves the deadline later, and one that
//      arrives after the deadline (the broker was stopped) is refused and cannot revive the
//      lease. Clock rates: the two monotonic clocks drift by parts per million, nothing over
//      seconds. (Simulator, etcd seed 5007: with d0 alone, a late grant outlived the key.)
//   3. Another manager takes the key only once it is absent (one transaction, create-if-absent):
//      after it expired, or after this manager released it, which it does only when its broker's
//      process is gone (connection refused) or when the serving lease it granted has surely
//      passed (T_i + margin, for its last extension). So the old primary has stopped settling
//      before a new one is promoted; epoch fencing then stops it for good (node.ts, its probe).
//      A backup's manager may revoke another's lease, but only once etcd's own readings prove it
//      expired (lease-expiry.ts): the key then goes no sooner than it would have.
//   4. A manager cut off from etcd sends no renewal past K + ttl - margin: its primary stops on
//      its own, with or without the manager alive.
//   5. Points 1-4 bound one leader's primary; epochs say which primary is the leader's. A primary
//      settles nothing until etcd holds the record of its epoch: it is promoted under a lease of
//      1 ms (primary, settling nothing), its manager writes /<cluster>/record with the new epoch,
//      and only once the watch shows that record does it grant a real lease. A manager takes the
//      key only in a transaction that also checks the record is the one it read (its revision),
//      and never for a store the record (or a member's report) shows superseded. Without this a
//      primary that was stopped or cut off while another was promoted, and that nothing fenced
//      yet, could be adopted by its manager once the newer leader's key expired, and settle
//      beside the newer epoch (the simulator found it: test/sim, --etcd-manager). The same
//      transaction reserves the new epoch in the record (Record_.reserved: above every epoch
//      known) and the promotion takes at least it, so that a manager dying between the promotion
//      and the record's write leaves a trace: no primary of an older epoch is adopted after it.
//
// Elections. With the key absent, the manager of the most up-to-date ready backup (highest store
// epoch, then highest LSN; then the lowest name) takes it and promotes its broker. "Most up to
// date" is judged on member reports written after the key went away (etcd revisions order them),
// waiting at most `electionWaitMs` for a silent member. After a total failure (no primary, no
// ready backup, every broker joining) the managers wait until every broker of --ha-brokers-url
// has reported, or `totalFailureWaitMs`, then promote the joining broker with the most recent
// store, never one that ends below the record the last leader wrote to etcd, nor one another
// member has heard past.

import type { Heard } from '../ha/heard.js';
import { hint, hintTowards, type Step } from './hints.js';
import { belowRecord, best, epochToReserve, gateStores, holdsAsMuch, recordOf, reservedPast, sameGate, supersededBy, supersededReady, totalFailureObjection } from './record-rules.js';

export { better, promotionRecord, totalFailureObjection } from './record-rules.js';

export type BrokerState = 'joining' | 'catchup' | 'ready' | 'recovering' | 'active' | 'standalone' | 'unreachable' | 'dead';

/** What a manager knows of its broker (from qpid-ha status), as it publishes it. */
export interface BrokerReport {
  readonly state: BrokerState;
  /** The latest epoch in the store's history (what the store holds, not what it heard of). */
  readonly storeEpoch: number;
  readonly lastLsn: number;
  readonly heard: Heard | null;
  /** Brokers in the broker's --ha-brokers-url (0 when unknown). */
  readonly clusterSize: number;
  readonly address: string | null;
  /** A primary: the lowest LSN its gated backups confirmed (lastLsn without backups). */
  readonly confirmedLsn: number;
  /** A backup: whether it is connected to a primary. */
  readonly connectedToPrimary: boolean;
  /** The store holds a partial snapshot (an interrupted catch-up): the broker refuses to be
   * promoted without --force, so an election must pass over it. */
  readonly snapshotIncomplete?: boolean;
  /** A primary: what each backup of its ack gate has confirmed (a switchover waits on it). */
  readonly backupsConfirmed?: Readonly<Record<string, number>>;
  /** The broker's own name (what a primary's gate calls it). */
  readonly name?: string;
  /** A primary: the departures of ready backups it counted (its gate's generation), and how many
   * of them etcd does not record yet (each holds its settlement back). */
  readonly gateGeneration?: number;
  readonly gateUnrecorded?: number;
}

/** One manager's entry under /<cluster>/members/<name>, with its etcd modification revision. */
export interface MemberEntry {
  readonly name: string;
  readonly broker: BrokerReport;
  readonly revision: number;
}

/** The last leader's word on how far the cluster got (/<cluster>/record). With `gate`: the
 * ready backups of the epoch's primary (`primary`) as of its gate's `generation`. The primary
 * settles nothing past a departed ready backup until a record without it is in etcd, so every
 * message settled in the epoch is on the primary and on each backup of the last record's gate:
 * only those are elected (Kafka's ISR, written to its controller before the high watermark
 * passes a replica that left). */
export interface Record_ {
  readonly epoch: number;
  readonly lsn: number;
  readonly gate?: readonly string[];
  readonly generation?: number;
  readonly primary?: string;
  /** The lowest epoch the last promotion started may take (written with the leader key, before
   * the promotion): a primary of an older epoch is not adopted once a newer one may exist, even
   * if that promotion's manager died before it could record the new epoch (simulator, etcd seed
   * 1498: the older primary was adopted, settled, and the newer one could have been adopted
   * after it without what it settled). */
  readonly reserved?: number;
}

export interface Decision {
  readonly atMs: number;
  readonly decision: string;
  readonly reason: string;
}

export interface ManagerConfig {
  readonly name: string;
  /** Unique to this manager process: the lease ids it grants never collide with a previous
   * incarnation's. */
  readonly incarnation: string;
  readonly ttlMs: number;
  readonly checkIntervalMs: number;
  /** The margin of point 2 above. */
  readonly leaseMarginMs: number;
  readonly electionWaitMs: number;
  readonly totalFailureWaitMs: number;
}

export interface ManagerState {
  readonly config: ManagerConfig;
  /** The mod revision of /<cluster>/record as last seen (0: absent): the acquire transaction
   * checks it has not changed (point 5). */
  readonly recordRevision: number;
  /** The record this manager last asked etcd to write (state.record is what etcd shows). */
  readonly recordSent: Record_ | null;
  readonly broker: BrokerReport | null;
  /** Who holds the leader key; undefined until etcd was first read. */
  readonly leader: string | null | undefined;
  /** The key is under this manager's own etcd lease (from the last leader event). */
  readonly leaderIsMine: boolean;
  /** The etcd revision at which the key was last seen going away (freshness of reports). */
  readonly leaderGoneRevision: number;
  /** When (local monotonic ms) this manager first saw no leader; null while there is one. */
  readonly noLeaderSinceMs: number | null;
  /** This manager holds the key (it won the transaction and has not released it). */
  readonly holding: boolean;
  /** Point 1: the key cannot expire before this local time; null when unknown or lost. */
  readonly etcdValidUntilMs: number | null;
  /** Point 3: the serving lease last granted surely ended by then; null when none granted. */
  readonly grantedUntilMs: number | null;
  readonly paused: boolean;
  readonly record: Record_ | null;
  readonly members: ReadonlyMap<string, MemberEntry>;
  readonly inFlight: 'acquire' | 'promote' | null;
  /** The epoch the last acquire for a promotion reserved (Record_.reserved): the promotion
   * asks for at least it. */
  readonly reservedEpoch: number | null;
  /** After a refused promotion, this manager stands aside until then. */
  readonly standAsideUntilMs: number;
  /** When the last promotion by this manager succeeded: a broker report asked for before then
   * may still show the broker as a backup, and must not make the leader give the key back. */
  readonly promotedAtMs: number;
  /** A planned move asked for by an operator (/<cluster>/switchover): the broker to lead. */
  readonly switchover: string | null;
  /** The leader is handing over: its broker's lease was cut short, it waits for the target. */
  readonly draining: boolean;
  /** The serving lease this manager granted its broker: its id, and the local time its grant's
   * deadline aimed at (T0 of point 2); null before a grant, or once the broker refused it. */
  readonly brokerLease: { readonly id: string; readonly targetMs: number } | null;
  readonly leasesGranted: number;
  /** The new primary (name@epoch) this manager last pointed its backup broker at. */
  readonly hintedFor: string | null;
  readonly lastDecision: Decision | null;
}

export type ManagerEvent =
  | { readonly kind: 'tick'; readonly nowMs: number }
  /** The broker's status, asked for at requestedAtMs. */
  | { readonly kind: 'broker'; readonly nowMs: number; readonly requestedAtMs: number; readonly report: BrokerReport }
  /** The leader key changed; `mine`: it is under this manager's own etcd lease (a key with our
   * name under a previous incarnation's lease is not ours: it expires with that lease). */
  | { readonly kind: 'leader'; readonly nowMs: number; readonly leader: string | null; readonly revision: number; readonly mine: boolean }
  | { readonly kind: 'members'; readonly members: readonly MemberEntry[] }
  | { readonly kind: 'record'; readonly nowMs: number; readonly record: Record_ | null; readonly revision: number }
  | { readonly kind: 'paused'; readonly paused: boolean }
  | { readonly kind: 'switchover'; readonly to: string | null }
  /** A keep-alive of this manager's etcd lease succeeded (validUntilMs = sent + ttl) or the
   * lease is lost (null). */
  | { readonly kind: 'etcd-lease'; readonly nowMs: number; readonly validUntilMs: number | null }
  | { readonly kind: 'acquired'; readonly nowMs: number; readonly won: boolean }
  /** The promotion's answer; `epoch`: the new primary's (the record is written with it at once). */
  | { readonly kind: 'promoted'; readonly nowMs: number; readonly ok: boolean; readonly epoch?: number; readonly error?: string }
  /** The broker refused an extension (its lease expired, or was replaced): grant a new one. */
  | { readonly kind: 'lease-refused'; readonly nowMs: number; readonly id: string };

export type ManagerAction =
  /** Create the leader key if absent and the record's revision is still `recordRevision`. */
  /** `reserve`: the record to write in the same transaction (a promotion's reserved epoch). */
  | { readonly kind: 'acquire'; readonly recordRevision: number; readonly reserve: Record_ | null }
  | { readonly kind: 'release'; readonly reason: string }
  /** `record`: the last leader's record as this manager saw it; a joining broker may then pass
   * over a ready backup that ends below it (promote-checks.ts). */
  | { readonly kind: 'promote'; readonly leaseSeconds: number; readonly leaseId: string; readonly force: boolean; readonly record: Record_ | null; readonly minEpoch?: number }
  | { readonly kind: 'grant-lease'; readonly id: string; readonly seconds: number }
  /** `remainingMs`: the time to this extension's target as it is sent (serving-lease.ts). */
  | { readonly kind: 'extend-lease'; readonly id: string; readonly extendMs: number; readonly remainingMs: number }
  | { readonly kind: 'write-record'; readonly record: Record_ }
  /** Tell the primary that etcd records its gate as of `generation` (its departed backups up to
   * then no longer hold its settlement back). */
  | { readonly kind: 'gate-recorded'; readonly epoch: number; readonly generation: number }
  /** Report the broker now (the key went away: the election wants fresh reports). */
  | { readonly kind: 'report-now' }
  /** Tell the broker (a backup) where the new primary is, so that it joins at once. */
  | { readonly kind: 'hint-primary'; readonly address: string }
  | { readonly kind: 'decision'; readonly decision: Decision }
  | { readonly kind: 'failover'; readonly epochBefore: number; readonly reason: string };

export function initialState(config: ManagerConfig): ManagerState {
  return {
    config,
    recordRevision: 0,
    recordSent: null,
    broker: null,
    leader: undefined,
    leaderIsMine: false,
    leaderGoneRevision: 0,
    noLeaderSinceMs: null,
    holding: false,
    etcdValidUntilMs: null,
    grantedUntilMs: null,
    paused: false,
    record: null,
    members: new Map(),
    inFlight: null,
    reservedEpoch: null,
    standAsideUntilMs: 0,
    promotedAtMs: Number.NEGATIVE_INFINITY,
    switchover: null,
    draining: false,
    brokerLease: null,
    leasesGranted: 0,
    hintedFor: null,
    lastDecision: null,
  };
}

/** Default margin (point 2): a third of the ttl, and never under two check intervals. */
export function defaultLeaseMarginMs(ttlMs: number, checkIntervalMs: number): number {
  return Math.max(ttlMs / 3, 2 * checkIntervalMs);
}

const PRIMARY: readonly BrokerState[] = ['recovering', 'active'];

function isPrimary(state: BrokerState | undefined): boolean {
  return state !== undefined && PRIMARY.includes(state);
}


export function step(state: ManagerState, event: ManagerEvent): { state: ManagerState; actions: ManagerAction[] } {
  const out: Step = { state, actions: [] };
  switch (event.kind) {
    case 'broker':
      if (event.requestedAtMs < state.promotedAtMs) return out;
      out.state = { ...state, broker: event.report };
      // A broker that has just lost its primary is pointed at the new one at once: its report
      // saying so often comes after the leader key was taken.
      return decide(hint(out), event.nowMs, false);
    case 'leader': {
      const gone = event.leader === null && state.leader !== null;
      out.state = {
        ...state,
        leader: event.leader,
        leaderIsMine: event.mine,
        leaderGoneRevision: gone ? event.revision : state.leaderGoneRevision,
        noLeaderSinceMs: event.leader === null ? (state.noLeaderSinceMs ?? event.nowMs) : null,
        // Someone else's name on the key: whatever we thought, we do not hold it. Ours again
        // while our promotion is in flight: the watch delivered the deletion of our previous key
        // after the acquire that re-created it, and that stale event had cleared `holding`, so
        // the promoted broker never got its serving lease (simulator, etcd seed 5390).
        holding: event.leader === state.config.name ? state.holding || (event.mine && state.inFlight === 'promote') : false,
      };
      if (gone) out.actions.push({ kind: 'report-now' });
      // Our name on the key while we think we do not hold it: a transaction whose answer was
      // lost (timed out) did take it. It is ours: act on it, or nobody will while we keep it alive.
      if (event.mine && event.leader === state.config.name && !state.holding && state.inFlight === null) return step(out.state, { kind: 'acquired', nowMs: event.nowMs, won: true });
      return decide(hint(out), event.nowMs);
    }
    case 'members':
      out.state = { ...state, members: new Map(event.members.map((m) => [m.name, m])) };
      return hint(out);
    case 'record':
      out.state = { ...state, record: event.record, recordRevision: event.revision };
      if (!state.holding) return out;
      gateRecorded(out);
      // The record of our primary's epoch is in etcd: it may serve now (point 5).
      return decide(out, event.nowMs, true);
    case 'switchover':
      out.state = { ...state, switchover: event.to, draining: event.to === null ? false : state.draining };
      return out;
    case 'paused':
      out.state = { ...state, paused: event.paused };
      note(out, event.paused ? 'paused' : 'resumed', event.paused ? 'an operator paused automatic actions' : 'an operator resumed automatic actions', 0);
      return out;
    case 'etcd-lease':
      out.state = { ...state, etcdValidUntilMs: event.validUntilMs };
      if (event.validUntilMs === null && state.holding) {
        out.state = { ...out.state, holding: false };
        note(out, 'lost leadership', 'the etcd lease was lost: the key is gone or about to be; the serving lease is no longer renewed', event.nowMs);
      }
      return decide(out, event.nowMs, true);
    case 'acquired':
      out.state = { ...state, inFlight: null };
      // A lost answer, but the watch already showed our name on the key: we won.
      if (!event.won && !(state.leaderIsMine && state.leader === state.config.name)) return out;
      out.state = { ...out.state, holding: true, leader: state.config.name, noLeaderSinceMs: null, draining: false };
      if (isPrimary(state.broker?.state)) {
        note(out, 'leading', 'took the leader key for the broker, which is already primary', event.nowMs);
        return decide(out, event.nowMs);
      }
      return promote(out, event.nowMs);
    case 'promoted':
      out.state = { ...state, inFlight: null };
      if (event.ok) {
        // Any report held now was asked for before the promotion answered: forget it.
        out.state = { ...out.state, promotedAtMs: event.nowMs, broker: null };
        // Point 5 at once, without waiting for a fresh report: the record of the new epoch (the
        // LSN bound is the last one's: nothing was settled under the new epoch yet).
        if (event.epoch !== undefined && (state.record?.epoch ?? 0) < event.epoch) {
          const record = { epoch: event.epoch, lsn: state.record?.lsn ?? 0 };
          out.state = { ...out.state, recordSent: record };
          out.actions.push({ kind: 'write-record', record });
        }
        return out;
      }
      // Refused (the broker's own checks) or unreachable: give the key back and stand aside.
      out.state = { ...out.state, holding: false, leader: null, standAsideUntilMs: event.nowMs + state.config.ttlMs };
      out.actions.push({ kind: 'release', reason: `promotion failed: ${event.error ?? 'unknown'}` });
      note(out, 'promotion failed', event.error ?? 'unknown', event.nowMs);
      return out;
    case 'lease-refused':
      if (state.brokerLease?.id === event.id) out.state = { ...state, brokerLease: null };
      return out;
    case 'tick':
      return decide(out, event.nowMs);
  }
}

/** A new lease id and the state that records it as granted (targeting `targetMs`). */
function newLease(state: ManagerState, targetMs: number): { state: ManagerState; id: string } {
  const id = `${state.config.name}.${state.config.incarnation}.${state.leasesGranted + 1}`;
  return { id, state: { ...state, leasesGranted: state.leasesGranted + 1, brokerLease: { id, targetMs } } };
}

function note(out: Step, decision: string, reason: string, nowMs: number): void {
  const last = out.state.lastDecision;
  if (last && last.decision === decision && last.reason === reason) return;
  const d = { atMs: nowMs, decision, reason };
  out.state = { ...out.state, lastDecision: d };
  out.actions.push({ kind: 'decision', decision: d });
}

/** Seconds of serving the broker may be granted now (point 2), or 0. */
function grantableMs(state: ManagerState, nowMs: number): number {
  if (state.etcdValidUntilMs === null) return 0;
  return state.etcdValidUntilMs - state.config.leaseMarginMs - nowMs;
}

/** The lease a promotion carries (point 5): the new primary settles nothing on it. */
export const PROMOTION_LEASE_MS = 1;

function promote(out: Step, nowMs: number): Step {
  const ms = grantableMs(out.state, nowMs);
  if (ms <= 0) {
    out.state = { ...out.state, holding: false, leader: null };
    out.actions.push({ kind: 'release', reason: 'the etcd lease is too close to expiry to serve under it' });
    return out;
  }
  const joining = out.state.broker?.state === 'joining';
  // Point 5: primary at once, settling nothing until etcd holds the record of its new epoch;
  // the next renewal after that grants the real lease (brokerLease null).
  const lease = newLease(out.state, nowMs + PROMOTION_LEASE_MS);
  out.state = { ...lease.state, brokerLease: null, inFlight: 'promote', grantedUntilMs: nowMs + PROMOTION_LEASE_MS + out.state.config.leaseMarginMs };
  const minEpoch = out.state.reservedEpoch;
  out.actions.push({ kind: 'promote', leaseSeconds: PROMOTION_LEASE_MS / 1000, leaseId: lease.id, force: false, record: out.state.record, ...(minEpoch !== null ? { minEpoch } : {}) });
  const why = out.state.switchover === out.state.config.name ? 'switchover (planned)' : joining ? 'total failure: the most recent store' : 'the most up-to-date ready backup';
  out.actions.push({ kind: 'failover', epochBefore: out.state.broker?.storeEpoch ?? 0, reason: why });
  note(out, 'promoting', joining ? 'no primary and every broker joining: this store is the most recent' : 'no leader: this broker is the most up-to-date ready backup', nowMs);
  return out;
}

/** `renewal`: the event is a successful keep-alive, the moment to renew the serving lease. */
function decide(out: Step, nowMs: number, renewal = false): Step {
  const state = out.state;
  if (state.inFlight !== null || state.leader === undefined || state.broker === null) return out;
  if (state.holding) return lead(out, nowMs, renewal);
  if (state.leader !== null) {
    if (isPrimary(state.broker.state) && state.leader !== state.config.name) note(out, 'conflict', `${state.leader} holds the leader key while this broker is primary; epoch fencing decides`, nowMs);
    return out;
  }
  if (state.paused) {
    note(out, 'paused', 'no leader, and automatic actions are paused', nowMs);
    return out;
  }
  if (nowMs < state.standAsideUntilMs || state.etcdValidUntilMs === null) return out;
  // Our broker is primary without a key (this manager restarted, or an operator forced a
  // promotion): adopt it.
  const handingOver = state.switchover !== null && state.switchover !== state.config.name;
  if (isPrimary(state.broker.state)) {
    // A primary another broker's promotion superseded (it was stopped or cut off, and lived on
    // because nothing fenced it yet) must not get a serving lease: it would settle beside the
    // newer epoch's primary. Epoch fencing stops it; its store rejoins as a backup.
    const newer = supersededBy(state, state.broker.storeEpoch) ?? reservedPast(state, state.broker.storeEpoch);
    if (newer !== null) {
      note(out, 'not adopting', `the broker is primary with epoch ${state.broker.storeEpoch}, superseded: ${newer}`, nowMs);
      return out;
    }
    if (!handingOver) return acquire(out, 'adopting the broker, which is primary without a leader key', nowMs, false);
    note(out, 'switchover', `handed over to ${state.switchover}; this broker stops when the new epoch fences it`, nowMs);
    return out;
  }
  const members = currentMembers(state);
  // During a switchover the old primary lives on (its lease cut short) until the new epoch
  // fences it: it does not hold the target back.
  // One that a newer epoch supersedes (or may: a promotion reserved one) waits to be fenced.
  if (state.switchover !== state.config.name && members.some((m) => m.name !== state.config.name && isPrimary(m.broker.state) && supersededBy(state, m.broker.storeEpoch) === null && reservedPast(state, m.broker.storeEpoch) === null)) {
    note(out, 'waiting', 'another broker is primary without the key; its manager should take it', nowMs);
    return out;
  }
  // A ready backup of a superseded primary holds none of what the newer epoch settled.
  const ready = members.filter((m) => m.broker.state === 'ready' && supersededBy(state, m.broker.storeEpoch) === null);
  if (ready.length > 0) {
    // One below the record lacks some of what was settled in its own epoch. Its report may
    // only be older than its store (it applies what was on its way when it lost the primary):
    // it becomes eligible when a report shows it has caught up to the record.
    const complete = ready.filter((m) => belowRecord(state, m) === null);
    // Outside the recorded gate, a store that holds as much as one inside it (a ready backup, or
    // the restarted store of the gate or its primary) holds everything settled too: the stores of
    // one epoch are prefixes of its primary's log. (The broker's own check would also refuse a
    // lesser one while a ready backup holding more answers.)
    const floor = best([...complete, ...gateStores(state, members)]);
    const record = state.record;
    const dominating = floor === null || record === null ? [] : ready.filter((m) => !complete.includes(m) && m.broker.lastLsn >= record.lsn && holdsAsMuch(m, floor));
    if (complete.length + dominating.length > 0) return elect(out, [...complete, ...dominating], nowMs);
    // Every ready backup is below the record: a joining store that holds it may be promoted
    // (its broker is told the record, and passes over them); otherwise wait for a broker that
    // holds it to report.
    if (members.some((m) => m.broker.state === 'joining' && totalFailureObjection(m, members, state.record) === null)) return totalFailure(out, members, nowMs);
    note(out, 'waiting', `every ready backup is behind the record in etcd (${ready.map((m) => belowRecord(state, m)).join('; ')}): waiting for a broker that holds it`, nowMs);
    return out;
  }
  // A superseded ready backup waits for a primary that is gone: like a joining broker it can
  // only follow the next one, and it must not keep the total-failure election from running
  // (found by the simulator, etcd seed 25: the epoch-6 primary died recovering, and a ready
  // backup of epoch 5 kept every manager waiting for ever).
  if (members.every((m) => m.broker.state === 'joining' || m.broker.state === 'dead' || m.broker.state === 'unreachable' || supersededReady(state, m))) return totalFailure(out, members, nowMs);
  note(out, 'waiting', 'no leader and no ready backup yet (brokers are catching up)', nowMs);
  return out;
}

/** The leader tells its primary what etcd records of its gate (on the record's echo, and again
 * with renewals while departures wait: a lost answer must not hold settlement back for ever). */
function gateRecorded(out: Step): void {
  const shown = out.state.record;
  const broker = out.state.broker;
  if (!shown || shown.generation === undefined || !broker || !isPrimary(broker.state) || shown.epoch !== broker.storeEpoch) return;
  out.actions.push({ kind: 'gate-recorded', epoch: shown.epoch, generation: shown.generation });
}

/** Members as last reported, with our own broker's newest report in place of our entry. */
function currentMembers(state: ManagerState): MemberEntry[] {
  const members = [...state.members.values()].filter((m) => m.name !== state.config.name);
  members.push({ name: state.config.name, broker: state.broker as BrokerReport, revision: Number.MAX_SAFE_INTEGER });
  return members;
}

/** Takes the key; `promoting`: for a promotion, which reserves its epoch in the same
 * transaction (Record_.reserved). */
function acquire(out: Step, reason: string, nowMs: number, promoting = true): Step {
  const state = out.state;
  const reservedEpoch = promoting ? epochToReserve(state) : null;
  const reserve = reservedEpoch === null ? null : { ...(state.record ?? { epoch: 0, lsn: 0 }), reserved: reservedEpoch };
  out.state = { ...state, inFlight: 'acquire', reservedEpoch };
  out.actions.push({ kind: 'acquire', recordRevision: state.recordRevision, reserve });
  note(out, 'acquiring', reason, nowMs);
  return out;
}

function elect(out: Step, ready: readonly MemberEntry[], nowMs: number): Step {
  const state = out.state;
  const waitedMs = nowMs - (state.noLeaderSinceMs ?? nowMs);
  // Reports from before the key went away may predate the primary's last records: wait for
  // fresh ones, but not for ever for a member that went silent. A backup that reported losing
  // its primary reported its last LSN (its manager hears of the loss at once, and publishes it,
  // often before the old leader's key is gone): that report is fresh already.
  const stale = ready.filter((m) => m.revision <= state.leaderGoneRevision && m.broker.connectedToPrimary);
  if (stale.length > 0 && waitedMs < state.config.electionWaitMs) {
    note(out, 'waiting', `election: waiting for fresh reports from ${stale.map((m) => m.name).join(', ')}`, nowMs);
    return out;
  }
  // A planned move names the new leader; any other ready backup only once it is gone.
  const target = state.switchover === null ? undefined : ready.find((m) => m.name === state.switchover);
  const top = target ?? best(ready);
  if (top?.name !== state.config.name) {
    note(out, 'standing by', `election: ${top?.name ?? 'nobody'} is the most up-to-date ready backup`, nowMs);
    // Its manager is about to take the key and promote it: point our backup there now, so that
    // its join is waiting when the promotion is done (the leader event corrects a wrong guess).
    return top ? hintTowards(out, top) : out;
  }
  if (state.broker?.state !== 'ready') return out;
  return acquire(out, `election: the most up-to-date ready backup (epoch ${top.broker.storeEpoch}, LSN ${top.broker.lastLsn})`, nowMs);
}

function totalFailure(out: Step, members: readonly MemberEntry[], nowMs: number): Step {
  const state = out.state;
  const joining = members.filter((m) => m.broker.state === 'joining');
  const reported = joining.length + members.filter((m) => supersededReady(state, m) || (m.broker.state === 'ready' && belowRecord(state, m) !== null)).length;
  const expected = Math.max(...members.map((m) => m.broker.clusterSize), 1);
  const waitedMs = nowMs - (state.noLeaderSinceMs ?? nowMs);
  if (reported < expected && waitedMs < state.config.totalFailureWaitMs) {
    note(out, 'waiting', `total failure: ${reported} of ${expected} brokers reported; waiting up to ${state.config.totalFailureWaitMs} ms for the rest`, nowMs);
    return out;
  }
  const floor = best(gateStores(state, members));
  const eligible = joining.filter((m) => totalFailureObjection(m, members, state.record, floor) === null);
  const top = best(eligible);
  if (top === null) {
    const mine = joining.find((m) => m.name === state.config.name);
    const why = mine ? totalFailureObjection(mine, members, state.record, floor) : null;
    note(out, 'not promoting', why ?? 'total failure: no joining store may be promoted', nowMs);
    return out;
  }
  if (top.name !== state.config.name) {
    note(out, 'standing by', `total failure: ${top.name} holds the most recent store`, nowMs);
    return out;
  }
  return acquire(out, `total failure: the most recent store (epoch ${top.broker.storeEpoch}, LSN ${top.broker.lastLsn})`, nowMs);
}

/** A switchover (zero loss): stop settling here at once (the serving lease cut to nothing: what
 * producers send now waits, unsettled, and is resent to the new primary), wait until the target
 * has confirmed everything this store holds, then give the key back; the target's manager takes
 * it (the election prefers the target) and the old primary, fenced by the new epoch, stops. */
function handOver(out: Step, target: string, nowMs: number, release: (reason: string) => Step): Step {
  const state = out.state;
  const broker = state.broker as BrokerReport;
  const member = state.members.get(target);
  if (!member || member.broker.state !== 'ready' || broker.state !== 'active') {
    note(out, 'switchover waiting', `switchover to ${target}: it must be a ready backup of an active primary (it is ${member?.broker.state ?? 'not reporting'})`, nowMs);
    return out;
  }
  if (!state.draining) {
    // A new grant of 1 ms replaces the lease: extensions of the old one are refused from now on.
    // (grantedUntilMs stays: an extension already sent may still arrive first.)
    const lease = newLease(state, nowMs);
    out.state = { ...lease.state, draining: true };
    out.actions.push({ kind: 'grant-lease', id: lease.id, seconds: 0.001 });
    note(out, 'switchover draining', `switchover to ${target}: settlement stopped; waiting for ${target} to confirm LSN ${broker.lastLsn}`, nowMs);
    return out;
  }
  const confirmed = broker.backupsConfirmed?.[target] ?? 0;
  if (confirmed < broker.lastLsn) return out;
  return release(`switchover to ${target}: it has confirmed LSN ${confirmed}, everything this primary holds`);
}

/** The leader's duties: release the key when the broker is gone, else renew its serving lease
 * under the etcd lease (point 2) and write the record. */
function lead(out: Step, nowMs: number, renewal: boolean): Step {
  const state = out.state;
  const broker = state.broker as BrokerReport;
  const release = (reason: string): Step => {
    out.state = { ...out.state, holding: false, leader: null, noLeaderSinceMs: nowMs };
    out.actions.push({ kind: 'release', reason });
    note(out, 'released', reason, nowMs);
    return out;
  };
  if (broker.state === 'dead') return release('the broker process is gone (its port refuses connections)');
  if (broker.state === 'unreachable') {
    // Point 3: only once the serving lease granted has surely passed.
    if (state.grantedUntilMs === null || nowMs > state.grantedUntilMs) return release('the broker does not answer and its serving lease has passed');
    return out;
  }
  if (!isPrimary(broker.state)) return release(`the broker is ${broker.state}, no longer primary (it restarted)`);
  if (state.switchover !== null && state.switchover !== state.config.name) return handOver(out, state.switchover, nowMs, release);
  const shown = state.record;
  const record = recordOf(broker, shown);
  const sent = state.recordSent;
  // Rewrite when etcd does not show it yet (a lost write is sent again on the next report).
  const stale = (r: Record_ | null): boolean => !r || r.epoch !== record.epoch || r.lsn < record.lsn || (record.generation !== undefined && ((r.generation ?? -1) < record.generation || !sameGate(r.gate, record.gate)));
  if (stale(shown) && (stale(sent) || renewal)) {
    out.state = { ...out.state, recordSent: record };
    out.actions.push({ kind: 'write-record', record });
  }
  // Departures wait on etcd: say again what it records (the echo's word may have been lost).
  if (renewal && (broker.gateUnrecorded ?? 0) > 0 && !out.actions.some((a) => a.kind === 'gate-recorded')) gateRecorded(out);
  // Extensions go with keep-alives; the first grant of a new primary goes as soon as etcd shows
  // its epoch's record (the record's echo and the broker's first report come in either order).
  if (!renewal && state.brokerLease !== null) return out;
  if (shown?.epoch !== broker.storeEpoch) {
    if (!renewal) return out;
    note(out, 'fencing', `waiting for etcd to record epoch ${broker.storeEpoch} before the broker serves`, nowMs);
    return out;
  }
  const ms = grantableMs(out.state, nowMs);
  if (ms > 0) {
    const targetMs = nowMs + ms;
    const granted = Math.max(state.grantedUntilMs ?? 0, targetMs + state.config.leaseMarginMs);
    if (state.brokerLease === null) {
      // An adopted primary, or one whose lease was refused: a grant (point 2's T0).
      const lease = newLease(out.state, targetMs);
      out.state = { ...lease.state, grantedUntilMs: granted };
      out.actions.push({ kind: 'grant-lease', id: lease.id, seconds: ms / 1000 });
    } else {
      out.state = { ...out.state, grantedUntilMs: granted };
      out.actions.push({ kind: 'extend-lease', id: state.brokerLease.id, extendMs: targetMs - state.brokerLease.targetMs, remainingMs: ms });
    }
  }
  note(out, 'leading', `the broker is ${broker.state}`, nowMs);
  return out;
}
