// How a record changes the tables: one function, used by both store implementations (LMDB and
// memory) through the small TableWriter interface, so that the two cannot drift apart. Also the
// synchronous admission check (Projection) that commit() runs before it assigns LSNs: a record
// that would break an invariant (enqueue to a missing queue, a position that does not increase)
// is refused there, so it never reaches the log.
//
// Invariants kept (and checked again by verify.ts): every index entry's message exists and the
// message's refs equals the number of entries naming it; a message at refs 0 is deleted; a
// queue's count/bytes equal the sum over its entries and lastPosition >= every position in it;
// bindings name an existing queue and an existing (or built-in) exchange.

import { AssertionFailure } from '../src/core/assert.js';
import { StoreError } from './errors.js';
import type {
  BindRecord,
  ExchangeDeclareRecord,
  QueueDeclareRecord,
  StoreRecord,
} from './record.js';

/** Exchanges every broker has without declaring them; bindings to them are legal although no
 * exchange-declare record exists (DESIGN.md §4: built-ins are never replicated). */
export const BUILT_IN_EXCHANGES: ReadonlySet<string> = new Set([
  '',
  'amq.direct',
  'amq.topic',
  'amq.fanout',
  'amq.match',
  'qpid.management',
  'qmf.default.direct',
  'qmf.default.topic',
]);

export interface QueueRow {
  readonly declare: QueueDeclareRecord;
  readonly count: number;
  readonly bytes: number;
  readonly lastPosition: number;
}

export interface MessageInfo {
  readonly persistent: boolean;
  readonly expiresAtMs: number | null;
  readonly refs: number;
  /** Body length in bytes. */
  readonly size: number;
}

export interface EntryInfo {
  readonly messageId: number;
  readonly size: number;
  readonly persistent: boolean;
  readonly expiresAtMs: number | null;
  /** Reserved: the broker keeps delivery counts in memory; the table holds 0. */
  readonly deliveryCount: number;
}

/** One slot of a queue's duplicate-detection window (dedup records, record.ts). */
export interface DedupRow {
  readonly seq: number;
  readonly id: string;
}

/** Longest message-id key a dedup record may carry, in UTF-8 bytes (the broker hashes longer
 * ids: src/broker/dedup-window.ts). */
export const DEDUP_ID_BYTES_MAX = 1024;

/** The table operations applying a record needs. Every method works inside the current batch:
 * reads see the batch's own earlier writes. */
export interface TableWriter {
  getQueue(name: string): QueueRow | undefined;
  setQueue(name: string, row: QueueRow | undefined): void;
  getExchange(name: string): ExchangeDeclareRecord | undefined;
  setExchange(name: string, declare: ExchangeDeclareRecord | undefined): void;
  getBinding(exchange: string, queue: string, key: string): BindRecord | undefined;
  setBinding(exchange: string, queue: string, key: string, bind: BindRecord | undefined): void;
  bindingsOfQueue(queue: string): BindRecord[];
  bindingsOfExchange(exchange: string): BindRecord[];
  getMessage(messageId: number): MessageInfo | undefined;
  /** Stores a new message with its body. */
  addMessage(messageId: number, info: MessageInfo, body: Uint8Array): void;
  setMessageRefs(messageId: number, refs: number): void;
  deleteMessage(messageId: number): void;
  getEntry(queue: string, position: number): EntryInfo | undefined;
  /** Whether an index entry is there, even one that fails to decode. */
  hasEntry(queue: string, position: number): boolean;
  /** Keeps the message of an index entry that failed its checksum in the queue's quarantine. */
  quarantine(queue: string, position: number, messageId: number): void;
  putEntry(queue: string, position: number, entry: EntryInfo): void;
  deleteEntry(queue: string, position: number): void;
  /** Positions of every entry of the queue, in order (materialised: the caller deletes them). */
  entryPositions(queue: string): number[];
  getDedup(queue: string, slot: number): DedupRow | undefined;
  setDedup(queue: string, slot: number, row: DedupRow | undefined): void;
  /** Slots of the queue's window that hold an id (materialised: the caller deletes them). */
  dedupSlots(queue: string): number[];
}

/** Meta fields a batch of records can change. */
export interface ApplyEffects {
  epoch: number;
  lastMessageId: number;
}

