// The LMDB store's table rows (everything but the log, whose values are codec.ts records).
// Fixed little-endian headers, each starting with a layout version byte, decoded with explicit
// checks: a garbled row is reported (STORE_CORRUPT naming the table and key), never trusted.
//
//   messages  id -> [u8 v][u8 persistent][u8 hasExpiry][f64 expiresAtMs][u32 refs][body...]
//   enqueues  [queue, position] -> [u8 v][f64 messageId][u32 size][u8 persistent][u8 hasExpiry]
//                                  [f64 expiresAtMs][u32 deliveryCount]
//   queues    name -> [u8 v][f64 count][f64 bytes][f64 lastPosition][queue-declare record...]
//   meta      'formatVersion' -> JSON number; 'state' -> JSON object (StoreMeta minus format)

import type { EntryInfo, MessageInfo, QueueRow } from './apply.js';
import { decodeRecord, encodeRecord } from './codec.js';
import { StoreError } from './errors.js';
import type { StoreMeta, StoreRole } from './store.js';
import type { MutableMeta } from './ticket.js';

const ROW_VERSION = 1;
export const MESSAGE_HEADER_BYTES = 15;
const REFS_OFFSET = 11;
const ENTRY_BYTES = 27;
const QUEUE_HEADER_BYTES = 25;

function rowError(table: string, key: unknown, what: string): StoreError {
  return new StoreError('STORE_CORRUPT', `${table} table entry ${JSON.stringify(key)} is garbled: ${what}`);
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function checkUint(v: number, table: string, key: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw rowError(table, key, `${what} is ${v}, not a safe integer >= 0`);
  return v;
}

function checkBool(v: number, table: string, key: unknown, what: string): boolean {
  if (v > 1) throw rowError(table, key, `${what} is ${v}, not 0 or 1`);
  return v === 1;
}

// --- messages ------------------------------------------------------------------------------------

export function encodeMessage(info: MessageInfo, body: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES + body.byteLength);
  b[0] = ROW_VERSION;
  b[1] = info.persistent ? 1 : 0;
  b[2] = info.expiresAtMs === null ? 0 : 1;
  b.writeDoubleLE(info.expiresAtMs ?? 0, 3);
  b.writeUInt32LE(info.refs, REFS_OFFSET);
  b.set(body, MESSAGE_HEADER_BYTES);
  return b;
}

/** A copy of a message row with a new reference count. */
export function withRefs(row: Uint8Array, refs: number): Buffer {
  const b = Buffer.from(row);
  b.writeUInt32LE(refs, REFS_OFFSET);
  return b;
}

export function decodeMessageInfo(row: Uint8Array, key: number): MessageInfo {
  if (row.byteLength < MESSAGE_HEADER_BYTES) throw rowError('messages', key, `${row.byteLength} bytes, shorter than the ${MESSAGE_HEADER_BYTES}-byte header`);
  if (row[0] !== ROW_VERSION) throw rowError('messages', key, `row version ${row[0]}`);
  const v = view(row);
  const persistent = checkBool(row[1]!, 'messages', key, 'persistent');
  const hasExpiry = checkBool(row[2]!, 'messages', key, 'expiry flag');
  const expiresAtMs = hasExpiry ? v.getFloat64(3, true) : null;
  if (expiresAtMs !== null && !Number.isFinite(expiresAtMs)) throw rowError('messages', key, `expiresAtMs is ${expiresAtMs}`);
  const refs = v.getUint32(REFS_OFFSET, true);
  return { persistent, expiresAtMs, refs, size: row.byteLength - MESSAGE_HEADER_BYTES };
}

/** Message refs straight from the header (the hot path of a dequeue). */
export function messageRefsOf(row: Uint8Array, key: number): number {
  if (row.byteLength < MESSAGE_HEADER_BYTES || row[0] !== ROW_VERSION) return decodeMessageInfo(row, key).refs;
  return view(row).getUint32(REFS_OFFSET, true);
}

