// The primary's side of replication: one session per connected backup. A session sends
// `hello`, streams a snapshot from one read transaction, then the log from the snapshot's LSN,
// first from the store and then live as commits happen. When it has shipped everything up to
// the primary's LSN G at that moment, the backup enters the ack gate as having confirmed G
// (catching up never held producers back); once it confirms G it is `ready`, promotable.
//
// Ordering: records are shipped after they are committed locally (visible); settlement still
// waits for the local flush AND every gated backup's confirmation (ack-gate.ts), so shipping
// before the local flush only saves latency, never settles early.

import { ShipLedger } from './ship-ledger.js';
import type { HaInstruments } from './instruments.js';
import { crashPoint } from '../core/crash-points.js';
import { entryLastLsn, isStoreError, type EpochStart, type LogEntry, type Store } from '../../store/index.js';
import { frameLength, openUnitEnd } from './units.js';
import { assert } from '../core/assert.js';
import type { ShippingLimits } from '../config/broker-config.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { CatchUpGovernor } from './catch-up-governor.js';
import type { CatchUpPolicy, CatchUpSample } from './catch-up-throttle.js';
import type { Logger } from '../core/log.js';
import type { ReplicateLevel } from '../broker/queue.js';
import { QueueFilter, ReplicationFilter, type RecordFilter } from './filter.js';
import type { BackupFrame, MemberInfo, PrimaryFrame } from './messages.js';
import type { HaState } from './role.js';
import type { Settlements } from './settlements.js';
import { planCatchUp, type CatchUp, type TotalFailureResync } from './catch-up.js';

/** One backup's replication link, as the primary sees it (rhea in production, the simulated
 * network in test/sim). */
export interface BackupLink {
  readonly id: string;
  /** The peer's address (ip:port; a host name in the simulator), for the member check. */
  readonly remoteAddress: string;
  /** Sends a frame; frames beyond the link's credit are queued, in order. */
  send(frame: PrimaryFrame): void;
  /** Frames that may be sent now without queueing (the backup's link credit); bulk data
   * (snapshot, log backlog) waits for it. */
  capacity(): number;
  close(reason: string): void;
}

export interface PrimaryReplicatorDeps {
  readonly store: Store;
  readonly settlements: Settlements;
  readonly logger: Logger;
  readonly name: string;
  readonly publicAddress: string | null;
  readonly defaultReplicateLevel: ReplicateLevel;
  readonly epoch: number;
  /** False on a standalone broker: it serves replica queues only (reference §1.13). */
  readonly acceptBackups?: boolean;
  /** Whether a backup may join from this address: a cluster member's (DESIGN.md §9: the HA
   * identity, once authentication exists; until then the hosts of --ha-brokers-url).
   * Absent: anyone (the simulator's network has no strangers). */
  readonly memberAddress?: (remoteAddress: string) => boolean;
  /** A backup reported a higher epoch than ours: we are a stale primary. */
  readonly onStale: (reason: string) => void;
  /** Membership changed (a backup joined, became ready, or left). */
  readonly onMembership: () => void;
  /** --ha-confirm-timeout: a backup in the gate that leaves an LSN shipped to it unconfirmed
   * this long leaves the gate, so that no backup (hung, or a peer that never confirms) can stall
   * producers for longer. Needs the clock; absent, only a closed link or heartbeat drops it. */
  readonly confirmTimeoutMs?: number;
  readonly clock?: Clock;
  /** This primary was promoted from joining (the whole cluster had failed): backups from before
   * resync by --ha-total-failure-resync (default wipe). */
  readonly promotedAfterTotalFailure?: boolean;
  /** Brokers in --ha-brokers-url: while some are not connected, the log is kept for them. */
  readonly clusterSize?: number;
  readonly totalFailureResync?: TotalFailureResync;
  readonly limits?: ShippingLimits;
  /** Catch-up that converges (catch-up-throttle.ts): the policy, and how to pause producers. */
  readonly catchUp?: { readonly policy: CatchUpPolicy; readonly pauseProducers: (reason: string | null) => void };
  /** Where confirm latencies go (the metrics). */
  readonly instruments?: HaInstruments;
}

