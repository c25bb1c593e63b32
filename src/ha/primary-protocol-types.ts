// The primary replication protocol's vocabulary (primary-protocol.ts): its configuration, the
// events the driver (primary.ts) feeds it, the actions it returns, and the state it keeps per
// backup. Types only, and the initial state.

import type { ShippingLimits } from '../config/broker-config.js';
import type { EpochStart, LogEntry, StoreRecord } from '../../store/index.js';
import type { ReplicateLevel } from '../broker/queue.js';
import type { CatchUp, TotalFailureResync } from './catch-up.js';
import type { RecordFilter } from './filter.js';
import type { BackupFrame, PrimaryFrame } from './messages.js';
import type { HaState } from './role.js';
import type { ShipLedger } from './ship-ledger.js';

export interface PrimaryProtocolConfig {
  readonly name: string;
  readonly publicAddress: string | null;
  readonly epoch: number;
  readonly defaultReplicateLevel: ReplicateLevel;
  /** False on a standalone broker: it serves replica queues only (reference §1.13). */
  readonly acceptBackups: boolean;
  /** Brokers in --ha-brokers-url (null: unknown): while some are not connected, the log is kept
   * for them. */
  readonly clusterSize: number | null;
  /** This primary was promoted from joining (the whole cluster had failed): backups from before
   * resync by --ha-total-failure-resync. */
  readonly promotedAfterTotalFailure: boolean;
  readonly totalFailureResync: TotalFailureResync;
  readonly limits: ShippingLimits;
  /** --ha-confirm-timeout in ms, or null when the driver has no clock to check it with. */
  readonly confirmTimeoutMs: number | null;
}

/** The store's positions as of the event (its meta). */
export interface StorePosition {
  readonly storeId: string;
  readonly lastLsn: number;
  readonly firstLsn: number;
  readonly epochHistory: readonly EpochStart[];
}

/** Frames each link may take now without queueing (its credit), by link id. */
export type Capacities = Readonly<Record<string, number>>;

export type JoinFrame = Extract<BackupFrame, { kind: 'join' }>;
export type CatalogFrame = Extract<BackupFrame, { kind: 'catalog' }>;

