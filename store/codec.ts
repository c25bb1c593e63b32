// The binary codec of log records: what the log table stores and what the replication protocol
// ships. Encoding is a hand-written, allocation-light writer (it runs on the broker's hot path, so
// no zod there); decoding checks every field explicitly, because a record read from disk or from
// the network is not trusted until it has been validated (a garbled record is reported, never
// skipped). Every record starts with a format version byte so that a newer format is detected.
//
// Layout of one record: [u8 RECORD_FORMAT_VERSION][u8 kind tag][fields of that kind].
// Field encodings: string = u32 byte length + UTF-8; count/position/id = f64 holding a safe
// integer >= 0; bool = u8 0|1; nullable = u8 0|1 then the value; bytes = u32 length + bytes;
// arguments = u32 count then (string key, u8 type tag, value). All multi-byte numbers are
// little-endian.

import { AssertionFailure } from '../src/core/assert.js';
import { StoreError } from './errors.js';
import {
  DEQUEUE_CAUSES,
  EXCHANGE_TYPES,
  type ArgValue,
  type Arguments,
  type DequeueCause,
  type EnqueueTarget,
  type ExchangeType,
  type LogEntry,
  type StoreRecord,
} from './record.js';

/** Version byte written at the start of every encoded record. */
export const RECORD_FORMAT_VERSION = 1;

const KIND_TAGS = {
  'queue-declare': 1,
  'queue-delete': 2,
  'exchange-declare': 3,
  'exchange-delete': 4,
  bind: 5,
  unbind: 6,
  enqueue: 7,
  dequeue: 8,
  epoch: 9,
  skip: 10,
  txn: 11,
  dedup: 12,
} as const satisfies Record<StoreRecord['kind'], number>;

const ARG_NULL = 0;
const ARG_STRING = 1;
const ARG_NUMBER = 2;
const ARG_BOOL = 3;

// ---------------------------------------------------------------------------------------------
// Encoding: first measure, then write into one exactly-sized buffer.

function stringBytes(s: string): number {
  return 4 + Buffer.byteLength(s, 'utf8');
}

function argumentsBytes(args: Arguments): number {
  let n = 4;
  for (const key in args) {
    const v = args[key];
    n += stringBytes(key) + 1;
    if (typeof v === 'string') n += stringBytes(v);
    else if (typeof v === 'number') n += 8;
    else if (typeof v === 'boolean') n += 1;
  }
  return n;
}

function recordBytes(r: StoreRecord): number {
  switch (r.kind) {
    case 'queue-declare':
      return 2 + stringBytes(r.queue) + 3 + 1 + (r.alternateExchange === null ? 0 : stringBytes(r.alternateExchange)) + argumentsBytes(r.arguments);
    case 'queue-delete':
      return 2 + stringBytes(r.queue);
    case 'exchange-declare':
      return 2 + stringBytes(r.exchange) + 1 + 2 + 1 + (r.alternateExchange === null ? 0 : stringBytes(r.alternateExchange)) + argumentsBytes(r.arguments);
    case 'exchange-delete':
      return 2 + stringBytes(r.exchange);
    case 'bind':
      return 2 + stringBytes(r.exchange) + stringBytes(r.queue) + stringBytes(r.key) + argumentsBytes(r.arguments);
    case 'unbind':
      return 2 + stringBytes(r.exchange) + stringBytes(r.queue) + stringBytes(r.key);
    case 'enqueue': {
      let n = 2 + 8 + 1 + 1 + (r.expiresAtMs === null ? 0 : 8) + 4 + r.body.byteLength + 4;
      for (const t of r.targets) n += stringBytes(t.queue) + 8;
      return n;
    }
    case 'dequeue':
      return 2 + stringBytes(r.queue) + 8 + 8 + 1;
    case 'epoch':
      return 2 + 8 + stringBytes(r.primary);
    case 'skip':
    case 'txn':
      return 2 + 8;
    case 'dedup':
      return 2 + stringBytes(r.queue) + 8 + 8 + stringBytes(r.id);
  }
}