/** A backup's replication lag, as operators see it (qpid-ha status --queues, the API, /metrics). */
export interface BackupLag {
  readonly name: string;
  readonly state: HaState;
  readonly phase: string;
  /** Whether its confirmations hold producers back (it is in the ack gate). */
  readonly inGate: boolean;
  readonly confirmedLsn: number;
  /** Log records the primary holds beyond what the backup confirmed. */
  readonly lagRecords: number;
  /** Bytes shipped and not confirmed, plus bytes waiting to be shipped. */
  readonly lagBytes: number;
  /** How long the oldest unconfirmed shipped batch has waited. */
  readonly lagSeconds: number;
}

/** catalog: incremental catch-up, waiting for the backup to say what it holds (messages.ts). */
type Phase = 'catalog' | 'snapshot' | 'backlog' | 'live' | 'closed';

interface Session {
  readonly link: BackupLink;
  readonly name: string;
  readonly storeId: string;
  readonly address: string | null;
  readonly filter: RecordFilter;
  /** A replica queue's session (reference §1.13), not a backup: one queue's records, never in
   * the ack gate, not a member of the cluster. */
  readonly replicaOf: string | null;
  phase: Phase;
  /** The next LSN to ship. */
  nextLsn: number;
  /** The snapshot's LSN while it streams (retention must keep what follows it). */
  snapshotLsn: number;
  confirmedLsn: number;
  /** The primary's LSN when the backup entered the gate; null before. */
  gateLsn: number | null;
  readonly catchUp: CatchUp;
  shippedBytes: number;
  /** While it catches up: the log committed since it joined, and the log (at its size in the
   * primary's log, filtered or not) shipped to it since; what it still needs of the log is about
   * the difference (the catch-up governor's retention alarm). Not counted once it is live. */
  logBytesWritten: number;
  logBytesPassed: number;
  /** Log batches shipped and not yet confirmed (lag in bytes and seconds, confirm latency). */
  readonly ledger: ShipLedger;
  state: HaState;
  /** The oldest LSN shipped to the backup (in the gate) and not yet confirmed, and when it was
   * shipped; null when everything shipped is confirmed. */
  unconfirmed: { readonly lsn: number; readonly sinceMs: number } | null;
  /** Live entries waiting for credit, and their approximate size. */
  pending: LogEntry[];
  pendingBytes: number;
  wake: (() => void) | null;
  /** Resolves with the backup's catalog (incremental catch-up). */
  catalogArrived: ((catalog: CatalogFrame) => void) | null;
  /** An incremental catch-up from where the backup's log ends: its join's catalog is what it
   * holds, and no catalog frame comes (hello.catalogFromJoin). */
  readonly joinCatalog: Pick<CatalogFrame, 'queues' | 'exchanges'> | null;
}

type CatalogFrame = Extract<BackupFrame, { kind: 'catalog' }>;

/** Lets other I/O run between batches, on the injected clock when there is one. */
function yieldTurn(clock: Clock | undefined): Promise<void> {
  return new Promise((resolve) => (clock ? clock.nextTurn(resolve) : setImmediate(resolve)));
}

/** Read through a function so that the compiler does not narrow the phase across awaits. */
function closed(session: Session): boolean {
  return session.phase === 'closed';
}

export const DEFAULT_SHIPPING_LIMITS: ShippingLimits = { snapshotBatchRecords: 256, logBatchEntries: 512, catchUpFramesPerTurn: 8, livePendingEntriesMax: 20_000, livePendingBytesMax: 8 * 1024 * 1024 };

function approximateRecordBytes(record: LogEntry['record']): number {
  return record.kind === 'enqueue' ? record.body.byteLength + 64 : 64;
}

function approximateBytes(entry: LogEntry): number {
  return approximateRecordBytes(entry.record);
}

export class PrimaryReplicator {
  private readonly sessions = new Map<string, Session>();
  private readonly unsubscribe: () => void;
  private stopped = false;
  private confirmCheck: TimerHandle | null = null;
  private readonly governor: CatchUpGovernor | null;
  private readonly limits: ShippingLimits;