export type PrimaryEvent =
  | { readonly kind: 'join'; readonly linkId: string; readonly remoteAddress: string; readonly member: boolean; readonly join: Omit<JoinFrame, 'kind' | 'epoch'>; readonly store: StorePosition; readonly nowMs: number; readonly capacities: Capacities }
  | { readonly kind: 'catalog'; readonly linkId: string; readonly frame: CatalogFrame; readonly nowMs: number; readonly capacities: Capacities }
  | { readonly kind: 'confirm'; readonly linkId: string; readonly lsn: number; readonly nowMs: number; readonly capacities: Capacities }
  /** The link has credit again. */
  | { readonly kind: 'writable'; readonly linkId: string; readonly nowMs: number; readonly capacities: Capacities }
  /** The link closed or its heartbeat lapsed. */
  | { readonly kind: 'lost'; readonly linkId: string; readonly reason: string }
  | { readonly kind: 'committed'; readonly entries: readonly LogEntry[]; readonly nowMs: number; readonly capacities: Capacities }
  | { readonly kind: 'snapshot-opened'; readonly linkId: string; readonly lsn: number; readonly lastMessageId: number; readonly epochHistory: readonly EpochStart[]; readonly nowMs: number; readonly capacities: Capacities }
  /** Up to the asked number of the snapshot's records, in order; `lastPositions` once it is done. */
  | { readonly kind: 'snapshot-read'; readonly linkId: string; readonly records: readonly StoreRecord[]; readonly lastPositions: Readonly<Record<string, number>> | null; readonly nowMs: number; readonly capacities: Capacities }
  /** The log from the asked LSN: whole transactions, up to the store's last LSN then (`lastLsn`);
   * empty when nothing is left. */
  | { readonly kind: 'log-read'; readonly linkId: string; readonly entries: readonly LogEntry[]; readonly lastLsn: number; readonly nowMs: number; readonly capacities: Capacities }
  /** The log no longer reaches the asked LSN (truncated), or the read failed. */
  | { readonly kind: 'read-failed'; readonly linkId: string; readonly truncated: boolean; readonly error: string }
  /** A turn given up to other I/O (a `yield` action) has passed. */
  | { readonly kind: 'turn'; readonly linkId: string; readonly nowMs: number; readonly capacities: Capacities }
  /** The confirmation check (every confirmCheckPeriodMs). */
  | { readonly kind: 'tick'; readonly nowMs: number }
  | { readonly kind: 'stop' };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type PrimaryAction =
  | { readonly kind: 'send'; readonly linkId: string; readonly frame: PrimaryFrame }
  | { readonly kind: 'close'; readonly linkId: string; readonly reason: string }
  | { readonly kind: 'open-snapshot'; readonly linkId: string }
  | { readonly kind: 'read-snapshot'; readonly linkId: string; readonly maxRecords: number }
  | { readonly kind: 'close-snapshot'; readonly linkId: string }
  | { readonly kind: 'read-log'; readonly linkId: string; readonly fromLsn: number; readonly maxEntries: number }
  /** Let other I/O run, then feed `turn` (the catch-up's pace: --ha-catchup-frames-per-turn). */
  | { readonly kind: 'yield'; readonly linkId: string }
  /** The ack gate (Settlements): a backup enters it at gateLsn, confirms, or leaves. */
  | { readonly kind: 'gate-add'; readonly backup: string; readonly gateLsn: number; readonly confirmedLsn: number }
  | { readonly kind: 'gate-confirm'; readonly backup: string; readonly lsn: number }
  /** `wasReady`: it was promotable when it left (its departure may have to be recorded). */
  | { readonly kind: 'gate-remove'; readonly backup: string; readonly wasReady: boolean }
  | { readonly kind: 'retention'; readonly floor: number | null; readonly undoFloor: number | null }
  | { readonly kind: 'confirm-latency'; readonly backup: string; readonly ms: number }
  /** Log records were shipped to a backup in the gate: the shipped-not-confirmed window opens
   * a turn later, once they are on the socket (the crash point ha.primary.after-ship-before-confirm). */
  | { readonly kind: 'shipped-to-gate' }
  /** A backup joined, became ready, or left. */
  | { readonly kind: 'membership' }
  /** A backup catching up joined (the catch-up governor looks again). */
  | { readonly kind: 'catch-up-started' }
  /** A backup has seen a higher epoch than ours: this primary is stale. */
  | { readonly kind: 'stale'; readonly reason: string }
  | { readonly kind: 'log'; readonly level: LogLevel; readonly fields: Record<string, unknown>; readonly msg: string };

/** catalog: an incremental catch-up, waiting for the backup to say what it holds (messages.ts). */
export type Phase = 'catalog' | 'snapshot' | 'backlog' | 'live' | 'closed';

/** What a session waits for before it can go on (besides credit). */
export type Awaiting = 'none' | 'catalog' | 'snapshot-open' | 'snapshot-read' | 'log-read' | 'turn';

export interface SessionState {
  readonly linkId: string;
  readonly name: string;
  readonly storeId: string;
  readonly address: string | null;
  readonly filter: RecordFilter;
  /** A replica queue's session (reference §1.13), not a backup: one queue's records, never in
   * the ack gate, not a member of the cluster. */
  readonly replicaOf: string | null;
  phase: Phase;
  awaiting: Awaiting;
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
  /** An incremental catch-up from where the backup's log ends: its join's catalog is what it
   * holds, and no catalog frame comes (hello.catalogFromJoin). */
  readonly joinCatalog: Pick<CatalogFrame, 'queues' | 'exchanges'> | null;
  /** The snapshot: whether its begin frame went out, records filtered and not yet sent, and its
   * last positions once every record was read. */
  snapshotBegin: { readonly lsn: number; readonly lastMessageId: number; readonly epochHistory: readonly EpochStart[] } | null;
  snapshotBegun: boolean;
  snapshotBatch: StoreRecord[];
  snapshotLastPositions: Readonly<Record<string, number>> | null;
  /** Log entries read for the backlog and not yet sent (waiting for credit). */
  backlog: readonly LogEntry[] | null;
  /** Catch-up frames sent since the last yield. */
  framesThisTurn: number;
  /** It stopped for want of credit: the `writable` event goes on. */
  creditWait: boolean;
}

export interface PrimaryState {
  readonly config: PrimaryProtocolConfig;
  /** By link id. */
  readonly sessions: Map<string, SessionState>;
  stopped: boolean;
}

export function initialPrimaryState(config: PrimaryProtocolConfig): PrimaryState {
  return { config, sessions: new Map(), stopped: false };
}