class Writer {
  readonly buf: Buffer;
  pos = 0;
  constructor(size: number | Buffer) {
    this.buf = typeof size === 'number' ? Buffer.allocUnsafe(size) : size;
  }
  u8(v: number): void {
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
  }
  f64(v: number): void {
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }
  /** A count, position or id: the decoder insists on a safe integer >= 0. */
  uint(v: number, what: string): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new AssertionFailure(`encoding ${what}: ${v} is not a safe integer >= 0`);
    this.f64(v);
  }
  bool(v: boolean): void {
    this.buf[this.pos++] = v ? 1 : 0;
  }
  str(s: string): void {
    const len = this.buf.write(s, this.pos + 4, 'utf8');
    this.buf.writeUInt32LE(len, this.pos);
    this.pos += 4 + len;
  }
  /** Bytes as they are, no length prefix (an already encoded record). */
  raw(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }

  bytes(b: Uint8Array): void {
    this.u32(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }
  args(a: Arguments): void {
    const keys = Object.keys(a);
    this.u32(keys.length);
    for (const key of keys) {
      const v = a[key];
      this.str(key);
      if (v === null) this.u8(ARG_NULL);
      else if (typeof v === 'string') {
        this.u8(ARG_STRING);
        this.str(v);
      } else if (typeof v === 'number') {
        this.u8(ARG_NUMBER);
        this.f64(v);
      } else if (typeof v === 'boolean') {
        this.u8(ARG_BOOL);
        this.bool(v);
      } else throw new AssertionFailure(`encoding argument ${key}: unsupported value type ${typeof v}`);
    }
  }
}

function tagOf<T>(values: readonly T[], value: T, what: string): number {
  const i = values.indexOf(value);
  if (i < 0) throw new AssertionFailure(`encoding ${what}: ${String(value)} is not one of ${values.join(', ')}`);
  return i;
}

function writeRecord(w: Writer, r: StoreRecord): void {
  w.u8(RECORD_FORMAT_VERSION);
  w.u8(KIND_TAGS[r.kind]);
  switch (r.kind) {
    case 'queue-declare':
      w.str(r.queue);
      w.bool(r.durable);
      w.bool(r.autoDelete);
      w.bool(r.exclusive);
      w.bool(r.alternateExchange !== null);
      if (r.alternateExchange !== null) w.str(r.alternateExchange);
      w.args(r.arguments);
      return;
    case 'queue-delete':
      w.str(r.queue);
      return;
    case 'exchange-declare':
      w.str(r.exchange);
      w.u8(tagOf(EXCHANGE_TYPES, r.type, 'exchange type'));
      w.bool(r.durable);
      w.bool(r.autoDelete);
      w.bool(r.alternateExchange !== null);
      if (r.alternateExchange !== null) w.str(r.alternateExchange);
      w.args(r.arguments);
      return;
    case 'exchange-delete':
      w.str(r.exchange);
      return;
    case 'bind':
      w.str(r.exchange);
      w.str(r.queue);
      w.str(r.key);
      w.args(r.arguments);
      return;
    case 'unbind':
      w.str(r.exchange);
      w.str(r.queue);
      w.str(r.key);
      return;
    case 'enqueue':
      w.uint(r.messageId, 'enqueue messageId');
      w.bool(r.persistent);
      w.bool(r.expiresAtMs !== null);
      if (r.expiresAtMs !== null) w.f64(r.expiresAtMs);
      w.bytes(r.body);
      w.u32(r.targets.length);
      for (const t of r.targets) {
        w.str(t.queue);
        w.uint(t.position, 'enqueue position');
      }
      return;
    case 'dequeue':
      w.str(r.queue);
      w.uint(r.position, 'dequeue position');
      w.uint(r.messageId, 'dequeue messageId');
      w.u8(tagOf(DEQUEUE_CAUSES, r.cause, 'dequeue cause'));
      return;
    case 'epoch':
      w.uint(r.epoch, 'epoch');
      w.str(r.primary);
      return;
    case 'skip':
      w.uint(r.lastLsn, 'skip lastLsn');
      return;
    case 'txn':
      w.uint(r.lastLsn, 'txn lastLsn');
      return;
    case 'dedup':
      w.str(r.queue);
      w.uint(r.slot, 'dedup slot');
      w.uint(r.seq, 'dedup seq');
      w.str(r.id);
      return;
  }
}