  constructor(private readonly deps: PrimaryReplicatorDeps) {
    this.limits = deps.limits ?? DEFAULT_SHIPPING_LIMITS;
    this.unsubscribe = deps.store.onCommitted((entries) => this.committed(entries));
    this.scheduleConfirmCheck();
    const { catchUp, clock } = deps;
    this.governor =
      catchUp && clock
        ? new CatchUpGovernor({ clock, logger: deps.logger, policy: catchUp.policy, pauseProducers: catchUp.pauseProducers, samples: () => this.catchUpSamples() })
        : null;
  }

  /** The backups still catching up, for the governor. */
  private catchUpSamples(): CatchUpSample[] {
    const { lastLsn, logBytes } = this.deps.store.meta();
    // The log written since the join that the backup has not yet been sent. An incremental
    // catch-up also needs the log from its divergence point to the join, which is not counted:
    // that part is what the primary had already kept, and it is usually small.
    const needed = (s: Session): number => Math.min(logBytes, Math.max(0, s.logBytesWritten - s.logBytesPassed));
    return this.backupSessions()
      .filter((s) => s.phase === 'catalog' || s.phase === 'snapshot' || s.phase === 'backlog')
      .map((s) => ({ name: s.name, snapshot: s.phase === 'snapshot', lag: Math.max(0, lastLsn - s.confirmedLsn), shippedBytes: s.shippedBytes, retainedLogBytes: needed(s) }));
  }

  private scheduleConfirmCheck(): void {
    const { clock, confirmTimeoutMs } = this.deps;
    if (!clock || !confirmTimeoutMs || this.stopped) return;
    // The check's period is what a hung backup can stall producers beyond the timeout: a quarter
    // of it let a 5 s timeout stall them 6.0 s, a tenth 5.3 s (bench catch-up-cases). A check is
    // a walk over the sessions, so every 20 ms costs nothing.
    this.confirmCheck = clock.setTimer(Math.max(5, Math.min(20, confirmTimeoutMs / 50)), () => {
      this.checkConfirmations(clock.monotonicMs(), confirmTimeoutMs);
      this.scheduleConfirmCheck();
    });
  }

  /** Drops from the gate every backup that has left a shipped LSN unconfirmed for too long. The
   * backup is told first (a state frame saying it is catching up), so that it does not go on
   * calling itself ready: it may lack what is settled without it. */
  private checkConfirmations(nowMs: number, timeoutMs: number): void {
    for (const session of this.backupSessions()) {
      const waiting = session.unconfirmed;
      if (session.gateLsn === null || waiting === null || nowMs - waiting.sinceMs <= timeoutMs) continue;
      this.deps.logger.warn({ backup: session.name, lsn: waiting.lsn, confirmedLsn: session.confirmedLsn, waitedMs: Math.round(nowMs - waiting.sinceMs) }, 'backup did not confirm within --ha-confirm-timeout; it leaves the ack gate');
      session.link.send({ kind: 'state', epoch: this.deps.epoch, state: 'catchup', members: this.members() });
      this.drop(session, `no confirmation of LSN ${waiting.lsn} within --ha-confirm-timeout (${timeoutMs} ms): left the ack gate`);
    }
  }

  get epoch(): number {
    return this.deps.epoch;
  }

  members(): MemberInfo[] {
    return this.backupSessions().map((s) => ({ name: s.name, state: s.state, address: s.address, confirmedLsn: s.confirmedLsn, catchUp: s.catchUp, shippedBytes: s.shippedBytes }));
  }

  /** Each backup's lag behind this primary (replica queues are not backups: not listed). */
  lag(): BackupLag[] {
    const lastLsn = this.deps.store.meta().lastLsn;
    const nowMs = this.nowMs();
    return this.backupSessions().map((s) => ({
      name: s.name,
      state: s.state,
      phase: s.phase,
      inGate: s.gateLsn !== null,
      confirmedLsn: s.confirmedLsn,
      lagRecords: Math.max(0, lastLsn - s.confirmedLsn),
      lagBytes: s.ledger.unconfirmedBytes + s.pendingBytes,
      lagSeconds: s.ledger.oldestUnconfirmedMs(nowMs) / 1000,
    }));
  }

