// The primary's replication driver: the one place that carries out what the replication
// protocol (primary-protocol.ts, a pure step function) decides. It feeds the protocol what
// happens (a backup's join and confirmations, a link's credit, the store's commits, the results
// of the store reads it asked for, the clock's ticks) and performs the actions it returns, in
// their order: sends and closes on the backups' links, reads of the store's snapshot and log,
// the ack gate's changes (Settlements), the log's retention.
//
// Events are stepped one at a time, to completion: an event that arrives while another's actions
// run (a link that reports credit from inside send, a close that reports itself lost) waits its
// turn in the queue, so the protocol never sees itself re-entered.

import type { HaInstruments } from './instruments.js';
import { crashPoint } from '../core/crash-points.js';
import { entryLastLsn, isStoreError, type LogEntry, type Snapshot, type StoreRecord, type Store } from '../../store/index.js';
import { openUnitEnd } from './units.js';
import type { ShippingLimits } from '../config/broker-config.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { StepRunner } from '../core/step-runner.js';
import { CatchUpGovernor } from './catch-up-governor.js';
import type { CatchUpPolicy } from './catch-up-throttle.js';
import type { Logger } from '../core/log.js';
import type { ReplicateLevel } from '../broker/queue.js';
import { FRAME_HEADER_BYTES, type BackupFrame, type MemberInfo, type PrimaryFrame } from './messages.js';
import type { HaState } from './role.js';
import type { Settlements } from './settlements.js';
import type { TotalFailureResync } from './catch-up.js';
import { backupSessions, catchUpSamples, confirmCheckPeriodMs, initialPrimaryState, members, step, type Capacities, type PrimaryAction, type PrimaryEvent, type PrimaryState } from './primary-protocol.js';

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

export const DEFAULT_SHIPPING_LIMITS: ShippingLimits = { snapshotBatchRecords: 256, logBatchEntries: 512, catchUpFramesPerTurn: 8, livePendingEntriesMax: 20_000, livePendingBytesMax: 8 * 1024 * 1024 };

type JoinFrame = Extract<BackupFrame, { kind: 'join' }>;

export class PrimaryReplicator {
  private readonly protocol: PrimaryState;
  private readonly links = new Map<string, BackupLink>();
  /** The snapshot being streamed to each link (its read transaction). */
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly runner: StepRunner<PrimaryEvent, PrimaryAction>;
  private readonly unsubscribe: () => void;
  private confirmCheck: TimerHandle | null = null;
  private readonly governor: CatchUpGovernor | null;

  constructor(private readonly deps: PrimaryReplicatorDeps) {
    const { clock, confirmTimeoutMs } = deps;
    this.protocol = initialPrimaryState({
      name: deps.name,
      publicAddress: deps.publicAddress,
      epoch: deps.epoch,
      defaultReplicateLevel: deps.defaultReplicateLevel,
      acceptBackups: deps.acceptBackups ?? true,
      clusterSize: deps.clusterSize ?? null,
      promotedAfterTotalFailure: deps.promotedAfterTotalFailure ?? false,
      totalFailureResync: deps.totalFailureResync ?? 'wipe',
      limits: deps.limits ?? DEFAULT_SHIPPING_LIMITS,
      confirmTimeoutMs: clock && confirmTimeoutMs ? confirmTimeoutMs : null,
    });
    this.runner = new StepRunner((event) => step(this.protocol, event), (action) => this.perform(action));
    // Every commit passes here: with no backup connected there is nothing to step.
    this.unsubscribe = deps.store.onCommitted((entries) => {
      if (this.protocol.sessions.size > 0) this.feed({ kind: 'committed', entries, nowMs: this.nowMs(), capacities: this.capacities() });
    });
    this.scheduleConfirmCheck();
    const { catchUp } = deps;
    this.governor =
      catchUp && clock
        ? new CatchUpGovernor({
            clock,
            logger: deps.logger,
            policy: catchUp.policy,
            pauseProducers: catchUp.pauseProducers,
            samples: () => {
              const { lastLsn, logBytes } = deps.store.meta();
              return catchUpSamples(this.protocol, lastLsn, logBytes);
            },
          })
        : null;
  }

  get epoch(): number {
    return this.deps.epoch;
  }

  members(): MemberInfo[] {
    return members(this.protocol);
  }

