// The store contract. Two implementations obey it and pass one suite (test/contract/):
// LmdbStore (lmdb-store.ts, the broker's write-ahead store on disk) and MemoryStore
// (memory-store.ts, used by the deterministic simulator, whose crash() drops what was not yet
// durable). The broker, the HA module and the tools see only this interface.
//
// Invariants every implementation keeps:
// - Every mutation is one atomic step that appends its records to the log (LSNs contiguous,
//   starting at 1) and applies them to the tables; log and tables never disagree.
// - LSNs are assigned synchronously by commit(), in call order. A failed commit (full disk)
//   fails every commit queued behind it too, and the next commit reuses the failed LSNs, so the
//   log stays contiguous. onRollback listeners hear of it before any later commit can take them.
// - `durable` resolves only once the records would survive a crash of the process (and, with
//   sync 'fsync', of the machine). Nothing may be settled to a client before that.

import type { DedupRow } from './apply.js';
import type { EpochStart } from './epoch-history.js';
import type { QuarantinedMessage, RecoveryReport } from './recovery.js';
import type {
  BindRecord,
  ExchangeDeclareRecord,
  LogEntry,
  QueueDeclareRecord,
  StoreRecord,
} from './record.js';

/** 2: every value carries a CRC-32 (issue 16). 3: dedup records and the dedup table (issue 12's
 * qpid.dedup_window); a format 2 store is upgraded in place on its first writable open (it
 * only lacks the table, which opens empty). Format 1 stores are refused (STORE_OLDER_FORMAT). */
export const STORE_FORMAT_VERSION = 3;

/** The oldest format this broker opens (and upgrades to STORE_FORMAT_VERSION). */
export const STORE_FORMAT_VERSION_MIN = 2;

export type SyncPolicy = 'fsync' | 'none';

/** The HA role a store's broker last had, kept so that a manager can pick the most recent store
 * after a total cluster failure. */
export type StoreRole = 'standalone' | 'primary' | 'backup';

export interface StoreMeta {
  /** Random identity created with the store; survives wipe(). */
  readonly storeId: string;
  readonly formatVersion: number;
  /** Highest cluster epoch seen (set by epoch records, or by a snapshot). 0 if never in a cluster. */
  readonly epoch: number;
  /** Each epoch this store holds records of, with its first LSN, oldest first (epoch-history.ts);
   * kept when retention drops the epoch records themselves. */
  readonly epochHistory: readonly EpochStart[];
  /** First LSN still in the log (retention point); lastLsn + 1 when the log is empty. */
  readonly firstLsn: number;
  /** Highest committed LSN; 0 for an empty store. */
  readonly lastLsn: number;
  /** Bytes of encoded records currently in the log. */
  readonly logBytes: number;
  /** Highest message id ever allocated or applied. */
  readonly lastMessageId: number;
  readonly lastRole: StoreRole;
  /** The HA state name the broker last reported (joining, catchup, ready, ...). */
  readonly haState: string;
  /** True between beginSnapshot() and endSnapshot(): the tables are a partial copy. */
  readonly snapshotIncomplete: boolean;
  /** Every entry from this LSN to lastLsn can be taken back (truncateAfter): this store wrote it
   * and still holds its undo (undo.ts). lastLsn + 1 when none can. */
  readonly undoFromLsn: number;
}

export interface QueueState {
  readonly declare: QueueDeclareRecord;
  /** Messages currently enqueued. */
  readonly count: number;
  /** Sum of the sizes (encoded bytes) of the enqueued messages. */
  readonly bytes: number;
  /** Highest position ever enqueued on this queue (0 if none); survives the queue emptying. */
  readonly lastPosition: number;
}

/** One entry of a queue's index: enough to deliver, expire or account for a message without
 * reading its body. */
export interface QueueEntry {
  readonly queue: string;
  readonly position: number;
  readonly messageId: number;
  readonly size: number;
  readonly persistent: boolean;
  readonly expiresAtMs: number | null;
  /** Set when the index entry failed its checksum or did not decode: the other fields are not to
   * be trusted (messageId is 0). The broker quarantines the position. */
  readonly damaged?: string;
}