/** `record` as encodeRecords writes it, [u32 length][record], into `buf` at `pos`, which must have
 * room for framedRecordBytes(record): the position after it (records-frame.ts). */
export function writeFramedRecord(buf: Buffer, pos: number, record: StoreRecord): number {
  const w = new Writer(buf);
  w.pos = pos;
  w.u32(recordBytes(record));
  writeRecord(w, record);
  return w.pos;
}

/** Where an enqueue record's body starts in its encoding. */
export function enqueueBodyOffset(record: { readonly expiresAtMs: number | null }): number {
  return 2 + 8 + 1 + 1 + (record.expiresAtMs === null ? 0 : 8) + 4;
}

export function framedRecordBytes(record: StoreRecord): number {
  return 4 + recordBytes(record);
}

/** The bytes the log stores for `record`. */
export function encodeRecord(record: StoreRecord): Buffer {
  const w = new Writer(recordBytes(record));
  writeRecord(w, record);
  if (w.pos !== w.buf.length) throw new AssertionFailure(`encodeRecord(${record.kind}) wrote ${w.pos} of ${w.buf.length} bytes`);
  return w.buf;
}

/** Log entries in one buffer, for the replication protocol:
 * [u32 count] then per entry [f64 lsn][u32 length][record], after `headroom` bytes left for the
 * caller (a frame header: the frame is then this buffer, not a copy of it). */
export function encodeLogEntries(entries: readonly LogEntry[], headroom = 0): Buffer {
  let size = headroom + 4;
  const lengths: number[] = new Array(entries.length);
  const cached: (Uint8Array | undefined)[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const record = entries[i]!.record;
    cached[i] = encodedRecords.get(record);
    lengths[i] = cached[i]?.byteLength ?? recordBytes(record);
    size += 12 + lengths[i]!;
  }
  const w = new Writer(size);
  w.pos = headroom;
  w.u32(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    w.uint(e.lsn, 'lsn');
    w.u32(lengths[i]!);
    const bytes = cached[i];
    if (bytes) w.raw(bytes);
    else writeRecord(w, e.record);
  }
  return w.buf;
}

/** Records the store has already encoded (committed, awaiting shipping): a primary sends the
 * same bytes to every backup without encoding them again. */
const encodedRecords = new WeakMap<StoreRecord, Uint8Array>();

/** Records without LSNs in one buffer (the snapshot stream): [u32 count] then per record
 * [u32 length][record], after `headroom` bytes left for the caller (as encodeLogEntries). */
export function encodeRecords(records: readonly StoreRecord[], headroom = 0): Buffer {
  let size = headroom + 4;
  const lengths: number[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    lengths[i] = recordBytes(records[i]!);
    size += 4 + lengths[i]!;
  }
  const w = new Writer(size);
  w.pos = headroom;
  w.u32(records.length);
  for (let i = 0; i < records.length; i++) {
    w.u32(lengths[i]!);
    writeRecord(w, records[i]!);
  }
  return w.buf;
}

// ---------------------------------------------------------------------------------------------
// Decoding: every read is bounds-checked and every value range-checked. A failure throws
// StoreError('STORE_CORRUPT', '<where> is garbled: <what>').

class Garbled extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true });