  /** Each backup's lag behind this primary (replica queues are not backups: not listed). */
  lag(): BackupLag[] {
    const lastLsn = this.deps.store.meta().lastLsn;
    const nowMs = this.nowMs();
    return backupSessions(this.protocol).map((s) => ({
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

  readyBackups(): string[] {
    return backupSessions(this.protocol)
      .filter((s) => s.state === 'ready')
      .map((s) => s.name);
  }

  /** Replica queues following this broker: the queue and who follows it. */
  replicas(): { queue: string; replica: string; confirmedLsn: number }[] {
    return [...this.protocol.sessions.values()].filter((s) => s.replicaOf !== null).map((s) => ({ queue: s.replicaOf as string, replica: s.name, confirmedLsn: s.confirmedLsn }));
  }

  /** A backup's `join` arrived on a new link. */
  join(link: BackupLink, join: Omit<JoinFrame, 'kind' | 'epoch'>): void {
    this.links.set(link.id, link);
    const { storeId, lastLsn, firstLsn, epochHistory } = this.deps.store.meta();
    const member = this.deps.memberAddress ? this.deps.memberAddress(link.remoteAddress) : true;
    this.feed({ kind: 'join', linkId: link.id, remoteAddress: link.remoteAddress, member, join, store: { storeId, lastLsn, firstLsn, epochHistory }, nowMs: this.nowMs(), capacities: this.capacities() });
  }

  /** A frame from a backup after its join. */
  frame(linkId: string, frame: Exclude<BackupFrame, { kind: 'join' }>): void {
    if (frame.kind === 'confirm') this.confirm(linkId, frame.lsn);
    else this.feed({ kind: 'catalog', linkId, frame, nowMs: this.nowMs(), capacities: this.capacities() });
  }

  /** A backup confirmed that `lsn` is durable in its store. */
  confirm(linkId: string, lsn: number): void {
    this.feed({ kind: 'confirm', linkId, lsn, nowMs: this.nowMs(), capacities: this.capacities() });
  }

  /** The link has credit again. Links report it after every send; only a session that stopped
   * for credit, or holds live entries, has a use for it. */
  writable(linkId: string): void {
    const session = this.protocol.sessions.get(linkId);
    if (!session || !(session.creditWait || (session.phase === 'live' && session.pending.length > 0))) return;
    this.feed({ kind: 'writable', linkId, nowMs: this.nowMs(), capacities: this.capacities() });
  }

  /** The backup's link closed or its heartbeat lapsed: it leaves the gate at once. */
  lost(linkId: string, reason: string): void {
    this.feed({ kind: 'lost', linkId, reason });
  }

  stop(): void {
    this.confirmCheck?.cancel();
    this.governor?.stop();
    this.unsubscribe();
    this.feed({ kind: 'stop' });
  }

  private nowMs(): number {
    return this.deps.clock ? this.deps.clock.monotonicMs() : performance.now();
  }

  private capacities(): Capacities {
    const capacities: Record<string, number> = {};
    for (const [id, link] of this.links) capacities[id] = link.capacity();
    return capacities;
  }

  private scheduleConfirmCheck(): void {
    const { clock } = this.deps;
    const timeoutMs = this.protocol.config.confirmTimeoutMs;
    if (!clock || timeoutMs === null || this.protocol.stopped) return;
    this.confirmCheck = clock.setTimer(confirmCheckPeriodMs(timeoutMs), () => {
      this.feed({ kind: 'tick', nowMs: clock.monotonicMs() });
      this.scheduleConfirmCheck();
    });
  }

  private feed(event: PrimaryEvent): void {
    this.runner.feed(event);
  }

  private perform(action: PrimaryAction): void {
    switch (action.kind) {
      case 'send':
        this.links.get(action.linkId)?.send(action.frame);
        return;
      case 'close': {
        const link = this.links.get(action.linkId);
        this.links.delete(action.linkId);
        this.closeSnapshot(action.linkId);
        link?.close(action.reason);
        return;
      }
      case 'open-snapshot':
        this.openSnapshot(action.linkId);
        return;
      case 'read-snapshot':
        this.readSnapshot(action.linkId, action.maxRecords);
        return;
      case 'close-snapshot':
        this.closeSnapshot(action.linkId);
        return;
      case 'read-log':
        this.readLog(action.linkId, action.fromLsn, action.maxEntries);
        return;
      case 'yield': {
        const resume = (): void => this.feed({ kind: 'turn', linkId: action.linkId, nowMs: this.nowMs(), capacities: this.capacities() });
        if (this.deps.clock) this.deps.clock.nextTurn(resume);
        else setImmediate(resume);
        return;
      }
      case 'gate-add':
        this.deps.settlements.addBackup(action.backup, action.gateLsn, action.confirmedLsn);
        return;
      case 'gate-confirm':
        this.deps.settlements.backupConfirmed(action.backup, action.lsn);
        return;
      case 'gate-remove':
        this.deps.settlements.removeBackup(action.backup, action.wasReady);
        return;
      case 'retention':
        this.applyRetention(action.floor, action.undoFloor);
        return;
      case 'confirm-latency':
        this.deps.instruments?.confirmLatency(action.backup, action.ms / 1000);
        return;
      case 'shipped-to-gate': {
        // A turn later the frame has been written to the socket: the window between shipped
        // and confirmed is open (only for a backup in the gate, whose confirmation settles
        // producers).
        const fire = (): void => crashPoint('ha.primary.after-ship-before-confirm');
        if (this.deps.clock) this.deps.clock.nextTurn(fire);
        else setImmediate(fire);
        return;
      }
      case 'membership':
        this.deps.onMembership();
        return;
      case 'catch-up-started':
        this.governor?.wake();
        return;
      case 'stale':
        this.deps.onStale(action.reason);
        return;
      case 'log':
        this.deps.logger[action.level](action.fields, action.msg);
        return;
    }
  }

  private applyRetention(floor: number | null, undoFloor: number | null): void {
    this.deps.store.setRetentionFloor(floor);
    this.deps.store.setUndoFloor(undoFloor);
  }

  private openSnapshot(linkId: string): void {
    let snapshot: Snapshot;
    try {
      snapshot = this.deps.store.snapshot();
    } catch (err) {
      this.feed({ kind: 'read-failed', linkId, truncated: false, error: (err as Error).message });
      return;
    }
    this.snapshots.set(linkId, snapshot);
    this.feed({ kind: 'snapshot-opened', linkId, lsn: snapshot.lsn, lastMessageId: snapshot.lastMessageId, epochHistory: snapshot.epochHistory, nowMs: this.nowMs(), capacities: this.capacities() });
  }

  /** Reads the next records of a snapshot. Synchronous: the 'snapshot-read' it feeds waits in
   * the step runner's queue until the actions of the current step are carried out. */
  private readSnapshot(linkId: string, maxRecords: number): void {
    const snapshot = this.snapshots.get(linkId);
    if (!snapshot) return;
    let read: ReturnType<Snapshot['read']>;
    try {
      read = snapshot.read(maxRecords, FRAME_HEADER_BYTES);
    } catch (err) {
      this.feed({ kind: 'read-failed', linkId, truncated: false, error: (err as Error).message });
      return;
    }
    const lastPositions = read.done ? snapshot.lastPositions : null;
    this.feed({ kind: 'snapshot-read', linkId, records: read.records, lastPositions, nowMs: this.nowMs(), capacities: this.capacities() });
  }

  private closeSnapshot(linkId: string): void {
    const snapshot = this.snapshots.get(linkId);
    if (!snapshot) return;
    this.snapshots.delete(linkId);
    snapshot.close();
  }

  /** Reads the log from `fromLsn`: at most `maxEntries`, unless a transaction runs on (it is
   * shipped whole, units.ts), and nothing past the store's last LSN as of now. */
  private readLog(linkId: string, fromLsn: number, maxEntries: number): void {
    const lastLsn = this.deps.store.meta().lastLsn;
    if (fromLsn > lastLsn) {
      this.feed({ kind: 'log-read', linkId, entries: [], lastLsn, nowMs: this.nowMs(), capacities: this.capacities() });
      return;
    }
    const read = async (): Promise<LogEntry[]> => {
      const entries: LogEntry[] = [];
      for await (const entry of this.deps.store.readLog(fromLsn, { toLsn: Math.min(lastLsn, fromLsn + maxEntries - 1) })) entries.push(entry);
      const unitEnd = openUnitEnd(entries);
      const last = entries[entries.length - 1];
      if (unitEnd !== null && last) for await (const entry of this.deps.store.readLog(entryLastLsn(last) + 1, { toLsn: unitEnd })) entries.push(entry);
      return entries;
    };
    read().then(
      (entries) => this.feed({ kind: 'log-read', linkId, entries, lastLsn, nowMs: this.nowMs(), capacities: this.capacities() }),
      (err: unknown) => this.feed({ kind: 'read-failed', linkId, truncated: isStoreError(err, 'STORE_LOG_TRUNCATED'), error: (err as Error).message }),
    );
  }
}
