// The LMDB store's table rows. Fixed little-endian headers, each starting with a layout version
// byte, decoded with explicit checks: a garbled row is reported (STORE_CORRUPT naming the table
// and key), never trusted. Every value is sealed with a CRC-32 seeded with its key (checksum.ts),
// so that a changed byte, or a value under the wrong key, is found when the row is read.
//
//   log       lsn -> [record (codec.ts)][u32 crc seeded with the lsn]
//   messages  id -> [u8 v][u8 persistent][u8 hasExpiry][f64 expiresAtMs][u32 refs][u32 bodyCrc]
//                   [u32 headerCrc][body...]   (the header and the body have separate CRCs: refs
//                   change on every fan-out dequeue, the body never does)
//   enqueues  [queue, position] -> [u8 v][f64 messageId][u32 size][u8 persistent][u8 hasExpiry]
//                                  [f64 expiresAtMs][u32 deliveryCount][u32 crc]
//   queues    name -> [u8 v][f64 count][f64 bytes][f64 lastPosition][queue-declare record][u32 crc]
//   exchanges name -> [exchange-declare record][u32 crc];  bindings key -> [bind record][u32 crc]
//   dedup     [queue, slot] -> [u8 v][f64 seq][message-id key, UTF-8][u32 crc]
//   quarantine [queue, position] -> [u8 v][f64 messageId][f64 lsn][u32 crc][the message row as found]
//   meta      'formatVersion' -> decimal text (unsealed: any version must be able to read it);
//             'state' -> [JSON (StoreMeta minus format)][u32 crc]; 'recovery' -> [JSON][u32 crc]

import type { DedupRow, EntryInfo, MessageInfo, QueueRow } from './apply.js';
import { checksum, digitsSeed, hex, numberSeed, seal, SEAL_BYTES, textSeed, unseal } from './checksum.js';
import { decodeRecord, decodedFrom, encodeRecord } from './codec.js';
import { StoreError } from './errors.js';
import { readF64LE, readU32LE } from './little-endian.js';
import type { BindRecord, ExchangeDeclareRecord, StoreRecord } from './record.js';
import type { QuarantinedMessage, RecoveryReport } from './recovery.js';
import type { StoreMeta, StoreRole } from './store.js';
import { decodeUndoBatch, type UndoBatch } from './undo.js';
import type { MutableMeta } from './ticket.js';

const ROW_VERSION = 2;
export const MESSAGE_HEADER_BYTES = 23;
const REFS_OFFSET = 11;
const BODY_CRC_OFFSET = 15;
const HEADER_CRC_OFFSET = 19;
const ENTRY_BYTES = 27;
const QUEUE_HEADER_BYTES = 25;

function rowError(table: string, key: unknown, what: string): StoreError {
  return new StoreError('STORE_CORRUPT', `${table} table entry ${JSON.stringify(key)} is garbled: ${what}`);
}

function checkUint(v: number, table: string, key: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw rowError(table, key, `${what} is ${v}, not a safe integer >= 0`);
  return v;
}

function checkBool(v: number, table: string, key: unknown, what: string): boolean {
  if (v > 1) throw rowError(table, key, `${what} is ${v}, not 0 or 1`);
  return v === 1;
}

// --- log -----------------------------------------------------------------------------------------

/** The stored value of the log entry at `lsn` (into `scratch` when it fits). */
export function sealLogValue(lsn: number, encoded: Uint8Array, scratch?: Buffer): Buffer {
  return seal(encoded, numberSeed(lsn), scratch);
}

/** The encoded record of a log value, checked. */
export function openLogValue(lsn: number, value: Uint8Array): Uint8Array {
  return unseal(value, numberSeed(lsn), `log record at LSN ${lsn}`);
}

/** A log value's record bytes, decoded and checked. */
export function decodeLogValue(lsn: number, value: Uint8Array): StoreRecord {
  return decodeRecord(openLogValue(lsn, value), `log record at LSN ${lsn}`);
}

/** decodeLogValue for a record that will be shipped: its checked bytes go with it (codec.ts
 * decodedFrom), so a catch-up sends the log as stored. `value` must not be reused. */
export function decodeLogValueToShip(lsn: number, value: Uint8Array): StoreRecord {
  const encoded = openLogValue(lsn, value);
  return decodedFrom(decodeRecord(encoded, `log record at LSN ${lsn}`), encoded);
}

// --- exchanges, bindings: a declare record and its seal -------------------------------------------

export function encodeExchangeRow(declare: ExchangeDeclareRecord): Buffer {
  return seal(encodeRecord(declare), textSeed(declare.exchange));
}