// --- enqueues ------------------------------------------------------------------------------------

export function encodeEntry(e: EntryInfo): Buffer {
  const b = Buffer.allocUnsafe(ENTRY_BYTES);
  b[0] = ROW_VERSION;
  b.writeDoubleLE(e.messageId, 1);
  b.writeUInt32LE(e.size, 9);
  b[13] = e.persistent ? 1 : 0;
  b[14] = e.expiresAtMs === null ? 0 : 1;
  b.writeDoubleLE(e.expiresAtMs ?? 0, 15);
  b.writeUInt32LE(e.deliveryCount, 23);
  return b;
}

export function decodeEntry(row: Uint8Array, key: unknown): EntryInfo {
  if (row.byteLength !== ENTRY_BYTES) throw rowError('enqueues', key, `${row.byteLength} bytes, expected ${ENTRY_BYTES}`);
  if (row[0] !== ROW_VERSION) throw rowError('enqueues', key, `row version ${row[0]}`);
  const v = view(row);
  const messageId = checkUint(v.getFloat64(1, true), 'enqueues', key, 'messageId');
  const size = v.getUint32(9, true);
  const persistent = checkBool(row[13]!, 'enqueues', key, 'persistent');
  const hasExpiry = checkBool(row[14]!, 'enqueues', key, 'expiry flag');
  const expiresAtMs = hasExpiry ? v.getFloat64(15, true) : null;
  if (expiresAtMs !== null && !Number.isFinite(expiresAtMs)) throw rowError('enqueues', key, `expiresAtMs is ${expiresAtMs}`);
  return { messageId, size, persistent, expiresAtMs, deliveryCount: v.getUint32(23, true) };
}

/** A [queue, position] key read back from LMDB. */
export function checkEntryKey(key: unknown): { queue: string; position: number } {
  if (!Array.isArray(key) || key.length !== 2 || typeof key[0] !== 'string' || !Number.isSafeInteger(key[1]) || (key[1] as number) < 1) {
    throw new StoreError('STORE_CORRUPT', `enqueues table has a malformed key ${JSON.stringify(key)}`);
  }
  return { queue: key[0], position: key[1] as number };
}

// --- queues --------------------------------------------------------------------------------------

export function encodeQueueRow(row: QueueRow): Buffer {
  const declare = encodeRecord(row.declare);
  const b = Buffer.allocUnsafe(QUEUE_HEADER_BYTES + declare.length);
  b[0] = ROW_VERSION;
  b.writeDoubleLE(row.count, 1);
  b.writeDoubleLE(row.bytes, 9);
  b.writeDoubleLE(row.lastPosition, 17);
  b.set(declare, QUEUE_HEADER_BYTES);
  return b;
}

export function decodeQueueRow(row: Uint8Array, key: string): QueueRow {
  if (row.byteLength < QUEUE_HEADER_BYTES) throw rowError('queues', key, `${row.byteLength} bytes, shorter than the ${QUEUE_HEADER_BYTES}-byte header`);
  if (row[0] !== ROW_VERSION) throw rowError('queues', key, `row version ${row[0]}`);
  const v = view(row);
  const count = checkUint(v.getFloat64(1, true), 'queues', key, 'count');
  const bytes = checkUint(v.getFloat64(9, true), 'queues', key, 'bytes');
  const lastPosition = checkUint(v.getFloat64(17, true), 'queues', key, 'lastPosition');
  const declare = decodeRecord(row.subarray(QUEUE_HEADER_BYTES), `queues table entry ${JSON.stringify(key)}`);
  if (declare.kind !== 'queue-declare') throw rowError('queues', key, `holds a ${declare.kind} record, not a queue-declare`);
  if (declare.queue !== key) throw rowError('queues', key, `declares queue ${JSON.stringify(declare.queue)}`);
  return { declare, count, bytes, lastPosition };
}

// --- meta ----------------------------------------------------------------------------------------

