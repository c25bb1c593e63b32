// The undo log: what a cluster store needs to take back the tail of its own log (DESIGN.md §4:
// a primary that died with records its backups never confirmed rejoins the new primary by
// truncating past the divergence point, instead of copying everything again). While a batch
// applies a record this store wrote itself, UndoRecorder notes the before-image of every row the
// record changes (once per row and record); undoing the record writes those images back, in
// reverse. A message whose last reference goes is not deleted at once but kept at refs 0 (its
// body is what an undone dequeue needs) and deleted when its record's undo is pruned.
//
// Records copied from a primary need no undo: any primary this store later follows holds them
// (the cluster manager promotes the most up-to-date backup); a store that must drop copied
// records resyncs from a snapshot instead. Pure: the recorder sees only TableWriter calls.

import { StoreError } from './errors.js';
import type { BindRecord, ExchangeDeclareRecord } from './record.js';
import type { DedupRow, EntryInfo, MessageInfo, QueueRow, TableWriter } from './apply.js';

export type UndoOp =
  | { readonly t: 'queue'; readonly name: string; readonly row: QueueRow | null }
  | { readonly t: 'exchange'; readonly name: string; readonly declare: ExchangeDeclareRecord | null }
  | { readonly t: 'binding'; readonly exchange: string; readonly queue: string; readonly key: string; readonly bind: BindRecord | null }
  /** The message did not exist: undoing deletes it. */
  | { readonly t: 'message-new'; readonly id: number }
  | { readonly t: 'message-refs'; readonly id: number; readonly refs: number }
  | { readonly t: 'entry'; readonly queue: string; readonly position: number; readonly entry: EntryInfo | null }
  | { readonly t: 'dedup'; readonly queue: string; readonly slot: number; readonly row: DedupRow | null };

/** What undoing one log entry takes, and the messages its dequeues left at refs 0. */
export interface UndoEntry {
  readonly lsn: number;
  readonly ops: readonly UndoOp[];
  readonly garbage: readonly number[];
  /** The record quarantined a damaged message: what it removed cannot be written back (the rows
   * did not decode), so the log cannot be taken back past it; the store resyncs instead. */
  readonly irreversible?: true;
}

/** The undo entries of one batch, kept under the batch's first LSN. */
export interface UndoBatch {
  readonly firstLsn: number;
  readonly lastLsn: number;
  readonly entries: readonly UndoEntry[];
}

/** How long undo is kept without a floor (a primary with no backup to confirm anything): the
 * last this many LSNs. Each holds a few rows' before-images, and the bodies it keeps alive. */
export const UNDO_LSNS_MAX = 100_000;

/** A TableWriter that notes before-images as it passes writes through to `inner`. */
export class UndoRecorder implements TableWriter {
  private ops: UndoOp[] = [];
  private garbage: number[] = [];
  private readonly seen = new Set<string>();
  private irreversible = false;

  constructor(private readonly inner: TableWriter) {}

  /** Starts the record at `lsn`; end() returns what undoing it takes. */
  begin(): void {
    this.ops = [];
    this.garbage = [];
    this.seen.clear();
    this.irreversible = false;
  }

  end(lsn: number): UndoEntry {
    return this.irreversible ? { lsn, ops: [], garbage: this.garbage, irreversible: true } : { lsn, ops: this.ops, garbage: this.garbage };
  }