export function decodeExchangeRow(value: Uint8Array, key: unknown): ExchangeDeclareRecord {
  const where = `exchanges table entry ${JSON.stringify(key)}`;
  const r = decodeRecord(unseal(value, textSeed(String(key)), where), where);
  if (r.kind !== 'exchange-declare' || r.exchange !== key) throw rowError('exchanges', key, `holds a ${r.kind} record for another name`);
  return r;
}

const bindingSeed = (exchange: string, queue: string, key: string): number => textSeed(JSON.stringify([exchange, queue, key]));

export function encodeBindingRow(bind: BindRecord): Buffer {
  return seal(encodeRecord(bind), bindingSeed(bind.exchange, bind.queue, bind.key));
}

export function decodeBindingRow(value: Uint8Array, key: unknown): BindRecord {
  const where = `bindings table entry ${JSON.stringify(key)}`;
  const [exchange, queue, k] = Array.isArray(key) && key.length === 3 ? (key as unknown[]).map(String) : ['', '', ''];
  const r = decodeRecord(unseal(value, bindingSeed(exchange!, queue!, k!), where), where);
  if (r.kind !== 'bind' || r.exchange !== exchange || r.queue !== queue || r.key !== k) throw rowError('bindings', key, 'holds a different record');
  return r;
}

// --- messages ------------------------------------------------------------------------------------

function headerChecksum(row: Uint8Array, messageId: number): number {
  return checksum(row.subarray(0, HEADER_CRC_OFFSET), numberSeed(messageId));
}

/** A message row, in `into` when it is large enough (the batch writer's scratch: LMDB copies a
 * value at put). */
export function encodeMessage(messageId: number, info: MessageInfo, body: Uint8Array, into?: Buffer): Buffer {
  const n = MESSAGE_HEADER_BYTES + body.byteLength;
  const b = into !== undefined && into.length >= n ? into.subarray(0, n) : Buffer.allocUnsafe(n);
  b[0] = ROW_VERSION;
  b[1] = info.persistent ? 1 : 0;
  b[2] = info.expiresAtMs === null ? 0 : 1;
  b.writeDoubleLE(info.expiresAtMs ?? 0, 3);
  b.writeUInt32LE(info.refs, REFS_OFFSET);
  b.writeUInt32LE(checksum(body, numberSeed(messageId)), BODY_CRC_OFFSET);
  b.writeUInt32LE(headerChecksum(b, messageId), HEADER_CRC_OFFSET);
  b.set(body, MESSAGE_HEADER_BYTES);
  return b;
}

/** A copy of a message row with a new reference count (and header CRC; the body's stays). */
export function withRefs(row: Uint8Array, messageId: number, refs: number): Buffer {
  const b = Buffer.from(row);
  b.writeUInt32LE(refs, REFS_OFFSET);
  b.writeUInt32LE(headerChecksum(b, messageId), HEADER_CRC_OFFSET);
  return b;
}

/** The header of a message row, checked (its own CRC; not the body's, which costs a pass over it:
 * bodyProblem checks that). */
export function decodeMessageInfo(row: Uint8Array, key: number): MessageInfo {
  if (row.byteLength < MESSAGE_HEADER_BYTES) throw rowError('messages', key, `${row.byteLength} bytes, shorter than the ${MESSAGE_HEADER_BYTES}-byte header`);
  if (row[0] !== ROW_VERSION) throw rowError('messages', key, `row version ${row[0]}`);
  const stored = readU32LE(row, HEADER_CRC_OFFSET);
  const computed = headerChecksum(row, key);
  if (stored !== computed) throw new StoreError('STORE_CORRUPT', `message ${key}: its header fails its checksum (stored ${hex(stored)}, computed ${hex(computed)})`);
  const persistent = checkBool(row[1]!, 'messages', key, 'persistent');
  const hasExpiry = checkBool(row[2]!, 'messages', key, 'expiry flag');
  const expiresAtMs = hasExpiry ? readF64LE(row, 3) : null;
  if (expiresAtMs !== null && !Number.isFinite(expiresAtMs)) throw rowError('messages', key, `expiresAtMs is ${expiresAtMs}`);
  const refs = readU32LE(row, REFS_OFFSET);
  return { persistent, expiresAtMs, refs, size: row.byteLength - MESSAGE_HEADER_BYTES };
}

/** The body CRC a message row keeps (its header must have been checked). */
export function storedBodyCrc(row: Uint8Array): number {
  return readU32LE(row, BODY_CRC_OFFSET);
}