  private nowMs(): number {
    return this.deps.clock ? this.deps.clock.monotonicMs() : performance.now();
  }

  readyBackups(): string[] {
    return this.backupSessions()
      .filter((s) => s.state === 'ready')
      .map((s) => s.name);
  }

  /** Replica queues following this broker: the queue and who follows it. */
  replicas(): { queue: string; replica: string; confirmedLsn: number }[] {
    return [...this.sessions.values()].filter((s) => s.replicaOf !== null).map((s) => ({ queue: s.replicaOf as string, replica: s.name, confirmedLsn: s.confirmedLsn }));
  }

  private backupSessions(): Session[] {
    return [...this.sessions.values()].filter((s) => s.replicaOf === null);
  }

  /** A backup's `join` arrived on a new link. */
  join(link: BackupLink, join: Omit<Extract<BackupFrame, { kind: 'join' }>, 'kind' | 'epoch'>): void {
    if (this.stopped) {
      link.close('primary is stopping');
      return;
    }
    const replicaOf = join.queue ?? null;
    if (replicaOf === null && this.deps.acceptBackups === false) {
      link.close(`${this.deps.name} is not a cluster primary: only replica queues may follow it`);
      return;
    }
    if (replicaOf === null && this.deps.memberAddress && !this.deps.memberAddress(link.remoteAddress)) {
      this.deps.logger.warn({ backup: join.name, peer: link.remoteAddress }, 'replication join refused: the peer is not a host of --ha-brokers-url');
      link.close(`${link.remoteAddress} is not a member of this cluster (--ha-brokers-url)`);
      return;
    }
    for (const existing of this.sessions.values()) {
      // The same name from another store is another broker (or an impostor): two backups under
      // one name would take turns replacing each other in the gate forever.
      if (existing.name === join.name && existing.replicaOf === replicaOf && existing.storeId !== join.storeId) {
        this.deps.logger.warn({ backup: join.name, peer: link.remoteAddress, storeId: join.storeId, connectedStoreId: existing.storeId }, 'replication join refused: a connected backup has that name');
        link.close(`a backup named ${join.name} (store ${existing.storeId}) is already connected`);
        return;
      }
    }
    if (replicaOf === null && join.epochSeen > this.deps.epoch) {
      link.close(`stale primary: backup ${join.name} has seen epoch ${join.epochSeen} > ${this.deps.epoch}`);
      this.deps.onStale(`backup ${join.name} has seen epoch ${join.epochSeen}, ours is ${this.deps.epoch}`);
      return;
    }
    for (const existing of [...this.sessions.values()]) {
      if (existing.name === join.name && existing.replicaOf === replicaOf) this.drop(existing, 'replaced by a new connection from the same backup');
    }
    const meta = this.deps.store.meta();
    // A replica queue copies one queue, not the log: it always starts from a snapshot.
    const catchUp: CatchUp =
      replicaOf !== null
        ? { kind: 'snapshot', reason: 'a replica queue starts from a snapshot of its queue' }
        : planCatchUp(
            { epochHistory: meta.epochHistory, lastLsn: meta.lastLsn, firstLsn: meta.firstLsn, epoch: this.deps.epoch, promotedAfterTotalFailure: this.deps.promotedAfterTotalFailure ?? false },
            { epochHistory: join.epochHistory ?? [], lastLsn: join.lastLsn ?? 0, snapshotIncomplete: join.snapshotIncomplete ?? false, resync: join.resync ?? null },
            this.deps.totalFailureResync ?? 'wipe',
          );
    // Nothing to take back: the join's catalog is the one the backup would send after the hello.
    const joinCatalog = catchUp.kind === 'incremental' && join.catalog !== undefined && catchUp.fromLsn === (join.lastLsn ?? 0) ? join.catalog : null;
    const session: Session = {
      link,
      name: join.name,
      storeId: join.storeId,
      address: join.address,
      filter: replicaOf === null ? new ReplicationFilter(this.deps.defaultReplicateLevel) : new QueueFilter(replicaOf),
      replicaOf,
      phase: 'snapshot',
      nextLsn: 0,
      snapshotLsn: meta.lastLsn,
      confirmedLsn: 0,
      gateLsn: null,
      catchUp,
      shippedBytes: 0,
      logBytesWritten: 0,
      logBytesPassed: 0,
      ledger: new ShipLedger(),
      state: 'catchup',
      unconfirmed: null,
      pending: [],
      pendingBytes: 0,
      wake: null,
      catalogArrived: null,
      joinCatalog,
    };
    this.sessions.set(link.id, session);
    if (replicaOf === null) this.governor?.wake();
    this.deps.logger.info({ backup: join.name, address: join.address, catchUp, backupLsn: join.lastLsn ?? 0, ...(replicaOf !== null ? { replicaOf } : {}) }, replicaOf === null ? 'backup joined; catch-up starts' : 'replica queue joined; catch-up starts');
    link.send({ kind: 'hello', epoch: this.deps.epoch, name: this.deps.name, storeId: meta.storeId, publicAddress: this.deps.publicAddress, lastLsn: meta.lastLsn, epochHistory: meta.epochHistory, catchUp, ...(joinCatalog ? { catalogFromJoin: true } : {}) });
    this.updateRetention();
    if (replicaOf === null) this.deps.onMembership();
    void this.ship(session).catch((err: unknown) => {
      this.deps.logger.error({ err, backup: session.name }, 'replication to backup failed');
      this.drop(session, `replication failed: ${(err as Error).message}`);
    });
  }