export interface CommitTicket {
  readonly firstLsn: number;
  readonly lastLsn: number;
  /** Resolves when the records are visible to readers (readLog, snapshot, reads). */
  readonly committed: Promise<void>;
  /** Resolves when the records are durable. Rejects (with a StoreError) exactly when
   * `committed` rejects; awaiting only one of them is safe (the other never goes unhandled). */
  readonly durable: Promise<void>;
  /** Calls `listener` once, in a later microtask, if the commit fails (with the error
   * `committed` rejects with), creating no promise: the broker watches every enqueue for
   * failure, and a promise with its reaction per message was garbage on the hot path. */
  onFailed(listener: (err: unknown) => void): void;
}

export interface Snapshot {
  /** The view is consistent as of this LSN: the log continues at lsn + 1. */
  readonly lsn: number;
  readonly epoch: number;
  readonly lastMessageId: number;
  /** The epoch history of the store up to `lsn`: the backup that applies the snapshot adopts it. */
  readonly epochHistory: readonly EpochStart[];
  /** Each queue's highest position ever enqueued, which its records do not show once consumed
   * messages are gone: a backup must continue positions where its primary does. */
  readonly lastPositions: Readonly<Record<string, number>>;
  /** Declares, bindings and enqueues (enqueue records carry their message once, with every
   * queue and position that holds it) in an order that can be applied front to back:
   * exchanges, queues, bindings, then messages. */
  records(): AsyncIterable<StoreRecord>;
  /** The same records, up to `maxRecords` at a time, continuing where the last read stopped;
   * `done` once there are no more. Synchronous: a snapshot of 10^6 messages read through
   * records() paid a promise and a microtask per record, in the primary's hottest catch-up loop.
   * The records are encoded as they are read into one buffer, the replication frame that
   * takeFrame gives whoever encodes exactly these records with `frameHeadroom` bytes in front
   * (records-frame.ts); their bodies point into it. */
  read(maxRecords: number, frameHeadroom?: number): { readonly records: StoreRecord[]; readonly done: boolean };
  /** Releases the read transaction; safe to call twice. */
  close(): void;
}

export interface ReadLogOptions {
  /** Stop after this LSN (inclusive). Defaults to the last LSN committed when iteration starts. */
  readonly toLsn?: number;
}

export interface Store {
  meta(): StoreMeta;

  /** A fresh message id; ids are never reused by a store, including across restarts. */
  allocateMessageId(): number;

  /** Appends the records, assigning consecutive LSNs, and applies them. Throws synchronously
   * (STORE_READ_ONLY, STORE_CLOSED) when it cannot even start. */
  commit(records: readonly StoreRecord[]): CommitTicket;

  /** The LSN the next commit() will be given: LSNs are assigned synchronously in call order, so
   * a caller building one commit out of several steps (a transaction) knows each step's LSNs. */
  nextLsnToAssign(): number;

  /** Withdraws a local enqueue record whose batch has not started yet, replacing it by a skip
   * record for its LSN: the message was consumed before it was written, so it never needs to
   * reach the disk (the log keeps its LSNs contiguous). True if withdrawn; the caller then owes
   * no dequeue record for it. False once its batch has started (or for any other record). */
  retract(lsn: number): boolean;

  /** Backup side: appends records received from the primary, keeping their LSNs. The first
   * entry must be lastLsn + 1 and each next one must follow the previous entry's last LSN
   * (entryLastLsn: a skip record spans several), else STORE_LSN_GAP, thrown synchronously.
   * commit() never writes skip records; only replicated entries carry them. */
  appendReplicated(entries: readonly LogEntry[]): CommitTicket;

  /** Committed log entries from `fromLsn` up to options.toLsn or the last LSN at the time of the
   * call, in order. fromLsn < firstLsn throws STORE_LOG_TRUNCATED (the reader needs a snapshot). */
  readLog(fromLsn: number, options?: ReadLogOptions): AsyncIterable<LogEntry>;

  /** Calls `listener` after every commit with the newly committed entries, in LSN order. Returns
   * an unsubscribe function. Used by the primary to tail the log without re-reading it. */
  onCommitted(listener: (entries: readonly LogEntry[]) => void): () => void;

