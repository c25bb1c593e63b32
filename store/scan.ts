// A read-only walk over every table of a store, from one consistent view (for LMDB: one read
// transaction), for verify.ts and inspect.ts. Rows that fail to decode are returned with a
// `problem` instead of throwing, so that one garbled row does not hide the rest.

import type { BindRecord, ExchangeDeclareRecord, QueueDeclareRecord, StoreRecord } from './record.js';
import type { QuarantinedMessage, RecoveryReport } from './recovery.js';
import type { StoreMeta } from './store.js';
import type { UndoBatch } from './undo.js';

export interface ScanQueue {
  readonly name: string;
  readonly declare?: QueueDeclareRecord;
  readonly count: number;
  readonly bytes: number;
  readonly lastPosition: number;
  readonly problem?: string;
}

export interface ScanExchange {
  readonly name: string;
  readonly declare?: ExchangeDeclareRecord;
  readonly problem?: string;
}

export interface ScanBinding {
  readonly exchange: string;
  readonly queue: string;
  readonly key: string;
  readonly bind?: BindRecord;
  readonly problem?: string;
}

export interface ScanEntry {
  readonly queue: string;
  readonly position: number;
  readonly messageId: number;
  readonly size: number;
  readonly persistent: boolean;
  readonly expiresAtMs: number | null;
  readonly deliveryCount: number;
  readonly problem?: string;
}

export interface ScanMessage {
  readonly messageId: number;
  /** The CRC-32 the store keeps of the body (seeded with the id): two stores holding the same
   * message agree on it. Null when the row does not decode. */
  readonly bodyCrc?: number | null;
  readonly refs: number;
  readonly persistent: boolean;
  readonly expiresAtMs: number | null;
  readonly size: number;
  readonly problem?: string;
}

export interface ScanLogEntry {
  readonly lsn: number;
  /** Encoded size in the log. */
  readonly bytes: number;
  readonly record?: StoreRecord;
  readonly problem?: string;
}

export interface ScanUndo {
  /** The row's key: the first LSN of the batch it holds. */
  readonly firstLsn: number;
  readonly batch?: UndoBatch;
  readonly problem?: string;
}

/** One slot of a queue's dedup window (record.ts DedupRecord). */
export interface ScanDedup {
  readonly queue: string;
  readonly slot: number;
  readonly seq: number;
  readonly id: string;
  readonly problem?: string;
}

export interface StoreScan {
  meta(): StoreMeta;
  queues(): Iterable<ScanQueue>;
  exchanges(): Iterable<ScanExchange>;
  bindings(): Iterable<ScanBinding>;
  /** Index entries of one queue (position order), or of every queue ((queue, position) order). */
  entries(queue?: string, afterPosition?: number): Iterable<ScanEntry>;
  entry(queue: string, position: number): ScanEntry | undefined;
  /** Every message row; with checkBodies each body's CRC is checked too (a pass over every body:
   * what a full verify costs). */
  messages(options?: { checkBodies?: boolean }): Iterable<ScanMessage>;
  message(messageId: number): ScanMessage | undefined;
  /** The checked body: undefined if missing, STORE_CORRUPT if it fails its checksum. */
  body(messageId: number): Uint8Array | undefined;
  /** message() and body() from one read of the row (a snapshot's common case: a message held
   * by one queue); undefined if missing, STORE_CORRUPT if the header or the body fails its
   * checksum. `asStored`: the body may be the store's own bytes, valid only until the scan's next
   * read, for a caller that copies it at once (records-frame.ts); else it is the caller's. */
  messageWithBody(messageId: number, asStored?: boolean): { readonly message: ScanMessage; readonly body: Uint8Array } | undefined;
  /** Messages taken off their queues because they failed their checksums. */
  quarantine(): Iterable<QuarantinedMessage>;
  /** The last recovery report the broker kept, or null. */
  recovery(): RecoveryReport | { readonly problem: string } | null;
  /** Log entries from fromLsn on, in key order (gaps show as jumps in lsn). */
  log(fromLsn: number): Iterable<ScanLogEntry>;
  /** Undo rows (undo.ts), in LSN order; a row that fails its checksum has a `problem`. */
  undo(): Iterable<ScanUndo>;
  /** Dedup window rows, in (queue, slot) order; a row that fails its checksum has a `problem`. */
  dedup(): Iterable<ScanDedup>;
  /** Row counts, for progress reports. */
  sizes(): { entries: number; messages: number; logEntries: number; undoRows: number };
  close(): void;
}

export interface Scannable {
  scan(): StoreScan;
}
