// One group-commit batch: the queued mutations of many callers, applied in order inside one
// atomic step (an LMDB write transaction, or a journaled pass over the memory tables), followed
// by log retention and one meta update. Shared by both store implementations so that LSN
// accounting, retention and meta are computed by the same code.

import { AssertionFailure, assert } from '../src/core/assert.js';
import { crashPoint } from '../src/core/crash-points.js';
import { applyRecord, type ApplyEffects, type TableWriter } from './apply.js';
import { historyUpTo, withEpochStart, type EpochStart } from './epoch-history.js';
import { applyUndo, collectGarbage, UNDO_LSNS_MAX, UndoRecorder, type UndoBatch, type UndoEntry } from './undo.js';
import { encodeRecord } from './codec.js';
import { StoreError } from './errors.js';
import { entryLastLsn, type LogEntry, type StoreRecord } from './record.js';
import type { RecoveryReport } from './recovery.js';
import type { StoreRole } from './store.js';
import type { MutableMeta, TicketState } from './ticket.js';

export type Mutation =
  | {
      readonly kind: 'log';
      readonly entries: readonly LogEntry[];
      /** The encoded records (encoded at commit() time, so an unencodable record fails there). */
      readonly encoded: readonly Uint8Array[];
      /** Copied from a primary (appendReplicated), not written by this store: no undo. */
      readonly replicated: boolean;
      readonly ticket: TicketState;
    }
  /** Takes back every log entry after `lsn` (undo.ts); fails the batch with STORE_UNDO_MISSING
   * when some entry after it has no undo (it was copied, or its undo was pruned). */
  | { readonly kind: 'truncate-after'; readonly lsn: number; readonly ticket: TicketState }
  | { readonly kind: 'role'; readonly role: StoreRole; readonly haState: string; readonly ticket: TicketState }
  | { readonly kind: 'begin-snapshot'; readonly lsn: number; readonly epoch: number; readonly lastMessageId: number; readonly epochHistory: readonly EpochStart[]; readonly ticket: TicketState }
  | { readonly kind: 'snapshot-records'; readonly records: readonly StoreRecord[]; readonly ticket: TicketState }
  | { readonly kind: 'end-snapshot'; readonly lastPositions: Readonly<Record<string, number>>; readonly ticket: TicketState }
  | { readonly kind: 'wipe'; readonly ticket: TicketState }
  /** The broker's recovery report (meta 'recovery'; not logged, not replicated). */
  | { readonly kind: 'recovery'; readonly report: RecoveryReport; readonly ticket: TicketState }
  /** Changes nothing itself; resolves when the batch it rides in is durable (truncation). */
  | { readonly kind: 'barrier'; readonly ticket: TicketState };

export interface BatchWriter extends TableWriter {
  meta: MutableMeta;
  putUndo(batch: UndoBatch): void;
  /** Undo batches holding entries at or after `fromLsn`, oldest first. */
  undoFrom(fromLsn: number): UndoBatch[];
  /** The oldest undo batch, if any. */
  oldestUndo(): UndoBatch | undefined;
  /** The LSNs the oldest undo batch spans, without decoding its entries (retention asks after
   * every batch whether it may go yet). */
  oldestUndoSpan(): { readonly firstLsn: number; readonly lastLsn: number } | undefined;
  dropUndo(firstLsn: number): void;
  putLog(lsn: number, record: StoreRecord, encoded: Uint8Array): void;
  /** The encoded size and last covered LSN of the log entry at `lsn`; undefined if none. */
  peekLog(lsn: number): { readonly bytes: number; readonly lastLsn: number } | undefined;
  dropLog(lsn: number): void;
  clearAll(): void;
  setRecovery(report: RecoveryReport): void;
}

export interface BatchContext {
  /** Message ids handed out when the batch ran: persisted so that ids are never reused. */
  readonly allocatedMessageId: number;
  readonly floorLsn: number | null;
  readonly logMaxBytes: number;
  /** Explicit truncateLogBefore() target (0: none). */
  readonly truncateBeforeLsn: number;
  /** Most log entries retention may delete in this batch, so that it never stalls commits. */
  readonly dropBudget: number;
  /** Whether this store keeps undo for the records it writes itself (a cluster broker's). */
  readonly undo: boolean;
  /** Undo at or below this LSN is no longer needed (every backup in the gate has confirmed it:
   * no primary this store may follow lacks it); null: none known. */
  readonly undoFloorLsn: number | null;
}