/** Why a message row's body fails its CRC, or null (the header is decodeMessageInfo's). */
export function bodyProblem(row: Uint8Array, messageId: number): string | null {
  const stored = readU32LE(row, BODY_CRC_OFFSET);
  const computed = checksum(row.subarray(MESSAGE_HEADER_BYTES), numberSeed(messageId));
  return stored === computed ? null : `message ${messageId}: its body fails its checksum (stored ${hex(stored)}, computed ${hex(computed)})`;
}

/** The body of a message row, both CRCs checked: STORE_CORRUPT naming the message otherwise. A
 * corrupt message is never handed out altered. */
export function messageBody(row: Uint8Array, messageId: number): Uint8Array {
  decodeMessageInfo(row, messageId);
  const problem = bodyProblem(row, messageId);
  if (problem !== null) throw new StoreError('STORE_CORRUPT', problem);
  return row.subarray(MESSAGE_HEADER_BYTES);
}

/** Message refs from the checked header (the hot path of a dequeue). */
export function messageRefsOf(row: Uint8Array, key: number): number {
  return decodeMessageInfo(row, key).refs;
}

// --- enqueues ------------------------------------------------------------------------------------

/** An entry's seed: the CRC of `queue NUL position`, computed as the position's digits continuing
 * from the CRC of `queue NUL`, which is kept per queue (the same value as one pass over the joined
 * text; a string join and a CRC of the queue's name per row were 0.2% of the durable path). */
const entrySeed = (queue: string, position: number): number => digitsSeed(position, queuePrefixSeed(queue));

const QUEUE_PREFIX_SEEDS_MAX = 4096;
const queuePrefixSeeds = new Map<string, number>();

function queuePrefixSeed(queue: string): number {
  let seed = queuePrefixSeeds.get(queue);
  if (seed === undefined) {
    // Bounded: a broker that made many short-lived queues starts over rather than grow.
    if (queuePrefixSeeds.size >= QUEUE_PREFIX_SEEDS_MAX) queuePrefixSeeds.clear();
    seed = textSeed(`${queue}\u0000`);
    queuePrefixSeeds.set(queue, seed);
  }
  return seed;
}

/** An index entry, sealed, in `into` when it is large enough (as encodeMessage). */
export function encodeEntry(queue: string, position: number, e: EntryInfo, into?: Buffer): Buffer {
  const n = ENTRY_BYTES + SEAL_BYTES;
  const b = into !== undefined && into.length >= n ? into.subarray(0, n) : Buffer.allocUnsafe(n);
  b[0] = ROW_VERSION;
  b.writeDoubleLE(e.messageId, 1);
  b.writeUInt32LE(e.size, 9);
  b[13] = e.persistent ? 1 : 0;
  b[14] = e.expiresAtMs === null ? 0 : 1;
  b.writeDoubleLE(e.expiresAtMs ?? 0, 15);
  b.writeUInt32LE(e.deliveryCount, 23);
  b.writeUInt32LE(checksum(b.subarray(0, ENTRY_BYTES), entrySeed(queue, position)), ENTRY_BYTES);
  return b;
}

// Read for every queued message a snapshot ships and every entry a dequeue looks up: the row's
// name for a checksum error is built only when there is one (a JSON text per row, built eagerly,
// was most of this function's 5% of a snapshot's CPU).
export function decodeEntry(sealed: Uint8Array, key: { queue: string; position: number }): EntryInfo {
  const row = unseal(sealed, entrySeed(key.queue, key.position), () => `enqueues table entry ${JSON.stringify([key.queue, key.position])}`);
  const k = [key.queue, key.position];
  if (row.byteLength !== ENTRY_BYTES) throw rowError('enqueues', k, `${row.byteLength} bytes, expected ${ENTRY_BYTES}`);
  if (row[0] !== ROW_VERSION) throw rowError('enqueues', k, `row version ${row[0]}`);
  const messageId = checkUint(readF64LE(row, 1), 'enqueues', k, 'messageId');
  const size = readU32LE(row, 9);
  const persistent = checkBool(row[13]!, 'enqueues', k, 'persistent');
  const hasExpiry = checkBool(row[14]!, 'enqueues', k, 'expiry flag');
  const expiresAtMs = hasExpiry ? readF64LE(row, 15) : null;
  if (expiresAtMs !== null && !Number.isFinite(expiresAtMs)) throw rowError('enqueues', k, `expiresAtMs is ${expiresAtMs}`);
  return { messageId, size, persistent, expiresAtMs, deliveryCount: readU32LE(row, 23) };
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
  return seal(b, textSeed(row.declare.queue));
}