class Reader {
  pos: number;
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new Garbled(`truncated: ${what} needs ${n} bytes at offset ${this.pos}, only ${this.end - this.pos} left`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++]!;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  uint(what: string): number {
    const v = this.f64(what);
    if (!Number.isSafeInteger(v) || v < 0) throw new Garbled(`${what} is ${v}, not a safe integer >= 0`);
    return v;
  }
  finite(what: string): number {
    const v = this.f64(what);
    if (!Number.isFinite(v)) throw new Garbled(`${what} is ${v}, not a finite number`);
    return v;
  }
  bool(what: string): boolean {
    const v = this.u8(what);
    if (v > 1) throw new Garbled(`${what} is ${v}, not a boolean (0 or 1)`);
    return v === 1;
  }
  str(what: string): string {
    const len = this.u32(`${what} length`);
    this.need(len, what);
    let s: string;
    try {
      s = utf8.decode(this.bytes.subarray(this.pos, this.pos + len));
    } catch {
      throw new Garbled(`${what} is not valid UTF-8`);
    }
    this.pos += len;
    return s;
  }
  nullableStr(what: string): string | null {
    return this.bool(`${what} presence flag`) ? this.str(what) : null;
  }
  bytesView(what: string): Uint8Array {
    const len = this.u32(`${what} length`);
    this.need(len, what);
    const b = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }
  args(what: string): Arguments {
    const count = this.u32(`${what} count`);
    // Each argument takes at least 5 bytes, so a huge count is caught before allocating.
    this.need(count * 5, `${what} (${count} entries)`);
    const out: Record<string, ArgValue> = {};
    for (let i = 0; i < count; i++) {
      const key = this.str(`${what} key`);
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new Garbled(`${what} has key ${JSON.stringify(key)} twice`);
      const tag = this.u8(`${what} ${key} type`);
      let value: ArgValue;
      switch (tag) {
        case ARG_NULL:
          value = null;
          break;
        case ARG_STRING:
          value = this.str(`${what} ${key}`);
          break;
        case ARG_NUMBER: {
          value = this.f64(`${what} ${key}`);
          if (Number.isNaN(value)) throw new Garbled(`${what} ${key} is NaN`);
          break;
        }
        case ARG_BOOL:
          value = this.bool(`${what} ${key}`);
          break;
        default:
          throw new Garbled(`${what} ${key} has unknown type tag ${tag}`);
      }
      // defineProperty, not assignment: a key named __proto__ must stay an ordinary key.
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
}

function readRecord(r: Reader): StoreRecord {
  const version = r.u8('format version');
  if (version !== RECORD_FORMAT_VERSION) {
    if (version > RECORD_FORMAT_VERSION) throw new Garbled(`record format version ${version} is newer than ${RECORD_FORMAT_VERSION}, the newest this broker understands`);
    throw new Garbled(`unknown record format version ${version}`);
  }
  const tag = r.u8('kind tag');
  switch (tag) {
    case KIND_TAGS['queue-declare']: {
      const queue = r.str('queue');
      const durable = r.bool('durable');
      const autoDelete = r.bool('autoDelete');
      const exclusive = r.bool('exclusive');
      const alternateExchange = r.nullableStr('alternateExchange');
      const args = r.args('arguments');
      return { kind: 'queue-declare', queue, durable, autoDelete, exclusive, alternateExchange, arguments: args };
    }
    case KIND_TAGS['queue-delete']:
      return { kind: 'queue-delete', queue: r.str('queue') };
    case KIND_TAGS['exchange-declare']: {
      const exchange = r.str('exchange');
      const typeIndex = r.u8('exchange type');
      const type: ExchangeType | undefined = EXCHANGE_TYPES[typeIndex];
      if (type === undefined) throw new Garbled(`exchange type ${typeIndex} is unknown`);
      const durable = r.bool('durable');
      const autoDelete = r.bool('autoDelete');
      const alternateExchange = r.nullableStr('alternateExchange');
      const args = r.args('arguments');
      return { kind: 'exchange-declare', exchange, type, durable, autoDelete, alternateExchange, arguments: args };
    }
    case KIND_TAGS['exchange-delete']:
      return { kind: 'exchange-delete', exchange: r.str('exchange') };
    case KIND_TAGS.bind: {
      const exchange = r.str('exchange');
      const queue = r.str('queue');
      const key = r.str('binding key');
      return { kind: 'bind', exchange, queue, key, arguments: r.args('arguments') };
    }
    case KIND_TAGS.unbind: {
      const exchange = r.str('exchange');
      const queue = r.str('queue');
      return { kind: 'unbind', exchange, queue, key: r.str('binding key') };
    }
    case KIND_TAGS.enqueue: {
      const messageId = r.uint('messageId');
      if (messageId === 0) throw new Garbled('messageId is 0 (ids start at 1)');
      const persistent = r.bool('persistent');
      const expiresAtMs = r.bool('expiry presence flag') ? r.finite('expiresAtMs') : null;
      const body = r.bytesView('body');
      const count = r.u32('target count');
      if (count === 0) throw new Garbled('enqueue has no targets');
      r.need(count * 12, `${count} targets`);
      const targets: EnqueueTarget[] = new Array(count);
      for (let i = 0; i < count; i++) {
        const queue = r.str(`target ${i} queue`);
        const position = r.uint(`target ${i} position`);
        if (position === 0) throw new Garbled(`target ${i} position is 0 (positions start at 1)`);
        targets[i] = { queue, position };
      }
      return { kind: 'enqueue', messageId, persistent, expiresAtMs, body, targets };
    }
    case KIND_TAGS.dequeue: {
      const queue = r.str('queue');
      const position = r.uint('position');
      const messageId = r.uint('messageId');
      const causeIndex = r.u8('cause');
      const cause: DequeueCause | undefined = DEQUEUE_CAUSES[causeIndex];
      if (cause === undefined) throw new Garbled(`dequeue cause ${causeIndex} is unknown`);
      return { kind: 'dequeue', queue, position, messageId, cause };
    }
    case KIND_TAGS.epoch: {
      const epoch = r.uint('epoch');
      return { kind: 'epoch', epoch, primary: r.str('primary') };
    }
    case KIND_TAGS.skip: {
      const lastLsn = r.uint('skip lastLsn');
      if (lastLsn === 0) throw new Garbled('skip lastLsn is 0 (LSNs start at 1)');
      return { kind: 'skip', lastLsn };
    }
    case KIND_TAGS.txn: {
      const lastLsn = r.uint('txn lastLsn');
      if (lastLsn === 0) throw new Garbled('txn lastLsn is 0 (LSNs start at 1)');
      return { kind: 'txn', lastLsn };
    }
    case KIND_TAGS.dedup: {
      const queue = r.str('queue');
      const slot = r.uint('dedup slot');
      const seq = r.uint('dedup seq');
      return { kind: 'dedup', queue, slot, seq, id: r.str('dedup id') };
    }
    default:
      throw new Garbled(`unknown record kind tag ${tag}`);
  }
}

function garbled(where: string, err: unknown): StoreError {
  if (err instanceof Garbled) return new StoreError('STORE_CORRUPT', `${where} is garbled: ${err.message}`);
  return new StoreError('STORE_CORRUPT', `${where} could not be decoded: ${String(err)}`, { cause: err });
}

/** Decodes and validates one record. `where` names it in the error, e.g. "log record at LSN 12".
 * The body of an enqueue is a view into `bytes` (no copy). */
export function decodeRecord(bytes: Uint8Array, where: string): StoreRecord {
  const r = new Reader(bytes, 0, bytes.byteLength);
  try {
    const record = readRecord(r);
    if (r.pos !== r.end) throw new Garbled(`${r.end - r.pos} unexpected trailing bytes after the ${record.kind} record`);
    return record;
  } catch (err) {
    throw garbled(where, err);
  }
}

/** Inverse of encodeLogEntries. `where` names the source (e.g. "replication frame from b1"). */
export function decodeLogEntries(bytes: Uint8Array, where: string): LogEntry[] {
  const r = new Reader(bytes, 0, bytes.byteLength);
  let index = 0;
  try {
    const count = r.u32('entry count');
    r.need(count * 14, `${count} entries`);
    const out: LogEntry[] = new Array(count);
    for (; index < count; index++) {
      const lsn = r.uint('lsn');
      if (lsn === 0) throw new Garbled('lsn is 0 (LSNs start at 1)');
      const len = r.u32('record length');
      r.need(len, 'record');
      const end = r.pos + len;
      const inner = new Reader(bytes, r.pos, end);
      const record = readRecord(inner);
      if (inner.pos !== end) throw new Garbled(`${end - inner.pos} unexpected trailing bytes after the ${record.kind} record at LSN ${lsn}`);
      if (record.kind === 'skip' && record.lastLsn < lsn) throw new Garbled(`skip at LSN ${lsn} ends before it starts (lastLsn ${record.lastLsn})`);
      // The bytes it was decoded from go with it: a backup appends them to its log as they are.
      out[index] = { lsn, record: decodedFrom(record, bytes.subarray(r.pos, end)) };
      r.pos = end;
    }
    if (r.pos !== r.end) throw new Garbled(`${r.end - r.pos} unexpected trailing bytes after ${count} entries`);
    return out;
  } catch (err) {
    throw garbled(`${where} (entry ${index})`, err);
  }
}

/** Inverse of encodeRecords. */
export function decodeRecords(bytes: Uint8Array, where: string): StoreRecord[] {
  const r = new Reader(bytes, 0, bytes.byteLength);
  let index = 0;
  try {
    const count = r.u32('record count');
    r.need(count * 6, `${count} records`);
    const out: StoreRecord[] = new Array(count);
    for (; index < count; index++) {
      const len = r.u32('record length');
      r.need(len, 'record');
      const end = r.pos + len;
      const inner = new Reader(bytes, r.pos, end);
      const record = readRecord(inner);
      if (inner.pos !== end) throw new Garbled(`${end - inner.pos} unexpected trailing bytes after the ${record.kind} record`);
      r.pos = end;
      out[index] = record;
    }
    if (r.pos !== r.end) throw new Garbled(`${r.end - r.pos} unexpected trailing bytes after ${count} records`);
    return out;
  } catch (err) {
    throw garbled(`${where} (record ${index})`, err);
  }
}

/** Encoded size of a record without encoding it (the log's byte accounting uses it). */
export function encodedRecordBytes(record: StoreRecord): number {
  return recordBytes(record);
}

/** The last LSN an encoded log value covers, without decoding the whole record: a skip record
 * spans lsn..lastLsn, every other record its own LSN. Undefined if the bytes are not a record. */
export function encodedLastLsn(bytes: Uint8Array, lsn: number): number | undefined {
  if (bytes.byteLength < 2 || bytes[0] !== RECORD_FORMAT_VERSION) return undefined;
  if (bytes[1] !== KIND_TAGS.skip) return lsn;
  if (bytes.byteLength !== 10) return undefined;
  const lastLsn = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(2, true);
  return Number.isSafeInteger(lastLsn) && lastLsn >= lsn ? lastLsn : undefined;
}

/** A record's encoding: the bytes it was committed with or decoded from, else encoded now. */
export function encodedRecord(record: StoreRecord): Uint8Array {
  return encodedRecords.get(record) ?? encodeRecord(record);
}

/** A record decoded from `encoded` (a log value read back, or a replication frame): shipping or
 * appending it uses those bytes instead of encoding it again. `encoded` must not change. */
export function decodedFrom(record: StoreRecord, encoded: Uint8Array): StoreRecord {
  encodedRecords.set(record, encoded);
  return record;
}

/** The record as the log holds it: an enqueue's body becomes a view into `encoded` (made at
 * commit time), so the caller may reuse its own buffer as soon as commit() returns, at the cost
 * of no extra copy. Other records are returned as they are. */
export function withEncodedBody(record: StoreRecord, encoded: Uint8Array): StoreRecord {
  if (record.kind !== 'enqueue') {
    encodedRecords.set(record, encoded);
    return record;
  }
  const offset = enqueueBodyOffset(record);
  const kept = { ...record, body: encoded.subarray(offset, offset + record.body.byteLength) };
  encodedRecords.set(kept, encoded);
  return kept;
}