  /** Calls `listener` each time commits become durable, with the highest durable LSN (every
   * LSN up to it is durable: durability is reached in LSN order). One call per group commit, so
   * waiting for durability costs nothing per record. Returns an unsubscribe function. */
  onDurable(listener: (lastLsn: number) => void): () => void;

  /** Calls `listener` synchronously when a failed commit gives its LSNs back: nothing above
   * `lastLsn` was committed, and the next commit() is assigned lastLsn + 1 again. It runs before
   * any later commit() can take those LSNs, so that state keyed by them (the ack gate's holds)
   * can forget the failed ones first. Returns an unsubscribe function. */
  onRollback(listener: (lastLsn: number) => void): () => void;

  /** True from a commit that failed with STORE_FULL until a commit succeeds. */
  readonly full: boolean;
  /** Calls `listener` on each change of `full` (once per transition). */
  onFullChange(listener: (full: boolean) => void): () => void;

  /** Takes the log and the tables back to their state just after `lsn` (the divergence point
   * with a new primary): rejects with STORE_UNDO_MISSING, changing nothing, when an entry after
   * `lsn` cannot be undone (lsn + 1 < meta().undoFromLsn). Waits for in-flight commits. */
  truncateAfter(lsn: number): Promise<void>;

  /** Undo at or below `lsn` is no longer needed (every backup in the gate confirmed it). */
  setUndoFloor(lsn: number | null): void;

  /** Drops log entries below `lsn` (never above lastLsn + 1). Tables are unaffected. */
  truncateLogBefore(lsn: number): Promise<void>;

  /** The lowest LSN some reader (a backup) still needs; automatic retention keeps entries from
   * it on, unless the log grows beyond logMaxBytes, in which case the oldest entries go anyway.
   * null: no reader; retention is bounded by size only. */
  setRetentionFloor(lsn: number | null): void;

  /** A consistent view at one LSN, read from a single read transaction while writes go on. */
  snapshot(): Snapshot;

  /** Empties every table and the log, keeping storeId (and meta.epoch, so that fencing still
   * knows the highest epoch this broker saw). Waits for in-flight commits first. */
  wipe(): Promise<void>;

  /** Backup side of a snapshot: after wipe(), apply the snapshot's records, then end it; the log
   * then continues at `lsn + 1`. A crash in between leaves meta.snapshotIncomplete true. */
  beginSnapshot(lsn: number, epoch: number, lastMessageId: number, epochHistory?: readonly EpochStart[]): Promise<void>;
  applySnapshotRecords(records: readonly StoreRecord[]): Promise<void>;
  /** Ends the snapshot; `lastPositions` (the snapshot's) raises each queue's last position. */
  endSnapshot(lastPositions?: Readonly<Record<string, number>>): Promise<void>;

  /** Records the broker's role and HA state in meta (durable, not logged). */
  setRole(role: StoreRole, haState: string): Promise<void>;

  queues(): QueueState[];
  queue(name: string): QueueState | undefined;
  exchanges(): ExchangeDeclareRecord[];
  bindings(): BindRecord[];
  /** Up to `limit` index entries of `queue` with position > afterPosition, in position order. */
  readQueue(queue: string, afterPosition: number, limit: number): QueueEntry[];
  /** The stored body of a message, or undefined if no queue holds it any more. A body that
   * fails its checksum is never returned: STORE_CORRUPT, naming the message. */
  readMessage(messageId: number): Uint8Array | undefined;
  /** Messages moved to their queue's quarantine (dequeue records with cause 'quarantined'). */
  listQuarantine(): QuarantinedMessage[];
  /** Keeps the broker's recovery report (durable, not logged, not replicated). */
  recordRecovery(report: RecoveryReport): Promise<void>;
  /** The last report recordRecovery kept, or null. */
  lastRecovery(): RecoveryReport | null;
  /** The message-ids a queue's duplicate-detection window holds (dedup records), oldest
   * (lowest seq) first. A row that fails its checksum is left out and logged. */
  readDedup(queue: string): DedupRow[];
  /** How many queue entries reference the message (0 if unknown). */
  messageRefs(messageId: number): number;

  /** Waits for in-flight commits, then closes. Later calls fail with STORE_CLOSED. */
  close(): Promise<void>;
}