  /** Whether a before-image is still to be noted under `key` (none once the record is
   * irreversible: the rows it touches may not decode, and nothing will be written back). */
  private first(key: string): boolean {
    if (this.irreversible || this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }

  getQueue(name: string): QueueRow | undefined {
    return this.inner.getQueue(name);
  }
  setQueue(name: string, row: QueueRow | undefined): void {
    if (this.first(`q\u0000${name}`)) this.ops.push({ t: 'queue', name, row: this.inner.getQueue(name) ?? null });
    this.inner.setQueue(name, row);
  }
  getExchange(name: string): ExchangeDeclareRecord | undefined {
    return this.inner.getExchange(name);
  }
  setExchange(name: string, declare: ExchangeDeclareRecord | undefined): void {
    if (this.first(`x\u0000${name}`)) this.ops.push({ t: 'exchange', name, declare: this.inner.getExchange(name) ?? null });
    this.inner.setExchange(name, declare);
  }
  getBinding(exchange: string, queue: string, key: string): BindRecord | undefined {
    return this.inner.getBinding(exchange, queue, key);
  }
  setBinding(exchange: string, queue: string, key: string, bind: BindRecord | undefined): void {
    if (this.first(`b\u0000${exchange}\u0000${queue}\u0000${key}`)) this.ops.push({ t: 'binding', exchange, queue, key, bind: this.inner.getBinding(exchange, queue, key) ?? null });
    this.inner.setBinding(exchange, queue, key, bind);
  }
  bindingsOfQueue(queue: string): BindRecord[] {
    return this.inner.bindingsOfQueue(queue);
  }
  bindingsOfExchange(exchange: string): BindRecord[] {
    return this.inner.bindingsOfExchange(exchange);
  }
  getMessage(messageId: number): MessageInfo | undefined {
    return this.inner.getMessage(messageId);
  }
  addMessage(messageId: number, info: MessageInfo, body: Uint8Array): void {
    if (this.first(`m\u0000${messageId}`)) this.ops.push({ t: 'message-new', id: messageId });
    this.inner.addMessage(messageId, info, body);
  }
  setMessageRefs(messageId: number, refs: number): void {
    this.noteRefs(messageId);
    this.inner.setMessageRefs(messageId, refs);
  }
  /** Deferred: the row stays at refs 0 until this record's undo is pruned. */
  deleteMessage(messageId: number): void {
    if (this.irreversible) {
      // Nothing will be written back, and the row may not decode: delete it now.
      this.inner.deleteMessage(messageId);
      return;
    }
    this.noteRefs(messageId);
    this.inner.setMessageRefs(messageId, 0);
    this.garbage.push(messageId);
  }
  private noteRefs(messageId: number): void {
    if (!this.first(`m\u0000${messageId}`)) return;
    const info = this.inner.getMessage(messageId);
    this.ops.push({ t: 'message-refs', id: messageId, refs: info?.refs ?? 0 });
  }
  getEntry(queue: string, position: number): EntryInfo | undefined {
    return this.inner.getEntry(queue, position);
  }
  putEntry(queue: string, position: number, entry: EntryInfo): void {
    this.noteEntry(queue, position);
    this.inner.putEntry(queue, position, entry);
  }
  deleteEntry(queue: string, position: number): void {
    this.noteEntry(queue, position);
    this.inner.deleteEntry(queue, position);
  }
  private noteEntry(queue: string, position: number): void {
    if (this.first(`e\u0000${queue}\u0000${position}`)) this.ops.push({ t: 'entry', queue, position, entry: this.inner.getEntry(queue, position) ?? null });
  }
  hasEntry(queue: string, position: number): boolean {
    return this.inner.hasEntry(queue, position);
  }
  quarantine(queue: string, position: number, messageId: number): void {
    this.irreversible = true;
    this.inner.quarantine(queue, position, messageId);
  }
  entryPositions(queue: string): number[] {
    return this.inner.entryPositions(queue);
  }
  getDedup(queue: string, slot: number): DedupRow | undefined {
    return this.inner.getDedup(queue, slot);
  }
  setDedup(queue: string, slot: number, row: DedupRow | undefined): void {
    if (this.first(`d\u0000${queue}\u0000${slot}`)) this.ops.push({ t: 'dedup', queue, slot, row: this.inner.getDedup(queue, slot) ?? null });
    this.inner.setDedup(queue, slot, row);
  }
  dedupSlots(queue: string): number[] {
    return this.inner.dedupSlots(queue);
  }
}

/** Writes one entry's before-images back, last change first. */
export function applyUndo(tw: TableWriter, entry: UndoEntry): void {
  for (let i = entry.ops.length - 1; i >= 0; i--) {
    const op = entry.ops[i] as UndoOp;
    switch (op.t) {
      case 'queue':
        tw.setQueue(op.name, op.row ?? undefined);
        break;
      case 'exchange':
        tw.setExchange(op.name, op.declare ?? undefined);
        break;
      case 'binding':
        tw.setBinding(op.exchange, op.queue, op.key, op.bind ?? undefined);
        break;
      case 'message-new':
        if (tw.getMessage(op.id)) tw.deleteMessage(op.id);
        break;
      case 'message-refs':
        if (tw.getMessage(op.id)) tw.setMessageRefs(op.id, op.refs);
        break;
      case 'entry':
        if (op.entry) tw.putEntry(op.queue, op.position, op.entry);
        else tw.deleteEntry(op.queue, op.position);
        break;
      case 'dedup':
        tw.setDedup(op.queue, op.slot, op.row ?? undefined);
        break;
    }
  }
}

/** Deletes the messages an entry left at refs 0 that nothing has referenced since. */
export function collectGarbage(tw: TableWriter, entry: UndoEntry): void {
  for (const id of entry.garbage) if (tw.getMessage(id)?.refs === 0) tw.deleteMessage(id);
}

/** An undo batch as stored (JSON: rows are small, and the codec is the tables' own). */
export function decodeUndoBatch(bytes: Uint8Array): UndoBatch {
  const batch = JSON.parse(Buffer.from(bytes).toString('utf8')) as UndoBatch;
  if (typeof batch?.firstLsn !== 'number' || typeof batch.lastLsn !== 'number' || !Array.isArray(batch.entries)) {
    throw new StoreError('STORE_CORRUPT', 'an undo batch is garbled');
  }
  return batch;
}
