// The backup replication protocol's vocabulary (backup-protocol.ts): its configuration, the
// events the driver (backup.ts) feeds it, the actions it returns, and its state. Types only,
// and the initial state.

import type { EpochStart, LogEntry, StoreRecord } from '../../store/index.js';
import type { QpidAddress } from '../core/qpid-url.js';
import type { Heard } from './heard.js';
import type { BackupFrame, CatalogNode, MemberInfo, PrimaryFrame } from './messages.js';

export type BackupState = 'joining' | 'catchup' | 'ready';

export type ChannelClosed =
  | { readonly kind: 'redirect'; readonly address: string }
  | { readonly kind: 'refused'; readonly description: string }
  | { readonly kind: 'lost'; readonly description: string };

export interface PrimaryInfo {
  readonly name: string;
  readonly epoch: number;
  readonly address: string;
  readonly publicAddress: string | null;
}

export interface BackupProtocolConfig {
  readonly name: string;
  /** This broker's own address as it appears in ha-brokers-url (skipped), if known. */
  readonly selfAddress: string | null;
  readonly addresses: readonly QpidAddress[];
  readonly maintenanceIntervalMs: number;
  /** --link-heartbeat-interval: the primary drops a backup silent for twice this. */
  readonly heartbeatMs: number;
  /** --ha-confirm-timeout (0: none). A freeze longer than this or the heartbeat may have cost
   * the backup its place in the gate. */
  readonly confirmTimeoutMs: number;
}

/** The store as the protocol needs to see it when a frame is handled. */
export interface StoreView {
  readonly storeId: string;
  readonly epoch: number;
  readonly lastLsn: number;
  readonly epochHistory: readonly EpochStart[];
  readonly snapshotIncomplete: boolean;
}

export interface Catalog {
  readonly queues: CatalogNode[];
  readonly exchanges: CatalogNode[];
}

/** A store operation; the driver reports how it ended (`store-done`, or a failure). */
export type StoreOp =
  | { readonly kind: 'wipe' }
  | { readonly kind: 'truncate'; readonly lsn: number }
  | { readonly kind: 'begin-snapshot'; readonly lsn: number; readonly epoch: number; readonly lastMessageId: number; readonly epochHistory: readonly EpochStart[] }
  | { readonly kind: 'apply-snapshot'; readonly records: readonly StoreRecord[] }
  | { readonly kind: 'end-snapshot'; readonly lastPositions: Readonly<Record<string, number>> }
  /** Pipelined: done once appended; its durability comes later as `durable`. */
  | { readonly kind: 'append'; readonly entries: readonly LogEntry[] };

export type BackupEvent =
  | { readonly kind: 'start' }
  /** The attempt timer fired. */
  | { readonly kind: 'attempt'; readonly nowMs: number }
  | { readonly kind: 'opened'; readonly generation: number; readonly nowMs: number }
  /** Every store operation of earlier connections has finished and is durable: the join can
   * say where the log ends. */
  | { readonly kind: 'join-ready'; readonly generation: number; readonly store: StoreView; readonly catalog: Catalog; readonly epochSeen: number }
  | { readonly kind: 'frame-arrived'; readonly generation: number; readonly nowMs: number }
  /** A frame's turn on the store's chain has come. */
  | { readonly kind: 'frame'; readonly generation: number; readonly frame: PrimaryFrame; readonly store: StoreView; readonly epochSeen: number; readonly nowMs: number }
  /** The store operation asked for finished; `lastLsn` is the store's after it. */
  | { readonly kind: 'store-done'; readonly generation: number; readonly op: StoreOp['kind']; readonly lastLsn: number; readonly nowMs: number }
  /** The truncation was refused: the entries cannot be taken back (STORE_UNDO_MISSING). */
  | { readonly kind: 'truncate-refused'; readonly generation: number; readonly error: string; readonly nowMs: number }
  /** A frame's handling failed (a store error, or a frame the store refused), with its code. */
  | { readonly kind: 'failed'; readonly generation: number; readonly code: string | null; readonly error: string; readonly nowMs: number }
  /** An appended frame is durable through `lastLsn`. */
  | { readonly kind: 'durable'; readonly generation: number; readonly lastLsn: number; readonly nowMs: number }
  | { readonly kind: 'closed'; readonly generation: number; readonly reason: ChannelClosed; readonly nowMs: number }
  | { readonly kind: 'watchdog'; readonly nowMs: number }
  /** A cluster manager says where the primary now is (acceptsHint said yes). */
  | { readonly kind: 'hint'; readonly address: string; readonly nowMs: number }
  /** This store must be resynced in full (a failed apply, corruption found). */
  | { readonly kind: 'resync'; readonly reason: string; readonly nowMs: number }
  | { readonly kind: 'stop' };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export type BackupAction =
  | { readonly kind: 'connect'; readonly generation: number; readonly address: QpidAddress; readonly expectPromotion: boolean }
  /** The current channel is done with: close it (`close`), or only forget it (it closed itself). */
  | { readonly kind: 'drop-channel'; readonly close: boolean }
  | { readonly kind: 'send'; readonly frame: BackupFrame }
  /** Send the store's catalog at `lsn` (what it holds after a truncation), built by the driver. */
  | { readonly kind: 'send-catalog'; readonly epoch: number; readonly lsn: number }
  /** Feed `join-ready` once the store's chain and the last append are settled. */
  | { readonly kind: 'join-when-settled'; readonly generation: number }
  | { readonly kind: 'store'; readonly generation: number; readonly op: StoreOp }
  | { readonly kind: 'set-timer'; readonly delayMs: number }
  | { readonly kind: 'cancel-timer' }
  | { readonly kind: 'watchdog-start'; readonly periodMs: number }
  | { readonly kind: 'watchdog-stop' }
  | { readonly kind: 'state'; readonly state: BackupState }
  | { readonly kind: 'primary'; readonly primary: PrimaryInfo | null }
  | { readonly kind: 'members'; readonly members: readonly MemberInfo[] }
  | { readonly kind: 'note-epoch'; readonly epoch: number }
  | { readonly kind: 'heard'; readonly heard: Heard; readonly urgent: boolean }
  | { readonly kind: 'crash-point'; readonly name: 'ha.backup.mid-snapshot' | 'ha.backup.after-apply-before-confirm' }
  | { readonly kind: 'fatal'; readonly error: string }
  | { readonly kind: 'log'; readonly level: LogLevel; readonly fields: Record<string, unknown>; readonly msg: string };