  /** A frame from a backup after its join. */
  frame(linkId: string, frame: Exclude<BackupFrame, { kind: 'join' }>): void {
    if (frame.kind === 'confirm') {
      this.confirm(linkId, frame.lsn);
      return;
    }
    const session = this.sessions.get(linkId);
    if (!session || session.phase !== 'catalog' || frame.lsn !== session.nextLsn - 1) {
      if (session) this.drop(session, `unexpected catalog frame (phase ${session.phase}, LSN ${frame.lsn})`);
      return;
    }
    const arrived = session.catalogArrived;
    session.catalogArrived = null;
    arrived?.(frame);
  }

  /** A backup confirmed that `lsn` is durable in its store. */
  confirm(linkId: string, lsn: number): void {
    const session = this.sessions.get(linkId);
    if (!session || lsn <= session.confirmedLsn) return;
    session.confirmedLsn = lsn;
    const instruments = this.deps.instruments;
    session.ledger.confirmed(lsn, this.nowMs(), instruments ? (ms) => instruments.confirmLatency(session.name, ms / 1000) : () => {});
    if (session.unconfirmed !== null && lsn >= session.unconfirmed.lsn) {
      const shipped = session.nextLsn - 1;
      // What waits now was shipped after what was just confirmed: it has waited since its own
      // batch went out (the ledger's oldest), not since this confirmation. Counting from the
      // confirmation let a hung backup stall producers the timeout plus its confirm latency.
      const nowMs = this.nowMs();
      session.unconfirmed = shipped > lsn && this.deps.clock ? { lsn: shipped, sinceMs: nowMs - session.ledger.oldestUnconfirmedMs(nowMs) } : null;
    }
    if (session.gateLsn !== null) this.deps.settlements.backupConfirmed(session.name, lsn);
    this.readyIfCaughtUp(session);
    this.updateRetention();
  }

  /** In the gate and holding everything up to where it entered it: the backup is ready. */
  private readyIfCaughtUp(session: Session): void {
    if (session.state !== 'catchup' || session.gateLsn === null || session.confirmedLsn < session.gateLsn) return;
    session.state = 'ready';
    this.deps.logger.info({ backup: session.name, lsn: session.confirmedLsn }, 'backup ready');
    this.broadcastState();
    this.deps.onMembership();
  }

  /** The link has credit again. */
  writable(linkId: string): void {
    const session = this.sessions.get(linkId);
    const wake = session?.wake;
    if (session && wake) {
      session.wake = null;
      wake();
    }
  }

