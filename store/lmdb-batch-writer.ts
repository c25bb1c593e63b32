// One batch's view of the LMDB tables (batch.ts BatchWriter): queue/exchange/binding changes are
// staged over the committed caches and published only if the transaction commits; messages, index
// entries and the log are written straight into the write transaction. Every value written is
// sealed with its CRC (layout.ts); every value read back is checked.

import { assert } from '../src/core/assert.js';
import type { DedupRow, EntryInfo, MessageInfo, QueueRow } from './apply.js';
import type { BatchWriter } from './batch.js';
import { SEAL_BYTES, unsealUnchecked } from './checksum.js';
import { crashPoint } from '../src/core/crash-points.js';
import { encodedLastLsn } from './codec.js';
import { bindingCacheKey, fast, TABLE_NAMES, type Tables } from './lmdb-env.js';
import {
  checkDedupKey,
  checkEntryKey,
  decodeDedupRow,
  decodeEntry,
  decodeMessageInfo,
  encodeBindingRow,
  encodeDedupRow,
  encodeEntry,
  encodeExchangeRow,
  encodeMessage,
  MESSAGE_HEADER_BYTES,
  encodeMetaState,
  encodeQuarantineRow,
  encodeQueueRow,
  encodeRecoveryReport,
  decodeUndoRow,
  encodeUndoRows,
  undoRowSpan,
  sealLogValue,
  withRefs,
} from './layout.js';
import type { BindRecord, ExchangeDeclareRecord, StoreRecord } from './record.js';
import type { RecoveryReport } from './recovery.js';
import type { UndoBatch } from './undo.js';
import type { MutableMeta } from './ticket.js';

/** The committed state a batch starts from, and where it publishes to. */
export interface CommittedTables {
  committedMeta: MutableMeta;
  queueRows: Map<string, QueueRow>;
  exchangeRows: Map<string, ExchangeDeclareRecord>;
  bindingRows: Map<string, BindRecord>;
}

/** LMDB copies a value at put: one scratch buffer serves every sealed log value of the process. */
let logScratch = Buffer.allocUnsafe(64 * 1024);
/** And one each for message rows and index entries: a row allocated per message (a backup's
 * apply of a snapshot or of the log, a primary's commit) was Buffer churn for the GC. A row
 * larger than ROW_SCRATCH_MAX_BYTES gets its own buffer rather than keep a large scratch alive. */
const ROW_SCRATCH_MAX_BYTES = 1024 * 1024;
let messageScratch = Buffer.allocUnsafe(64 * 1024);
const entryScratch = Buffer.allocUnsafe(64);

export class LmdbBatchWriter implements BatchWriter {
  meta: MutableMeta;
  private readonly queues = new Map<string, QueueRow | null>();
  private readonly exchanges = new Map<string, ExchangeDeclareRecord | null>();
  private readonly bindings = new Map<string, BindRecord | null>();
  private wiped = false;

  constructor(
    private readonly t: Tables,
    private readonly committed: CommittedTables,
  ) {
    this.meta = { ...committed.committedMeta };
  }