export interface BackupProtocolState {
  readonly config: BackupProtocolConfig;
  state: BackupState;
  primary: PrimaryInfo | null;
  /** Whether a channel exists (connecting or open). */
  channel: boolean;
  connectedTo: string | null;
  /** Identifies the current connection: what an older one reports changes nothing. */
  generation: number;
  nextAddressIndex: number;
  /** Where a redirect pointed. */
  preferred: string | null;
  /** Where the cluster manager says the primary is (or is being promoted), until when. */
  hinted: { readonly address: QpidAddress; readonly untilMs: number } | null;
  /** Until when (monotonic ms) a lost primary is looked for every SEEK_INTERVAL_MS. */
  seekUntilMs: number;
  readonly selfAddresses: Set<string>;
  confirmed: number;
  /** Why this store must be resynced in full: the next join asks for a snapshot. */
  resyncReason: string | null;
  /** Why the last attempt was refused for who we are (SASL or the ACL), until one succeeds. */
  authRefusal: string | null;
  readonly authRefusalsLogged: Set<string>;
  /** The last primary refused because its history does not hold this store's past. */
  historyRefusal: string | null;
  refusedPrimary: string | null;
  /** A truncation that could not be done: the wipe that follows it ends the connection. */
  wipeThenDrop: string | null;
  /** An incremental catch-up's truncation under way: what follows it needs. */
  truncation: { readonly lsn: number; readonly before: number; readonly name: string; readonly epoch: number; readonly lastLsn: number; readonly catalogFromJoin: boolean } | null;
  /** Watchdog: the longest this process went without running (timer lateness) since the last
   * frame from the primary, when it last ticked, and when it last noticed a stall. */
  longestStallMs: number;
  lastTickMs: number;
  stallNoticedAtMs: number;
  stopped: boolean;
}

export function initialBackupState(config: BackupProtocolConfig, initial: BackupState, initialResync: string | null): BackupProtocolState {
  return {
    config,
    state: initial,
    primary: null,
    channel: false,
    connectedTo: null,
    generation: 0,
    nextAddressIndex: 0,
    preferred: null,
    hinted: null,
    seekUntilMs: Number.NEGATIVE_INFINITY,
    selfAddresses: new Set(config.selfAddress ? [config.selfAddress] : []),
    confirmed: 0,
    resyncReason: initialResync,
    authRefusal: null,
    authRefusalsLogged: new Set(),
    historyRefusal: null,
    refusedPrimary: null,
    wipeThenDrop: null,
    truncation: null,
    longestStallMs: 0,
    lastTickMs: 0,
    stallNoticedAtMs: Number.NEGATIVE_INFINITY,
    stopped: false,
  };
}