  /** The backup's link closed or its heartbeat lapsed: it leaves the gate at once. */
  lost(linkId: string, reason: string): void {
    const session = this.sessions.get(linkId);
    if (session) this.drop(session, reason);
  }

  stop(): void {
    this.stopped = true;
    this.confirmCheck?.cancel();
    this.governor?.stop();
    this.unsubscribe();
    for (const session of [...this.sessions.values()]) this.drop(session, 'primary stopping');
  }

  private drop(session: Session, reason: string): void {
    if (session.phase === 'closed') return;
    session.phase = 'closed';
    this.sessions.delete(session.link.id);
    session.link.close(reason);
    session.wake?.();
    session.catalogArrived?.({ kind: 'catalog', epoch: 0, lsn: -1, queues: [], exchanges: [] });
    this.updateRetention();
    if (session.replicaOf !== null) {
      this.deps.logger.info({ replica: session.name, queue: session.replicaOf, reason }, 'replica queue left');
      return;
    }
    this.deps.settlements.removeBackup(session.name);
    this.deps.logger.warn({ backup: session.name, reason }, 'backup left');
    this.broadcastState();
    this.deps.onMembership();
  }

  /** Tells every backup its state and the membership (backups keep it so that a promoted one
   * knows which brokers to expect while it recovers). */
  broadcastState(): void {
    const members = this.members();
    for (const session of this.backupSessions()) {
      session.link.send({ kind: 'state', epoch: this.deps.epoch, state: session.state, members });
    }
  }

  private async waitForCredit(session: Session): Promise<void> {
    while (!closed(session) && session.link.capacity() <= 0) {
      await new Promise<void>((resolve) => {
        session.wake = resolve;
      });
    }
  }

  private async ship(session: Session): Promise<void> {
    if (session.catchUp.kind === 'incremental') {
      // The backup takes its log back to fromLsn (or already ends there), says what it holds
      // (the filter starts from that), and the log follows from fromLsn + 1.
      session.nextLsn = session.catchUp.fromLsn + 1;
      session.confirmedLsn = session.catchUp.fromLsn;
      session.phase = 'catalog';
      this.updateRetention();
      const catalog =
        session.joinCatalog ??
        (await new Promise<CatalogFrame>((resolve) => {
          session.catalogArrived = resolve;
        }));
      if (closed(session)) return;
      if (session.filter instanceof ReplicationFilter) session.filter.seed(catalog.queues, catalog.exchanges);
      session.phase = 'backlog';
      await this.shipBacklog(session);
      return;
    }
    // 1. The snapshot: one read transaction, streamed in batches as credit allows.
    const snapshot = this.deps.store.snapshot();
    const turn = this.catchUpTurn(session);
    try {
      session.snapshotLsn = snapshot.lsn;
      this.updateRetention();
      await this.waitForCredit(session);
      if (closed(session)) return;
      session.link.send({ kind: 'snapshot-begin', epoch: this.deps.epoch, lsn: snapshot.lsn, lastMessageId: snapshot.lastMessageId, epochHistory: snapshot.epochHistory });
      let batch = [];
      for await (const record of snapshot.records()) {
        if (closed(session)) return;
        const kept = session.filter.filter(record);
        if (kept) batch.push(kept);
        if (batch.length >= this.limits.snapshotBatchRecords) {
          await turn.beforeFrame();
          if (closed(session)) return;
          session.link.send({ kind: 'snapshot-records', epoch: this.deps.epoch, records: batch });
          session.shippedBytes += batch.reduce((n, r) => n + approximateRecordBytes(r), 0);
          batch = [];
          await turn.afterFrame();
        }
      }
      await this.waitForCredit(session);
      if (closed(session)) return;
      if (batch.length > 0) session.link.send({ kind: 'snapshot-records', epoch: this.deps.epoch, records: batch });
      // Positions continue where the primary's do, even on queues whose messages are all gone.
      const filter = session.filter;
      const held = (queue: string): boolean => (filter instanceof ReplicationFilter ? filter.queueLevel(queue) !== 'none' : queue === filter.queue);
      const lastPositions = Object.fromEntries(Object.entries(snapshot.lastPositions).filter(([queue]) => held(queue)));
      session.link.send({ kind: 'snapshot-end', epoch: this.deps.epoch, lastPositions });
    } finally {
      snapshot.close();
    }
    session.nextLsn = session.snapshotLsn + 1;
    session.phase = 'backlog';
    this.deps.logger.info({ backup: session.name, lsn: session.snapshotLsn }, 'snapshot sent; shipping the log');
    await this.shipBacklog(session);
  }