export type PersistedMeta = Omit<StoreMeta, 'formatVersion'>;

export function encodeMetaState(meta: StoreMeta): Buffer {
  const state: PersistedMeta = {
    storeId: meta.storeId,
    epoch: meta.epoch,
    epochHistory: meta.epochHistory,
    firstLsn: meta.firstLsn,
    lastLsn: meta.lastLsn,
    logBytes: meta.logBytes,
    lastMessageId: meta.lastMessageId,
    lastRole: meta.lastRole,
    haState: meta.haState,
    snapshotIncomplete: meta.snapshotIncomplete,
    undoFromLsn: meta.undoFromLsn,
  };
  return Buffer.from(JSON.stringify(state));
}

const ROLES: readonly StoreRole[] = ['standalone', 'primary', 'backup'];

/** Decodes meta 'state'; `where` names the store in errors. */
export function decodeMetaState(bytes: Uint8Array, formatVersion: number, where: string): MutableMeta {
  const bad = (what: string): never => {
    throw new StoreError('STORE_CORRUPT', `${where}: meta table key 'state' is garbled: ${what}`);
  };
  let o: unknown;
  try {
    o = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    bad('not JSON');
  }
  if (typeof o !== 'object' || o === null) return bad('not an object');
  const m = o as Record<string, unknown>;
  const uint = (k: string): number => {
    const v = m[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${k} is ${JSON.stringify(v)}, not a safe integer >= 0`);
    return v as number;
  };
  const str = (k: string): string => {
    const v = m[k];
    if (typeof v !== 'string') bad(`${k} is ${JSON.stringify(v)}, not a string`);
    return v as string;
  };
  const lastRole = str('lastRole') as StoreRole;
  if (!ROLES.includes(lastRole)) bad(`lastRole ${JSON.stringify(lastRole)} is not one of ${ROLES.join(', ')}`);
  if (typeof m['snapshotIncomplete'] !== 'boolean') bad('snapshotIncomplete is not a boolean');
  // Stores written before the epoch history existed have none: [] (nothing to compare).
  const rawHistory = m['epochHistory'] ?? [];
  if (!Array.isArray(rawHistory)) bad('epochHistory is not a list');
  const epochHistory = (rawHistory as unknown[]).map((e, i) => {
    const entry = e as { epoch?: unknown; firstLsn?: unknown } | null;
    const ok = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (!entry || !ok(entry.epoch) || !ok(entry.firstLsn)) bad(`epochHistory[${i}] is ${JSON.stringify(e)}, not {epoch, firstLsn}`);
    return { epoch: entry?.epoch as number, firstLsn: entry?.firstLsn as number };
  });
  const meta: MutableMeta = {
    storeId: str('storeId'),
    formatVersion,
    epoch: uint('epoch'),
    epochHistory,
    firstLsn: uint('firstLsn'),
    lastLsn: uint('lastLsn'),
    logBytes: uint('logBytes'),
    lastMessageId: uint('lastMessageId'),
    lastRole,
    haState: str('haState'),
    snapshotIncomplete: m['snapshotIncomplete'] as boolean,
    // Stores from before the undo log can take nothing back.
    undoFromLsn: m['undoFromLsn'] === undefined ? uint('lastLsn') + 1 : uint('undoFromLsn'),
  };
  if (meta.firstLsn < 1 || meta.firstLsn > meta.lastLsn + 1) bad(`firstLsn ${meta.firstLsn} is outside 1..lastLsn+1 (${meta.lastLsn + 1})`);
  return meta;
}

export function decodeFormatVersion(bytes: Uint8Array, where: string): number {
  const text = Buffer.from(bytes).toString('utf8');
  const v = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(v) || v < 1) {
    throw new StoreError('STORE_CORRUPT', `${where}: meta table key 'formatVersion' is garbled: ${JSON.stringify(text.slice(0, 40))}`);
  }
  return v;
}