/** Applies the mutations, then retention, then meta. Throws (StoreError STORE_CORRUPT) if a
 * record does not fit the tables; the caller rolls the whole batch back. Returns whether
 * retention has more to delete (the caller schedules another batch), and whether a truncation
 * took log entries back (the LMDB store's crash point ha.backup.mid-truncate is there). */
export function applyBatch(w: BatchWriter, mutations: readonly Mutation[], ctx: BatchContext): { moreToDrop: boolean; tookBack: boolean } {
  const meta = w.meta;
  const effects: ApplyEffects = { epoch: meta.epoch, lastMessageId: meta.lastMessageId };
  const recorder = ctx.undo ? new UndoRecorder(w) : null;
  const undone: UndoEntry[] = [];
  let tookBack = false;
  for (const m of mutations) {
    switch (m.kind) {
      case 'log': {
        const keepUndo = recorder !== null && !m.replicated;
        // Halfway through a transaction's records (a txn record opens them), still inside the
        // write transaction: a kill there must leave none of them.
        let txnMidLsn = 0;
        for (let i = 0; i < m.entries.length; i++) {
          const e = m.entries[i]!;
          if (e.record.kind === 'txn' && !m.replicated) txnMidLsn = e.lsn + Math.ceil((e.record.lastLsn - e.lsn) / 2);
          if (e.lsn === txnMidLsn) crashPoint('txn.mid-commit');
          assert(e.lsn === meta.lastLsn + 1, `batch: LSN ${e.lsn} does not follow ${meta.lastLsn}`);
          if (keepUndo) {
            recorder.begin();
            applyRecord(recorder, e.record, `log record at LSN ${e.lsn}`, effects, 'log');
            undone.push(recorder.end(e.lsn));
          } else {
            applyRecord(w, e.record, `log record at LSN ${e.lsn}`, effects, 'log');
          }
          if (e.record.kind === 'epoch') meta.epochHistory = withEpochStart(meta.epochHistory, e.record.epoch, e.lsn);
          const encoded = m.encoded[i]!;
          w.putLog(e.lsn, e.record, encoded);
          meta.lastLsn = entryLastLsn(e);
          meta.logBytes += encoded.byteLength;
          // Undo covers a contiguous tail of the log: an entry without it ends the coverage.
          if (!keepUndo) meta.undoFromLsn = meta.lastLsn + 1;
        }
        break;
      }
      case 'truncate-after':
        flushUndo(w, undone);
        if (truncateAfter(w, m.lsn)) tookBack = true;
        break;
      case 'role':
        meta.lastRole = m.role;
        meta.haState = m.haState;
        break;
      case 'begin-snapshot':
        meta.lastLsn = m.lsn;
        meta.firstLsn = m.lsn + 1;
        effects.epoch = Math.max(effects.epoch, m.epoch);
        effects.lastMessageId = Math.max(effects.lastMessageId, m.lastMessageId);
        meta.epochHistory = historyUpTo(m.epochHistory, m.lsn);
        meta.undoFromLsn = m.lsn + 1;
        meta.snapshotIncomplete = true;
        break;
      case 'snapshot-records':
        for (const r of m.records) applyRecord(w, r, 'snapshot record', effects, 'snapshot');
        break;
      case 'end-snapshot':
        for (const [queue, position] of Object.entries(m.lastPositions)) {
          const row = w.getQueue(queue);
          if (row && position > row.lastPosition) w.setQueue(queue, { ...row, lastPosition: position });
        }
        meta.snapshotIncomplete = false;
        break;
      case 'wipe':
        w.clearAll();
        meta.lastLsn = 0;
        meta.firstLsn = 1;
        meta.logBytes = 0;
        meta.snapshotIncomplete = false;
        // The records are gone, and with them what the history described (meta.epoch stays:
        // it fences stale primaries).
        meta.epochHistory = [];
        meta.undoFromLsn = 1;
        undone.length = 0;
        break;
      case 'recovery':
        w.setRecovery(m.report);
        break;
      case 'barrier':
        break;
    }
  }
  // Retention drops whole entries from the front: those entirely below the explicit target or
  // the floor, and any while the log is over its size bound.
  let budget = ctx.dropBudget;
  const wantsDrop = (): boolean => {
    if (meta.firstLsn > meta.lastLsn) return false;
    if (meta.logBytes > ctx.logMaxBytes) return true;
    const limit = Math.max(ctx.truncateBeforeLsn, ctx.floorLsn ?? 0);
    if (meta.firstLsn >= limit) return false;
    const first = w.peekLog(meta.firstLsn);
    return first === undefined || first.lastLsn < limit;
  };
  while (budget > 0 && wantsDrop()) {
    const first = w.peekLog(meta.firstLsn);
    if (first === undefined) throw new StoreError('STORE_CORRUPT', `log entry at LSN ${meta.firstLsn} is missing or garbled (the log should run from ${meta.firstLsn} to ${meta.lastLsn})`);
    w.dropLog(meta.firstLsn);
    meta.logBytes -= first.bytes;
    meta.firstLsn = first.lastLsn + 1;
    budget--;
  }
  flushUndo(w, undone);
  const undoLeft = pruneUndo(w, ctx, ctx.dropBudget);
  meta.epoch = effects.epoch;
  meta.lastMessageId = Math.max(effects.lastMessageId, ctx.allocatedMessageId);
  return { moreToDrop: wantsDrop() || undoLeft, tookBack };
}