/** 'log': records committed through the log (local or replicated). 'snapshot': records of a
 * snapshot stream, whose targets may arrive out of position order (a message is emitted when its
 * last holder is seen), so positions need only be new, not increasing. */
export type ApplyMode = 'log' | 'snapshot';

/** Admission modes: a local commit, replicated log entries, or snapshot records. */
export type AdmitMode = 'local' | 'replicated' | 'snapshot';

function corrupt(where: string, what: string): never {
  throw new StoreError('STORE_CORRUPT', `${where}: ${what}`);
}

function dropReference(tw: TableWriter, messageId: number, where: string): void {
  const message = tw.getMessage(messageId);
  if (message === undefined) corrupt(where, `message ${messageId} is referenced by an index entry but does not exist`);
  if (message.refs <= 1) tw.deleteMessage(messageId);
  else tw.setMessageRefs(messageId, message.refs - 1);
}

function removeEntry(tw: TableWriter, queue: string, position: number, expectedMessageId: number | null, where: string): number {
  const entry = tw.getEntry(queue, position);
  if (entry === undefined) corrupt(where, `queue ${JSON.stringify(queue)} has no entry at position ${position}`);
  if (expectedMessageId !== null && entry.messageId !== expectedMessageId) {
    corrupt(where, `queue ${JSON.stringify(queue)} position ${position} holds message ${entry.messageId}, not ${expectedMessageId}`);
  }
  tw.deleteEntry(queue, position);
  dropReference(tw, entry.messageId, where);
  return entry.size;
}

/** Moves a queue entry whose message (or the entry itself) failed its checksum to the queue's
 * quarantine. Unlike a dequeue it must work on rows that no longer decode: the entry is removed
 * whatever it holds, and a message whose header is garbled is removed outright (any other queue
 * holding it then finds it missing, and quarantines its entry too). Returns the size taken off
 * the queue's byte count (0 when nothing readable says). */
function quarantineEntry(tw: TableWriter, queue: string, position: number, messageId: number, where: string): number {
  if (!tw.hasEntry(queue, position)) corrupt(where, `quarantine of queue ${JSON.stringify(queue)} position ${position}: no such entry`);
  let size = 0;
  try {
    size = tw.getEntry(queue, position)?.size ?? 0;
  } catch {
    // The entry itself is damaged: its size is unknown.
  }
  tw.quarantine(queue, position, messageId);
  tw.deleteEntry(queue, position);
  let message;
  try {
    message = tw.getMessage(messageId);
  } catch {
    tw.deleteMessage(messageId);
    return size;
  }
  if (message === undefined) return size;
  if (size === 0) size = message.size;
  if (message.refs <= 1) tw.deleteMessage(messageId);
  else tw.setMessageRefs(messageId, message.refs - 1);
  return size;
}

/** Applies one record. Throws StoreError('STORE_CORRUPT') naming `where` when the tables do
 * not allow it (the caller aborts the whole batch). */