export function decodeQueueRow(sealed: Uint8Array, key: string): QueueRow {
  const row = unseal(sealed, textSeed(key), `queues table entry ${JSON.stringify(key)}`);
  if (row.byteLength < QUEUE_HEADER_BYTES) throw rowError('queues', key, `${row.byteLength} bytes, shorter than the ${QUEUE_HEADER_BYTES}-byte header`);
  if (row[0] !== ROW_VERSION) throw rowError('queues', key, `row version ${row[0]}`);
  const count = checkUint(readF64LE(row, 1), 'queues', key, 'count');
  const bytes = checkUint(readF64LE(row, 9), 'queues', key, 'bytes');
  const lastPosition = checkUint(readF64LE(row, 17), 'queues', key, 'lastPosition');
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
  return seal(Buffer.from(JSON.stringify(state)), 0);
}

const ROLES: readonly StoreRole[] = ['standalone', 'primary', 'backup'];

/** Decodes meta 'state'; `where` names the store in errors. */
export function decodeMetaState(bytes: Uint8Array, formatVersion: number, where: string): MutableMeta {
  const bad = (what: string): never => {
    throw new StoreError('STORE_CORRUPT', `${where}: meta table key 'state' is garbled: ${what}`);
  };
  let o: unknown;
  const json = unseal(bytes, 0, `${where}: meta table key 'state'`);
  try {
    o = JSON.parse(Buffer.from(json).toString('utf8'));
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

// --- dedup ---------------------------------------------------------------------------------------

const DEDUP_HEADER_BYTES = 9;
const dedupSeed = (queue: string, slot: number): number => textSeed(`${queue}\u0000dedup\u0000${slot}`);

export function encodeDedupRow(queue: string, slot: number, row: DedupRow): Buffer {
  const id = Buffer.from(row.id, 'utf8');
  const b = Buffer.allocUnsafe(DEDUP_HEADER_BYTES + id.length);
  b[0] = ROW_VERSION;
  b.writeDoubleLE(row.seq, 1);
  b.set(id, DEDUP_HEADER_BYTES);
  return seal(b, dedupSeed(queue, slot));
}

export function decodeDedupRow(sealed: Uint8Array, key: { queue: string; slot: number }): DedupRow {
  const k = [key.queue, key.slot];
  const row = unseal(sealed, dedupSeed(key.queue, key.slot), `dedup table entry ${JSON.stringify(k)}`);
  if (row.byteLength < DEDUP_HEADER_BYTES) throw rowError('dedup', k, `${row.byteLength} bytes, shorter than the ${DEDUP_HEADER_BYTES}-byte header`);
  if (row[0] !== ROW_VERSION) throw rowError('dedup', k, `row version ${row[0]}`);
  const seq = checkUint(readF64LE(row, 1), 'dedup', k, 'seq');
  return { seq, id: Buffer.from(row.subarray(DEDUP_HEADER_BYTES)).toString('utf8') };
}

/** A [queue, slot] key read back from LMDB. */
export function checkDedupKey(key: unknown): { queue: string; slot: number } {
  if (!Array.isArray(key) || key.length !== 2 || typeof key[0] !== 'string' || !Number.isSafeInteger(key[1]) || (key[1] as number) < 0) {
    throw new StoreError('STORE_CORRUPT', `dedup table has a malformed key ${JSON.stringify(key)}`);
  }
  return { queue: key[0], slot: key[1] as number };
}

// --- quarantine ------------------------------------------------------------------------------------

const QUARANTINE_HEADER_BYTES = 9;

export function encodeQuarantineRow(queue: string, position: number, messageId: number, messageRow: Uint8Array | undefined): Buffer {
  const head = Buffer.allocUnsafe(QUARANTINE_HEADER_BYTES);
  head[0] = ROW_VERSION;
  head.writeDoubleLE(messageId, 1);
  const sealedHead = seal(head, entrySeed(queue, position));
  return messageRow === undefined ? sealedHead : Buffer.concat([sealedHead, messageRow]);
}

/** A quarantined message, with what is wrong with it as found (the row is kept as it was). */
export function decodeQuarantineRow(value: Uint8Array, key: unknown): QuarantinedMessage {
  let k: { queue: string; position: number };
  try {
    k = checkEntryKey(key);
  } catch (err) {
    return { queue: String(key), position: 0, messageId: 0, problem: (err as Error).message };
  }
  const sealedBytes = QUARANTINE_HEADER_BYTES + SEAL_BYTES;
  try {
    const head = unseal(value.subarray(0, sealedBytes), entrySeed(k.queue, k.position), `quarantine table entry ${JSON.stringify(key)}`);
    const messageId = readF64LE(head, 1);
    const row = value.subarray(sealedBytes);
    let problem = 'the message row was missing';
    if (row.byteLength > 0) {
      try {
        decodeMessageInfo(row, messageId);
        problem = bodyProblem(row, messageId) ?? 'the message row was sound when quarantined (its index entry was not)';
      } catch (err) {
        problem = (err as Error).message;
      }
    }
    return { ...k, messageId, problem };
  } catch (err) {
    return { ...k, messageId: 0, problem: (err as Error).message };
  }
}

// --- recovery report --------------------------------------------------------------------------------

export function encodeRecoveryReport(report: RecoveryReport): Buffer {
  return seal(Buffer.from(JSON.stringify(report)), 0);
}

export function decodeRecoveryReport(bytes: Uint8Array): RecoveryReport | { readonly problem: string } {
  try {
    return JSON.parse(Buffer.from(unseal(bytes, 0, "meta table key 'recovery'")).toString('utf8')) as RecoveryReport;
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

// --- undo -------------------------------------------------------------------------------------------

/**
 * The largest undo row kept on its table's leaf page. LMDB moves a value that does not fit in
 * half a 4 KiB page (about 2,030 bytes with its key) to overflow pages, and allocating those
 * needs a contiguous run of free pages: a search of the whole freelist. After a catch-up
 * snapshot's long read transaction the freelist of a 10^6-message store is large and
 * fragmented, and one multi-page undo row per commit then cost a primary 15 of 40 s of CPU
 * (4 producers settled at 450 msg/s instead of 5,000; bench `catch-up-cases`).
 */
export const UNDO_ROW_MAX_BYTES = 1900;

/** An undo batch as rows of at most UNDO_ROW_MAX_BYTES each (an entry larger than that alone
 * gets a row of its own): consecutive entries, each row keyed and sealed by its first LSN, so
 * each reads back as an undo batch of its own. */
export function encodeUndoRows(batch: UndoBatch): Array<{ readonly firstLsn: number; readonly value: Buffer }> {
  const rows: Array<{ firstLsn: number; value: Buffer }> = [];
  let parts: string[] = [];
  let firstLsn = 0;
  let lastLsn = 0;
  let partsBytes = 0;
  // Each entry is stringified once; a row is the JSON of an undo batch (undo.ts), { firstLsn,
  // lastLsn, entries }, assembled from its entries' strings and sealed with its first LSN.
  const flush = (): void => {
    if (parts.length === 0) return;
    const json = `{"firstLsn":${firstLsn},"lastLsn":${lastLsn},"entries":[${parts.join(',')}]}`;
    rows.push({ firstLsn, value: seal(Buffer.from(json), numberSeed(firstLsn)) });
    parts = [];
    partsBytes = 0;
  };
  // The two LSNs, the punctuation around them and the seal.
  const frameBytes = 64 + SEAL_BYTES;
  for (const entry of batch.entries) {
    const text = JSON.stringify(entry);
    const bytes = Buffer.byteLength(text) + 1;
    if (parts.length > 0 && frameBytes + partsBytes + bytes > UNDO_ROW_MAX_BYTES) flush();
    if (parts.length === 0) firstLsn = entry.lsn;
    parts.push(text);
    partsBytes += bytes;
    lastLsn = entry.lsn;
  }
  flush();
  return rows;
}

/** The LSNs an undo row spans, read from the head of its JSON (both rows written by
 * encodeUndoRows and by JSON.stringify of an undo batch start with them), checksum checked;
 * anything else is decoded in full. */
export function undoRowSpan(firstLsn: number, value: Uint8Array): { firstLsn: number; lastLsn: number } {
  const json = unseal(value, numberSeed(firstLsn), `undo table entry ${firstLsn}`);
  const head = /^\{"firstLsn":(\d+),"lastLsn":(\d+),/.exec(Buffer.from(json.buffer, json.byteOffset, Math.min(json.byteLength, 64)).toString('latin1'));
  if (head !== null && Number(head[1]) === firstLsn) return { firstLsn, lastLsn: Number(head[2]) };
  const batch = decodeUndoBatch(json);
  return { firstLsn: batch.firstLsn, lastLsn: batch.lastLsn };
}

export function decodeUndoRow(firstLsn: number, value: Uint8Array): UndoBatch {
  return decodeUndoBatch(unseal(value, numberSeed(firstLsn), `undo table entry ${firstLsn}`));
}