  getQueue(name: string): QueueRow | undefined {
    const staged = this.queues.get(name);
    if (staged !== undefined) return staged ?? undefined;
    return this.wiped ? undefined : this.committed.queueRows.get(name);
  }
  setQueue(name: string, row: QueueRow | undefined): void {
    this.queues.set(name, row ?? null);
  }
  getExchange(name: string): ExchangeDeclareRecord | undefined {
    const staged = this.exchanges.get(name);
    if (staged !== undefined) return staged ?? undefined;
    return this.wiped ? undefined : this.committed.exchangeRows.get(name);
  }
  setExchange(name: string, declare: ExchangeDeclareRecord | undefined): void {
    this.exchanges.set(name, declare ?? null);
    if (declare) this.t.exchanges.putSync(name, encodeExchangeRow(declare));
    else this.t.exchanges.removeSync(name);
  }
  getBinding(exchange: string, queue: string, key: string): BindRecord | undefined {
    const k = bindingCacheKey(exchange, queue, key);
    const staged = this.bindings.get(k);
    if (staged !== undefined) return staged ?? undefined;
    return this.wiped ? undefined : this.committed.bindingRows.get(k);
  }
  setBinding(exchange: string, queue: string, key: string, bind: BindRecord | undefined): void {
    this.bindings.set(bindingCacheKey(exchange, queue, key), bind ?? null);
    if (bind) this.t.bindings.putSync([exchange, queue, key], encodeBindingRow(bind));
    else this.t.bindings.removeSync([exchange, queue, key]);
  }
  private bindingsWhere(match: (b: BindRecord) => boolean): BindRecord[] {
    const out = new Map<string, BindRecord>();
    if (!this.wiped) for (const [k, b] of this.committed.bindingRows) if (match(b)) out.set(k, b);
    for (const [k, b] of this.bindings) {
      if (b === null) out.delete(k);
      else if (match(b)) out.set(k, b);
    }
    return [...out.values()];
  }
  bindingsOfQueue(queue: string): BindRecord[] {
    return this.bindingsWhere((b) => b.queue === queue);
  }
  bindingsOfExchange(exchange: string): BindRecord[] {
    return this.bindingsWhere((b) => b.exchange === exchange);
  }
  getMessage(messageId: number): MessageInfo | undefined {
    const row = fast(this.t.messages, messageId);
    return row === undefined ? undefined : decodeMessageInfo(row, messageId);
  }
  addMessage(messageId: number, info: MessageInfo, body: Uint8Array): void {
    const rowBytes = MESSAGE_HEADER_BYTES + body.byteLength;
    if (messageScratch.length < rowBytes && rowBytes <= ROW_SCRATCH_MAX_BYTES) messageScratch = Buffer.allocUnsafe(rowBytes);
    this.t.messages.putSync(messageId, encodeMessage(messageId, info, body, messageScratch));
  }
  setMessageRefs(messageId: number, refs: number): void {
    const row = fast(this.t.messages, messageId);
    assert(row !== undefined, `setMessageRefs of missing message ${messageId}`);
    this.t.messages.putSync(messageId, withRefs(row, messageId, refs));
  }
  deleteMessage(messageId: number): void {
    this.t.messages.removeSync(messageId);
  }
  getEntry(queue: string, position: number): EntryInfo | undefined {
    const row = fast(this.t.enqueues, [queue, position]);
    return row === undefined ? undefined : decodeEntry(row, { queue, position });
  }
  hasEntry(queue: string, position: number): boolean {
    return fast(this.t.enqueues, [queue, position]) !== undefined;
  }
  quarantine(queue: string, position: number, messageId: number): void {
    // The message row as it was found (it may be what failed), for whoever looks into it.
    const row = this.t.messages.getBinary(messageId);
    this.t.quarantine.putSync([queue, position], encodeQuarantineRow(queue, position, messageId, row));
  }
  putEntry(queue: string, position: number, entry: EntryInfo): void {
    this.t.enqueues.putSync([queue, position], encodeEntry(queue, position, entry, entryScratch));
  }
  deleteEntry(queue: string, position: number): void {
    this.t.enqueues.removeSync([queue, position]);
  }
  entryPositions(queue: string): number[] {
    return [...this.t.enqueues.getKeys({ start: [queue], end: [queue, Infinity] })].map((k) => checkEntryKey(k).position);
  }
  getDedup(queue: string, slot: number): DedupRow | undefined {
    const row = fast(this.t.dedup, [queue, slot]);
    return row === undefined ? undefined : decodeDedupRow(row, { queue, slot });
  }
  setDedup(queue: string, slot: number, row: DedupRow | undefined): void {
    if (row) this.t.dedup.putSync([queue, slot], encodeDedupRow(queue, slot, row));
    else this.t.dedup.removeSync([queue, slot]);
  }
  dedupSlots(queue: string): number[] {
    return [...this.t.dedup.getKeys({ start: [queue], end: [queue, Infinity] })].map((k) => checkDedupKey(k).slot);
  }
  putLog(lsn: number, _record: StoreRecord, encoded: Uint8Array): void {
    if (logScratch.length < encoded.byteLength + SEAL_BYTES) logScratch = Buffer.allocUnsafe(encoded.byteLength + SEAL_BYTES);
    // A plain put, not MDB_APPEND: it costs a tree search, and appending is the path LMDB's
    // freelist bugs have lived on. (lmdb is pinned at 2.9: from 3.x its rewritten freelist fails
    // any commit made while a snapshot's read transaction is open on a store whose retention
    // has freed many pages: "reserved freelist had a data entry with zero-size", then an
    // assertion in mdb_freelist_save that kills the process; test/store/snapshot-freelist.)
    this.t.log.putSync(lsn, sealLogValue(lsn, encoded, logScratch));
  }
  peekLog(lsn: number): { bytes: number; lastLsn: number } | undefined {
    const row = fast(this.t.log, lsn);
    if (row === undefined) return undefined;
    // Unchecked: retention only needs the entry's span and size, and is about to drop it.
    const record = unsealUnchecked(row);
    const lastLsn = encodedLastLsn(record, lsn);
    return lastLsn === undefined ? undefined : { bytes: record.length, lastLsn };
  }
  dropLog(lsn: number): void {
    this.t.log.removeSync(lsn);
    this.dropped++;
    // Inside the write transaction: a kill here loses the whole batch, never part of it.
    if (this.dropped === 2) crashPoint('store.retention.mid-drop');
  }
  private dropped = 0;
  /** Page-sized rows (layout.ts: UNDO_ROW_MAX_BYTES), each read back as a batch of its own. */
  putUndo(batch: UndoBatch): void {
    for (const row of encodeUndoRows(batch)) this.t.undo.putSync(row.firstLsn, row.value);
  }
  undoFrom(fromLsn: number): UndoBatch[] {
    // The batch holding fromLsn starts at or before it: find it, then read forward.
    const [before] = [...this.t.undo.getRange({ start: fromLsn, reverse: true, limit: 1 })];
    const start = before ? (before.key as number) : fromLsn;
    const out: UndoBatch[] = [];
    for (const { key, value } of this.t.undo.getRange({ start })) {
      const batch = decodeUndoRow(key as number, value);
      if (batch.lastLsn >= fromLsn) out.push(batch);
    }
    return out;
  }
  oldestUndo(): UndoBatch | undefined {
    const [first] = [...this.t.undo.getRange({ limit: 1 })];
    return first ? decodeUndoRow(first.key as number, first.value) : undefined;
  }
  oldestUndoSpan(): { firstLsn: number; lastLsn: number } | undefined {
    const [first] = [...this.t.undo.getRange({ limit: 1 })];
    return first ? undoRowSpan(first.key as number, first.value) : undefined;
  }
  dropUndo(firstLsn: number): void {
    this.t.undo.removeSync(firstLsn);
  }
  clearAll(): void {
    for (const name of TABLE_NAMES) if (name !== 'meta') this.t[name].clearSync();
    this.wiped = true;
    this.queues.clear();
    this.exchanges.clear();
    this.bindings.clear();
  }

  setRecovery(report: RecoveryReport): void {
    // Not logged and not replicated: what this broker found in its own store.
    this.t.meta.putSync('recovery', encodeRecoveryReport(report));
  }

  /** Inside the transaction: one stats write per touched queue, one meta write. */
  finish(): void {
    for (const [name, row] of this.queues) {
      if (row) this.t.queues.putSync(name, encodeQueueRow(row));
      else this.t.queues.removeSync(name);
    }
    this.t.meta.putSync('state', encodeMetaState(this.meta));
  }

  /** After the commit: the staged state becomes what readers see. */
  publish(store: CommittedTables): void {
    if (this.wiped) {
      store.queueRows = new Map();
      store.exchangeRows = new Map();
      store.bindingRows = new Map();
    }
    for (const [name, row] of this.queues) {
      if (row) store.queueRows.set(name, row);
      else store.queueRows.delete(name);
    }
    for (const [name, e] of this.exchanges) {
      if (e) store.exchangeRows.set(name, e);
      else store.exchangeRows.delete(name);
    }
    for (const [k, b] of this.bindings) {
      if (b) store.bindingRows.set(k, b);
      else store.bindingRows.delete(k);
    }
    store.committedMeta = this.meta;
  }
}