/** Stores the undo noted so far in this batch as one row (one write per group commit). */
function flushUndo(w: BatchWriter, undone: UndoEntry[]): void {
  if (undone.length === 0) return;
  w.putUndo({ firstLsn: (undone[0] as UndoEntry).lsn, lastLsn: (undone[undone.length - 1] as UndoEntry).lsn, entries: [...undone] });
  undone.length = 0;
}

/** Takes the log back to `lsn`: every entry after it is undone (newest first) and dropped.
 * Returns false when there was nothing after it. */
function truncateAfter(w: BatchWriter, lsn: number): boolean {
  const meta = w.meta;
  if (lsn >= meta.lastLsn) return false;
  if (lsn + 1 < meta.undoFromLsn) {
    throw new StoreError('STORE_UNDO_MISSING', `cannot take the log back to LSN ${lsn}: entries from ${lsn + 1} to ${meta.undoFromLsn - 1} have no undo (copied from a primary, or pruned); resync from a snapshot`);
  }
  const batches = w.undoFrom(lsn + 1);
  const entries = batches.flatMap((b) => b.entries).filter((e) => e.lsn > lsn);
  const irreversible = entries.find((e) => e.irreversible);
  if (irreversible) {
    throw new StoreError('STORE_UNDO_MISSING', `cannot take the log back to LSN ${lsn}: the entry at LSN ${irreversible.lsn} quarantined a damaged message and cannot be undone; resync from a snapshot`);
  }
  for (let i = entries.length - 1; i >= 0; i--) applyUndo(w, entries[i] as UndoEntry);
  for (const b of batches) {
    w.dropUndo(b.firstLsn);
    const kept = b.entries.filter((e) => e.lsn <= lsn);
    if (kept.length > 0) w.putUndo({ firstLsn: b.firstLsn, lastLsn: (kept[kept.length - 1] as UndoEntry).lsn, entries: kept });
  }
  // Drop the log entries after `lsn`, newest first, down to the one covering lsn + 1.
  let at = meta.lastLsn;
  while (at > lsn) {
    const entry = w.peekLog(at);
    if (entry !== undefined) {
      w.dropLog(at);
      meta.logBytes -= entry.bytes;
    }
    at--;
  }
  meta.lastLsn = lsn;
  if (meta.firstLsn > lsn + 1) meta.firstLsn = lsn + 1;
  meta.epochHistory = historyUpTo(meta.epochHistory, lsn);
  return true;
}