  /** Paces a catch-up's frames: a few per event-loop turn (--ha-catchup-frames-per-turn), as
   * credit allows. Reading the store never waits for I/O, so without a yield a long catch-up
   * starves heartbeats (the backup drops the link) and client traffic; with one frame a turn it
   * loses to busy producers, whose every socket read is a turn of its own, and never converges
   * (bench catch-up-cases: 5k LSN/s shipped against 13k/s written under 4+4 unthrottled). */
  private catchUpTurn(session: Session): { beforeFrame: () => Promise<void>; afterFrame: () => Promise<void> } {
    let framesThisTurn = 0;
    return {
      beforeFrame: async () => {
        if (session.link.capacity() > 0) return;
        await this.waitForCredit(session);
        framesThisTurn = 0;
      },
      afterFrame: async () => {
        if (++framesThisTurn < this.limits.catchUpFramesPerTurn) return;
        framesThisTurn = 0;
        await yieldTurn(this.deps.clock);
      },
    };
  }

  /** Ships from the store's log until nothing committed is left, then goes live. */
  private async shipBacklog(session: Session): Promise<void> {
    const turn = this.catchUpTurn(session);
    while (session.phase === 'backlog') {
      const lastLsn = this.deps.store.meta().lastLsn;
      if (session.nextLsn > lastLsn) {
        this.goLive(session, lastLsn);
        return;
      }
      const toLsn = Math.min(lastLsn, session.nextLsn + this.limits.logBatchEntries - 1);
      const entries: LogEntry[] = [];
      try {
        for await (const entry of this.deps.store.readLog(session.nextLsn, { toLsn })) entries.push(entry);
        // A transaction is shipped whole (units.ts): read on to its end.
        const unitEnd = openUnitEnd(entries);
        const last = entries[entries.length - 1];
        if (unitEnd !== null && last) for await (const entry of this.deps.store.readLog(entryLastLsn(last) + 1, { toLsn: unitEnd })) entries.push(entry);
      } catch (err) {
        if (isStoreError(err, 'STORE_LOG_TRUNCATED')) {
          // The backup fell further behind than the retained log: it must start over.
          this.drop(session, 'fell behind the retained log; it will resync from a snapshot');
          return;
        }
        throw err;
      }
      await turn.beforeFrame();
      if (session.phase !== 'backlog') return;
      this.sendEntries(session, entries);
      await turn.afterFrame();
    }
  }

  private sendEntries(session: Session, entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    const first = entries[0] as LogEntry;
    assert(first.lsn === session.nextLsn, `replication to ${session.name}: shipping LSN ${first.lsn}, expected ${session.nextLsn}`);
    const last = entries[entries.length - 1] as LogEntry;
    session.nextLsn = (last.record.kind === 'skip' ? last.record.lastLsn : last.lsn) + 1;
    if (session.gateLsn !== null && session.unconfirmed === null && this.deps.clock) session.unconfirmed = { lsn: session.nextLsn - 1, sinceMs: this.deps.clock.monotonicMs() };
    if (session.phase === 'backlog') for (const entry of entries) session.logBytesPassed += approximateBytes(entry);
    const shipped = session.filter.filterEntries(entries);
    let bytes = 0;
    for (const entry of shipped) bytes += approximateBytes(entry);
    session.shippedBytes += bytes;
    session.ledger.shipped(session.nextLsn - 1, bytes, this.nowMs());
    session.link.send({ kind: 'log', epoch: this.deps.epoch, entries: shipped });
    // A turn later the frame has been written to the socket: the window between shipped and
    // confirmed is open (only for a backup in the gate, whose confirmation settles producers).
    if (session.gateLsn !== null) {
      const fire = (): void => crashPoint('ha.primary.after-ship-before-confirm');
      if (this.deps.clock) this.deps.clock.nextTurn(fire);
      else setImmediate(fire);
    }
  }

