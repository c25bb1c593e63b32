// The log records: the unit of durability and of replication. Every mutation of broker state is
// a short list of records appended to the log and applied to the tables in one transaction.
// Each record carries everything a backup needs to apply it without looking anything up on the
// primary (DESIGN.md §2, §4); `decodeRecord` (codec.ts) validates every field read from disk or
// from the network before a record is trusted.

/** Values allowed in declare arguments (queue/exchange/binding arguments, AMQP simple types). */
export type ArgValue = string | number | boolean | null;
export type Arguments = { readonly [key: string]: ArgValue };

export type ExchangeType = 'direct' | 'topic' | 'fanout' | 'headers';

/** Why a message left a queue. `overflow`: dropped by a ring queue; `rejected`: a consumer
 * rejected it (it may have been re-routed to the alternate exchange by a separate enqueue);
 * `quarantined`: it failed its checksum when read, and was moved to the queue's quarantine
 * (the store keeps the row as found) instead of being delivered altered. */
export type DequeueCause = 'consumed' | 'expired' | 'purged' | 'deleted' | 'overflow' | 'rejected' | 'quarantined' | 'replaced';

export const DEQUEUE_CAUSES: readonly DequeueCause[] = [
  'consumed',
  'expired',
  'purged',
  'deleted',
  'overflow',
  'rejected',
  'quarantined',
  // A last-value queue's message replaced by a newer one with its key (issue 12).
  'replaced',
];
export const EXCHANGE_TYPES: readonly ExchangeType[] = ['direct', 'topic', 'fanout', 'headers'];

export interface QueueDeclareRecord {
  readonly kind: 'queue-declare';
  readonly queue: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusive: boolean;
  readonly alternateExchange: string | null;
  /** Every declare argument as given (qpid.max_count, qpid.replicate, ...). */
  readonly arguments: Arguments;
}

export interface QueueDeleteRecord {
  readonly kind: 'queue-delete';
  readonly queue: string;
}

export interface ExchangeDeclareRecord {
  readonly kind: 'exchange-declare';
  readonly exchange: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly alternateExchange: string | null;
  readonly arguments: Arguments;
}

export interface ExchangeDeleteRecord {
  readonly kind: 'exchange-delete';
  readonly exchange: string;
}

export interface BindRecord {
  readonly kind: 'bind';
  readonly exchange: string;
  readonly queue: string;
  readonly key: string;
  readonly arguments: Arguments;
}

export interface UnbindRecord {
  readonly kind: 'unbind';
  readonly exchange: string;
  readonly queue: string;
  readonly key: string;
}

/** Where one enqueue places a message: a queue and the message's position in it. Positions are
 * assigned by the broker, strictly increasing per queue, and kept as-is on backups. */
export interface EnqueueTarget {
  readonly queue: string;
  readonly position: number;
}

/** A message entering one or more queues. The message body is stored once however many
 * targets there are; the store keeps a reference count. */
export interface EnqueueRecord {
  readonly kind: 'enqueue';
  readonly messageId: number;
  /** False for transient messages on replicated queues: they travel through the log so that the
   * replication stream is one ordered sequence, and are dropped on local recovery. */
  readonly persistent: boolean;
  /** Absolute expiry in ms since the Unix epoch, or null. */
  readonly expiresAtMs: number | null;
  /** The encoded AMQP 1.0 message (its sections as on the wire). */
  readonly body: Uint8Array;
  readonly targets: readonly EnqueueTarget[];
}

export interface DequeueRecord {
  readonly kind: 'dequeue';
  readonly queue: string;
  readonly position: number;
  readonly messageId: number;
  readonly cause: DequeueCause;
}

/** Written by a promoted primary: from this LSN on, the log belongs to `epoch`. */
export interface EpochRecord {
  readonly kind: 'epoch';
  readonly epoch: number;
  /** Name of the broker that became primary (for operators reading the log). */
  readonly primary: string;
}

/** Only in a backup's log: the primary's records from this entry's LSN through `lastLsn` were
 * not replicated (ha-replicate / qpid.replicate filtered them out). Keeping the span keeps a
 * backup's LSNs identical to its primary's and its log contiguous: the next entry is at
 * lastLsn + 1. Applying it changes no table. */
export interface SkipRecord {
  readonly kind: 'skip';
  readonly lastLsn: number;
}

/** Opens a transaction (AMQP 1.0 §4): the entries after this one, through `lastLsn`, are one
 * unit, written by one commit (so one LMDB transaction) and shipped to backups in one frame, so
 * that a crash or a failover leaves all of them or none. Applying it changes no table. */
export interface TxnRecord {
  readonly kind: 'txn';
  readonly lastLsn: number;
}

/** A queue with a duplicate-detection window (`qpid.dedup_window`) remembers a message-id: slot
 * `slot` of the queue's window now holds the `seq`-th id the queue accepted (the broker chooses
 * slot = seq mod window, so the newest N ids overwrite the oldest). Journaled with the enqueue it
 * belongs to, in the same commit; kept in the `dedup` table after the message is consumed, so a
 * resend of it is still recognised after a restart or on a promoted backup. Snapshots carry the
 * table as these records. */
export interface DedupRecord {
  readonly kind: 'dedup';
  readonly queue: string;
  readonly slot: number;
  readonly seq: number;
  /** The message-id as a key (src/broker/dedup-window.ts: type-tagged text). */
  readonly id: string;
}

export type StoreRecord =
  | SkipRecord
  | DedupRecord
  | TxnRecord
  | QueueDeclareRecord
  | QueueDeleteRecord
  | ExchangeDeclareRecord
  | ExchangeDeleteRecord
  | BindRecord
  | UnbindRecord
  | EnqueueRecord
  | DequeueRecord
  | EpochRecord;

export type RecordKind = StoreRecord['kind'];

/** A record with its log sequence number. LSNs start at 1 and are contiguous: each entry covers
 * one LSN, except a skip record, which covers lsn..record.lastLsn. */
export interface LogEntry {
  readonly lsn: number;
  readonly record: StoreRecord;
}

/** The last LSN an entry covers (its own, or the end of a skip span). */
export function entryLastLsn(entry: LogEntry): number {
  return entry.record.kind === 'skip' ? entry.record.lastLsn : entry.lsn;
}