export function applyRecord(tw: TableWriter, record: StoreRecord, where: string, effects: ApplyEffects, mode: ApplyMode): void {
  switch (record.kind) {
    case 'queue-declare': {
      const existing = tw.getQueue(record.queue);
      // A re-declare replaces the declare (arguments may change) but keeps the messages.
      tw.setQueue(record.queue, existing ? { ...existing, declare: record } : { declare: record, count: 0, bytes: 0, lastPosition: 0 });
      return;
    }
    case 'queue-delete': {
      if (!tw.getQueue(record.queue)) corrupt(where, `queue-delete of ${JSON.stringify(record.queue)}: no such queue`);
      // Deleting a queue dequeues everything still on it.
      for (const position of tw.entryPositions(record.queue)) removeEntry(tw, record.queue, position, null, where);
      for (const b of tw.bindingsOfQueue(record.queue)) tw.setBinding(b.exchange, b.queue, b.key, undefined);
      for (const slot of tw.dedupSlots(record.queue)) tw.setDedup(record.queue, slot, undefined);
      tw.setQueue(record.queue, undefined);
      return;
    }
    case 'exchange-declare':
      tw.setExchange(record.exchange, record);
      return;
    case 'exchange-delete': {
      if (!tw.getExchange(record.exchange)) corrupt(where, `exchange-delete of ${JSON.stringify(record.exchange)}: no such exchange`);
      for (const b of tw.bindingsOfExchange(record.exchange)) tw.setBinding(b.exchange, b.queue, b.key, undefined);
      tw.setExchange(record.exchange, undefined);
      return;
    }
    case 'bind':
      if (!tw.getQueue(record.queue)) corrupt(where, `bind to queue ${JSON.stringify(record.queue)}: no such queue`);
      if (!BUILT_IN_EXCHANGES.has(record.exchange) && !tw.getExchange(record.exchange)) {
        corrupt(where, `bind from exchange ${JSON.stringify(record.exchange)}: no such exchange`);
      }
      tw.setBinding(record.exchange, record.queue, record.key, record);
      return;
    case 'unbind':
      if (!tw.getBinding(record.exchange, record.queue, record.key)) {
        corrupt(where, `unbind ${JSON.stringify(record.exchange)} -> ${JSON.stringify(record.queue)} key ${JSON.stringify(record.key)}: no such binding`);
      }
      tw.setBinding(record.exchange, record.queue, record.key, undefined);
      return;
    case 'enqueue': {
      const size = record.body.byteLength;
      const existing = tw.getMessage(record.messageId);
      if (existing) {
        // The same message entering more queues later (a re-route): it gains references; the
        // body is already stored.
        tw.setMessageRefs(record.messageId, existing.refs + record.targets.length);
      } else {
        tw.addMessage(record.messageId, { persistent: record.persistent, expiresAtMs: record.expiresAtMs, refs: record.targets.length, size }, record.body);
      }
      for (const t of record.targets) {
        const row = tw.getQueue(t.queue);
        if (!row) corrupt(where, `enqueue of message ${record.messageId} to queue ${JSON.stringify(t.queue)}: no such queue`);
        if (mode === 'log' && t.position <= row.lastPosition) {
          corrupt(where, `enqueue of message ${record.messageId} to queue ${JSON.stringify(t.queue)} at position ${t.position}: positions must increase (last ${row.lastPosition})`);
        }
        if (mode === 'snapshot' && tw.getEntry(t.queue, t.position)) {
          corrupt(where, `enqueue of message ${record.messageId} to queue ${JSON.stringify(t.queue)} at position ${t.position}: position already taken`);
        }
        tw.putEntry(t.queue, t.position, { messageId: record.messageId, size, persistent: record.persistent, expiresAtMs: record.expiresAtMs, deliveryCount: 0 });
        tw.setQueue(t.queue, { declare: row.declare, count: row.count + 1, bytes: row.bytes + size, lastPosition: Math.max(row.lastPosition, t.position) });
      }
      if (record.messageId > effects.lastMessageId) effects.lastMessageId = record.messageId;
      return;
    }
    case 'dequeue': {
      const row = tw.getQueue(record.queue);
      if (!row) corrupt(where, `dequeue from queue ${JSON.stringify(record.queue)}: no such queue`);
      if (record.cause === 'quarantined') {
        const size = quarantineEntry(tw, record.queue, record.position, record.messageId, where);
        tw.setQueue(record.queue, { declare: row.declare, count: row.count - 1, bytes: Math.max(0, row.bytes - size), lastPosition: row.lastPosition });
        return;
      }
      const size = removeEntry(tw, record.queue, record.position, record.messageId, where);
      tw.setQueue(record.queue, { declare: row.declare, count: row.count - 1, bytes: row.bytes - size, lastPosition: row.lastPosition });
      return;
    }
    case 'epoch':
      if (record.epoch > effects.epoch) effects.epoch = record.epoch;
      return;
    case 'skip':
      // Records the primary did not replicate: nothing to apply, only LSNs to account for.
      return;
    case 'txn':
      // Marks where a transaction's records end; they apply one by one after it.
      return;
    case 'dedup':
      if (!tw.getQueue(record.queue)) corrupt(where, `dedup of queue ${JSON.stringify(record.queue)}: no such queue`);
      tw.setDedup(record.queue, record.slot, { seq: record.seq, id: record.id });
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Admission: what commit() checks synchronously, against the state every queued (not yet
// committed) mutation will produce.

/** Longest queue name, exchange name or binding key, in UTF-8 bytes: names are LMDB keys, and
 * LMDB keys are limited (a binding's key holds three of them). */
export const NAME_BYTES_MAX = 512;

function nameTooLong(name: string): boolean {
  return typeof name !== 'string' || Buffer.byteLength(name, 'utf8') > NAME_BYTES_MAX;
}

function bindingKey(exchange: string, queue: string, key: string): string {
  return JSON.stringify([exchange, queue, key]);
}

export interface ProjectionSource {
  queues(): Iterable<{ readonly declare: { readonly queue: string }; readonly lastPosition: number }>;
  exchanges(): Iterable<{ readonly exchange: string }>;
  bindings(): Iterable<{ readonly exchange: string; readonly queue: string; readonly key: string }>;
}

/** The names that will exist once every admitted mutation has been applied, and each queue's
 * last position: enough to refuse a bad record before it gets an LSN. Small (no messages). */
export class Projection {
  private queues = new Map<string, number>();
  private exchanges = new Set<string>();
  private bindingSet = new Set<string>();

  constructor(source: ProjectionSource) {
    this.reset(source);
  }

  /** Back to the committed state (after a failed batch dropped every queued mutation). */
  reset(source: ProjectionSource): void {
    this.queues = new Map();
    for (const q of source.queues()) this.queues.set(q.declare.queue, q.lastPosition);
    this.exchanges = new Set();
    for (const e of source.exchanges()) this.exchanges.add(e.exchange);
    this.bindingSet = new Set();
    for (const b of source.bindings()) this.bindingSet.add(bindingKey(b.exchange, b.queue, b.key));
  }

  /** A snapshot's last positions (endSnapshot): positions continue above them. */
  raisePositions(lastPositions: Readonly<Record<string, number>>): void {
    for (const [queue, position] of Object.entries(lastPositions)) {
      const current = this.queues.get(queue);
      if (current !== undefined && position > current) this.queues.set(queue, position);
    }
  }

  /** Checks `records` in order and, if all pass, records their effect. `fail` throws the error
   * the caller wants (an AssertionFailure for local commits: the broker broke an invariant; a
   * StoreError for records from elsewhere). Returns the highest message id seen (0 if none). */
  admit(records: readonly StoreRecord[], fail: (what: string) => never, mode: AdmitMode): number {
    // Changes are staged so that a refused list leaves the projection untouched.
    const queues = new Map<string, number | null>();
    const exchanges = new Map<string, boolean>();
    const bindings = new Map<string, boolean>();
    const queueLast = (name: string): number | null => {
      const staged = queues.get(name);
      if (staged !== undefined) return staged;
      return this.queues.get(name) ?? null;
    };
    const exchangeExists = (name: string): boolean => exchanges.get(name) ?? this.exchanges.has(name);
    const bindingExists = (k: string): boolean => bindings.get(k) ?? this.bindingSet.has(k);
    let maxMessageId = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const at = `record ${i} (${r.kind})`;
      switch (r.kind) {
        case 'queue-declare':
          if (nameTooLong(r.queue)) fail(`${at}: queue name is not a string of at most ${NAME_BYTES_MAX} bytes`);
          if (queueLast(r.queue) === null) queues.set(r.queue, 0);
          break;
        case 'queue-delete':
          if (queueLast(r.queue) === null) fail(`${at}: queue ${JSON.stringify(r.queue)} does not exist`);
          queues.set(r.queue, null);
          // Bindings of the queue go with it; the staged view must forget them too.
          for (const k of [...this.bindingSet, ...bindings.keys()]) {
            const [, q] = JSON.parse(k) as [string, string, string];
            if (q === r.queue) bindings.set(k, false);
          }
          break;
        case 'exchange-declare':
          if (nameTooLong(r.exchange)) fail(`${at}: exchange name is not a string of at most ${NAME_BYTES_MAX} bytes`);
          if (!exchangeExists(r.exchange)) exchanges.set(r.exchange, true);
          break;
        case 'exchange-delete':
          if (!exchangeExists(r.exchange)) fail(`${at}: exchange ${JSON.stringify(r.exchange)} does not exist`);
          exchanges.set(r.exchange, false);
          for (const k of [...this.bindingSet, ...bindings.keys()]) {
            const [e] = JSON.parse(k) as [string, string, string];
            if (e === r.exchange) bindings.set(k, false);
          }
          break;
        case 'bind':
          if (nameTooLong(r.key)) fail(`${at}: binding key is not a string of at most ${NAME_BYTES_MAX} bytes`);
          if (queueLast(r.queue) === null) fail(`${at}: queue ${JSON.stringify(r.queue)} does not exist`);
          if (!BUILT_IN_EXCHANGES.has(r.exchange) && !exchangeExists(r.exchange)) fail(`${at}: exchange ${JSON.stringify(r.exchange)} does not exist`);
          bindings.set(bindingKey(r.exchange, r.queue, r.key), true);
          break;
        case 'unbind': {
          const k = bindingKey(r.exchange, r.queue, r.key);
          if (!bindingExists(k)) fail(`${at}: binding ${k} does not exist`);
          bindings.set(k, false);
          break;
        }
        case 'enqueue': {
          if (!Number.isSafeInteger(r.messageId) || r.messageId < 1) fail(`${at}: messageId ${r.messageId} is not a positive safe integer`);
          if (!(r.body instanceof Uint8Array)) fail(`${at}: body is not a Uint8Array`);
          if (r.targets.length === 0) fail(`${at}: message ${r.messageId} has no targets`);
          const seen = new Set<string>();
          for (const t of r.targets) {
            const last = queueLast(t.queue);
            if (last === null) fail(`${at}: message ${r.messageId} targets queue ${JSON.stringify(t.queue)}, which does not exist`);
            if (seen.has(t.queue)) fail(`${at}: message ${r.messageId} targets queue ${JSON.stringify(t.queue)} twice`);
            seen.add(t.queue);
            if (!Number.isSafeInteger(t.position) || t.position < 1) fail(`${at}: position ${t.position} is not a positive safe integer`);
            if (mode !== 'snapshot' && t.position <= last) {
              fail(`${at}: message ${r.messageId} at position ${t.position} of queue ${JSON.stringify(t.queue)}: positions must increase (last ${last})`);
            }
            queues.set(t.queue, Math.max(last, t.position));
          }
          if (r.messageId > maxMessageId) maxMessageId = r.messageId;
          break;
        }
        case 'dequeue': {
          const last = queueLast(r.queue);
          if (last === null) fail(`${at}: queue ${JSON.stringify(r.queue)} does not exist`);
          if (!Number.isSafeInteger(r.position) || r.position < 1 || r.position > last) {
            fail(`${at}: position ${r.position} was never enqueued on queue ${JSON.stringify(r.queue)} (last ${last})`);
          }
          break;
        }
        case 'epoch':
          if (!Number.isSafeInteger(r.epoch) || r.epoch < 0) fail(`${at}: epoch ${r.epoch} is not a safe integer >= 0`);
          break;
        case 'skip':
          // Only replicated entries carry skips; appendReplicated checks their span.
          if (mode !== 'replicated') fail(`${at}: skip records only arrive by replication`);
          break;
        case 'txn':
          if (!Number.isSafeInteger(r.lastLsn) || r.lastLsn < 1) fail(`${at}: txn lastLsn ${r.lastLsn} is not a positive safe integer`);
          break;
        case 'dedup':
          if (queueLast(r.queue) === null) fail(`${at}: queue ${JSON.stringify(r.queue)} does not exist`);
          if (!Number.isSafeInteger(r.slot) || r.slot < 0) fail(`${at}: dedup slot ${r.slot} is not a safe integer >= 0`);
          if (!Number.isSafeInteger(r.seq) || r.seq < 0) fail(`${at}: dedup seq ${r.seq} is not a safe integer >= 0`);
          if (typeof r.id !== 'string' || Buffer.byteLength(r.id, 'utf8') > DEDUP_ID_BYTES_MAX) fail(`${at}: dedup id is not a string of at most ${DEDUP_ID_BYTES_MAX} bytes`);
          break;
        default:
          fail(`${at}: unknown record kind`);
      }
    }
    for (const [name, last] of queues) {
      if (last === null) this.queues.delete(name);
      else this.queues.set(name, last);
    }
    for (const [name, exists] of exchanges) {
      if (exists) this.exchanges.add(name);
      else this.exchanges.delete(name);
    }
    for (const [k, exists] of bindings) {
      if (exists) this.bindingSet.add(k);
      else this.bindingSet.delete(k);
    }
    return maxMessageId;
  }
}

/** The error a local commit gets for a record that breaks an invariant: a bug in the caller. */
export function localAdmissionFailure(what: string): never {
  throw new AssertionFailure(`store commit refused: ${what}`);
}