/** Drops undo no longer needed: at or below the floor, older than UNDO_LSNS_MAX, or before the
 * coverage (entries copied since). The messages it kept alive go with it. Returns whether more
 * is left to drop than the budget allowed. */
function pruneUndo(w: BatchWriter, ctx: BatchContext, budget: number): boolean {
  const meta = w.meta;
  const limit = Math.max(ctx.undoFloorLsn ?? 0, meta.lastLsn - UNDO_LSNS_MAX, meta.undoFromLsn - 1);
  let left = budget;
  for (let span = w.oldestUndoSpan(); span !== undefined && span.lastLsn <= limit; span = w.oldestUndoSpan()) {
    if (left-- <= 0) return true;
    const oldest = w.oldestUndo() as UndoBatch;
    for (const entry of oldest.entries) collectGarbage(w, entry);
    w.dropUndo(oldest.firstLsn);
    if (oldest.firstLsn <= meta.undoFromLsn && meta.undoFromLsn <= oldest.lastLsn + 1) meta.undoFromLsn = oldest.lastLsn + 1;
  }
  return false;
}

/** The committed log entries of a batch, in LSN order (for onCommitted listeners). */
export function committedEntries(mutations: readonly Mutation[]): LogEntry[] {
  const out: LogEntry[] = [];
  for (const m of mutations) if (m.kind === 'log') for (const e of m.entries) out.push(e);
  return out;
}

/** Checks that replicated entries continue the log at nextLsn without gaps; returns the LSN
 * after them. */
export function checkContinues(entries: readonly LogEntry[], nextLsn: number): number {
  let expected = nextLsn;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.lsn !== expected) {
      throw new StoreError('STORE_LSN_GAP', `replicated entry ${i} has LSN ${e.lsn}; the local log continues at LSN ${expected}`);
    }
    const last = entryLastLsn(e);
    if (!Number.isSafeInteger(last) || last < e.lsn) throw new StoreError('STORE_CORRUPT', `replicated skip at LSN ${e.lsn} ends at ${last}, before it starts`);
    expected = last + 1;
  }
  return expected;
}

export function truncatedError(fromLsn: number, firstLsn: number): StoreError {
  return new StoreError('STORE_LOG_TRUNCATED', `log entries before LSN ${firstLsn} were dropped by retention; LSN ${fromLsn} needs a snapshot`);
}

export function checkReadable(fromLsn: number, firstLsn: number): void {
  if (!Number.isSafeInteger(fromLsn) || fromLsn < 1) throw new AssertionFailure(`readLog(${fromLsn}): LSNs start at 1`);
  if (fromLsn < firstLsn) throw truncatedError(fromLsn, firstLsn);
}

/** Replaces a local enqueue that is still waiting for its batch by a skip record covering its
 * LSN, so that the log keeps its LSNs but the message never reaches the tables (it was consumed
 * before it was written: it no longer needs to survive anything). The caller knows the mutation
 * has not been taken by a batch; returns false if the LSN is not a local enqueue in it. */
export function retractEntry(mutation: Mutation & { kind: 'log' }, lsn: number): boolean {
  const first = mutation.entries[0];
  if (first === undefined || first.lsn > lsn) return false;
  const index = lsn - first.lsn;
  const entry = mutation.entries[index];
  if (entry === undefined || entry.lsn !== lsn || entry.record.kind !== 'enqueue') return false;
  const skip: StoreRecord = { kind: 'skip', lastLsn: lsn };
  (mutation.entries as LogEntry[])[index] = { lsn, record: skip };
  (mutation.encoded as Uint8Array[])[index] = encodeRecord(skip);
  return true;
}

/** Tells the durability listeners how far the log is durable; a listener that throws is logged
 * and does not stop the others. */
export function notifyDurable(listeners: ReadonlySet<(lastLsn: number) => void>, lastLsn: number, logger: { error(obj: object, msg: string): void }): void {
  for (const listener of listeners) {
    try {
      listener(lastLsn);
    } catch (err) {
      logger.error({ err }, 'onDurable listener threw');
    }
  }
}