  private goLive(session: Session, gateLsn: number): void {
    session.phase = 'live';
    if (session.gateLsn === null && session.replicaOf === null) {
      session.gateLsn = gateLsn;
      // Enter the gate at G: only commits after G wait for this backup, and toward
      // --ha-min-backups it counts for what it has confirmed, not for what it was shipped.
      this.deps.settlements.addBackup(session.name, gateLsn, session.confirmedLsn);
      this.deps.logger.info({ backup: session.name, gateLsn }, 'backup entered the ack gate');
      // An incremental catch-up that had nothing to ship confirmed gateLsn already.
      this.readyIfCaughtUp(session);
    }
    this.flushLive(session);
  }

  private committed(entries: readonly LogEntry[]): void {
    // Sized once per commit, and only while a backup catches up: the hot path pays nothing.
    let bytes = -1;
    for (const session of this.sessions.values()) {
      if (session.phase === 'closed') continue;
      if (session.phase !== 'live') {
        if (bytes < 0) bytes = entries.reduce((n, entry) => n + approximateBytes(entry), 0);
        session.logBytesWritten += bytes;
        continue;
      }
      for (const entry of entries) {
        if (entry.lsn < session.nextLsn + session.pending.length) continue;
        session.pending.push(entry);
        session.pendingBytes += approximateBytes(entry);
      }
      if (session.pending.length > this.limits.livePendingEntriesMax || session.pendingBytes > this.limits.livePendingBytesMax) {
        // The backup cannot keep up live: read from the store instead of holding it all.
        this.deps.logger.warn({ backup: session.name, pending: session.pending.length }, 'backup fell behind the live log; shipping from the store');
        session.pending = [];
        session.pendingBytes = 0;
        session.phase = 'backlog';
        void this.shipBacklog(session).catch((err: unknown) => this.drop(session, `replication failed: ${(err as Error).message}`));
        continue;
      }
      this.flushLive(session);
    }
  }

  private flushLive(session: Session): void {
    while (session.phase === 'live' && session.pending.length > 0 && session.link.capacity() > 0) {
      const batch = session.pending.splice(0, frameLength(session.pending, this.limits.logBatchEntries));
      for (const entry of batch) session.pendingBytes -= approximateBytes(entry);
      if ((batch[0] as LogEntry).lsn !== session.nextLsn) {
        // A gap between what was read and what arrived live: fall back to the store.
        session.pending = [];
        session.pendingBytes = 0;
        session.phase = 'backlog';
        void this.shipBacklog(session).catch((err: unknown) => this.drop(session, `replication failed: ${(err as Error).message}`));
        return;
      }
      this.sendEntries(session, batch);
    }
    if (session.phase === 'live' && session.pending.length > 0 && !session.wake) {
      session.wake = () => this.flushLive(session);
    }
  }

  /** The log must keep what every broker of the cluster may still need to come back by the
   * delta (DESIGN.md §2: until every known backup has it, within --store-log-max-bytes, which
   * always wins): it is cut early only while every other broker is connected, to what they all
   * have. Undo (what this store would take back if it were demoted) is needed only above what
   * every backup in the gate has confirmed. */
  private updateRetention(): void {
    let floor: number | null = null;
    let undoFloor: number | null = null;
    for (const session of this.sessions.values()) {
      const needed = session.phase === 'snapshot' ? session.snapshotLsn + 1 : Math.min(session.nextLsn, session.confirmedLsn + 1);
      floor = floor === null ? needed : Math.min(floor, needed);
      if (session.replicaOf === null && session.gateLsn !== null) undoFloor = undoFloor === null ? session.confirmedLsn : Math.min(undoFloor, session.confirmedLsn);
    }
    const backups = this.backupSessions().length;
    if (this.deps.clusterSize !== undefined && backups < this.deps.clusterSize - 1) floor = null;
    this.deps.store.setRetentionFloor(floor);
    this.deps.store.setUndoFloor(undoFloor);
  }
}
