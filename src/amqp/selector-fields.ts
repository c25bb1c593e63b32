// Decodes what a selector may ask of a queued message (src/selector/message-fields.ts) straight
// from the producer's bytes: the header, message annotations, properties and application
// properties sections, each only when an identifier needs it, and never the body. A small reader
// of AMQP 1.0 primitives (§1.6) rather than rhea's decoder: a selective consumer looks at every
// message it passes, and rhea's typed objects cost several times more. Every count and length is
// checked against the bytes there are; compound values the selector cannot use are skipped with
// the bounds-checking scanner (value-scan.ts). A message whose sections cannot be found yields
// null, and a section that does not decode reads as absent (its identifiers NULL, so the selector
// is not TRUE): evaluation never throws.

import type { SelectorValue } from '../selector/ast.js';
import type { MessageFields } from '../selector/message-fields.js';
import { DecodeError, DEFAULT_MAX_DECODE_DEPTH, scanValue } from './value-scan.js';

const HEADER = 0x70;
const MESSAGE_ANNOTATIONS = 0x72;
const PROPERTIES = 0x73;
const APPLICATION_PROPERTIES = 0x74;
const FIRST_BODY_SECTION = 0x75;
const LIMITS = { maxDepth: DEFAULT_MAX_DECODE_DEPTH };
const INT64_MAX = (1n << 63n) - 1n;

/** A primitive as read: its format code and its value (Buffer for binary and uuid). */
interface Primitive {
  readonly code: number;
  readonly value: null | boolean | bigint | number | string | Buffer;
  /** Offset just past it. */
  readonly end: number;
}

function need(p: number, count: number, end: number): void {
  if (count > end - p) throw new DecodeError(`truncated value at byte ${p}`);
}

function read(b: Buffer, p: number, end: number): Primitive {
  need(p, 1, end);
  const code = b[p] as number;
  const q = p + 1;
  switch (code) {
    case 0x40:
      return { code, value: null, end: q };
    case 0x41:
      return { code, value: true, end: q };
    case 0x42:
      return { code, value: false, end: q };
    case 0x43:
    case 0x44:
      return { code, value: 0n, end: q };
    case 0x56:
      need(q, 1, end);
      return { code, value: b[q] !== 0, end: q + 1 };
    case 0x50:
    case 0x52:
    case 0x53:
      need(q, 1, end);
      return { code, value: BigInt(b[q] as number), end: q + 1 };
    case 0x51:
    case 0x54:
    case 0x55:
      need(q, 1, end);
      return { code, value: BigInt(b.readInt8(q)), end: q + 1 };
    case 0x60:
      need(q, 2, end);
      return { code, value: BigInt(b.readUInt16BE(q)), end: q + 2 };
    case 0x61:
      need(q, 2, end);
      return { code, value: BigInt(b.readInt16BE(q)), end: q + 2 };
    case 0x70:
      need(q, 4, end);
      return { code, value: BigInt(b.readUInt32BE(q)), end: q + 4 };
    case 0x71:
      need(q, 4, end);
      return { code, value: BigInt(b.readInt32BE(q)), end: q + 4 };
    case 0x72:
      need(q, 4, end);
      return { code, value: b.readFloatBE(q), end: q + 4 };
    case 0x80:
      need(q, 8, end);
      return { code, value: b.readBigUInt64BE(q), end: q + 8 };
    case 0x81:
    case 0x83:
      need(q, 8, end);
      return { code, value: b.readBigInt64BE(q), end: q + 8 };
    case 0x82:
      need(q, 8, end);
      return { code, value: b.readDoubleBE(q), end: q + 8 };
    case 0x98:
      need(q, 16, end);
      return { code, value: b.subarray(q, q + 16), end: q + 16 };
    case 0xa0:
    case 0xa1:
    case 0xa3:
    case 0xb0:
    case 0xb1:
    case 0xb3: {
      const width = code < 0xb0 ? 1 : 4;
      need(q, width, end);
      const size = width === 1 ? (b[q] as number) : b.readUInt32BE(q);
      const start = q + width;
      need(start, size, end);
      const bytes = b.subarray(start, start + size);
      return { code, value: code === 0xa0 || code === 0xb0 ? bytes : bytes.toString(code === 0xa3 || code === 0xb3 ? 'latin1' : 'utf8'), end: start + size };
    }
    default:
      // Compound, described, decimal, char: nothing a selector compares; skip it, bounded.
      return { code, value: null, end: scanValue(b, p, LIMITS, end) };
  }
}

/** The elements of a list or map section's value at `p` (a map's keys and values alternate). */
function elements(b: Buffer, p: number, end: number): Primitive[] {
  need(p, 1, end);
  const code = b[p] as number;
  if (code === 0x45 || code === 0x40) return [];
  let width: 1 | 4;
  if (code === 0xc0 || code === 0xc1) width = 1;
  else if (code === 0xd0 || code === 0xd1) width = 4;
  else throw new DecodeError(`section value at byte ${p} is not a list or map`);
  need(p + 1, 2 * width, end);
  const size = width === 1 ? (b[p + 1] as number) : b.readUInt32BE(p + 1);
  const count = width === 1 ? (b[p + 2] as number) : b.readUInt32BE(p + 1 + width);
  const contentEnd = p + 1 + width + size;
  need(p + 1 + width, size, end);
  if (count > size) throw new DecodeError(`section at byte ${p} claims ${count} elements in ${size} bytes`);
  const out: Primitive[] = [];
  let q = p + 1 + 2 * width;
  for (let i = 0; i < count; i++) {
    const value = read(b, q, contentEnd);
    out.push(value);
    q = value.end;
  }
  return out;
}

/** An application property as a selector value, with qpidd's typing (Selector.cpp ValueHandler):
 * integers are exact (a ulong above 2^63-1 becomes approximate), float and double approximate,
 * strings and symbols strings, timestamps exact milliseconds; binary, uuid, decimal, char and
 * compound values are NULL. */
function propertyValue(p: Primitive): SelectorValue {
  const v = p.value;
  if (typeof v === 'bigint') return p.code === 0x80 && v > INT64_MAX ? Number(v) : v;
  if (Buffer.isBuffer(v)) return null;
  return v;
}

/** message-id and correlation-id as strings (qpidd's MessageId::str()). */
function idString(p: Primitive | undefined): string | null {
  const v = p?.value;
  if (v === null || v === undefined || typeof v === 'boolean') return null;
  if (Buffer.isBuffer(v)) {
    if (p?.code !== 0x98) return v.toString('utf8');
    const hex = v.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return String(v);
}

function stringOf(p: Primitive | undefined): string | null {
  return typeof p?.value === 'string' ? p.value : null;
}

function msOf(p: Primitive | undefined): number | null {
  return p?.code === 0x83 && typeof p.value === 'bigint' ? Number(p.value) : null;
}

/** Where the value of each section before the body starts (-1 when absent). */
interface SectionOffsets {
  header: number;
  annotations: number;
  properties: number;
  applicationProperties: number;
}

/** Offset just past a section's value at `p`: from its size field for a list or map (the common
 * case, so nothing inside is walked twice), else by the bounds-checking scanner. */
function sectionEnd(b: Buffer, p: number): number {
  const code = b[p];
  if (code === 0x45 || code === 0x40) return p + 1;
  if (code === 0xc0 || code === 0xc1) {
    need(p + 1, 1, b.length);
    return p + 2 + (b[p + 1] as number);
  }
  if (code === 0xd0 || code === 0xd1) {
    need(p + 1, 4, b.length);
    return p + 5 + b.readUInt32BE(p + 1);
  }
  return scanValue(b, p, LIMITS);
}

function locate(b: Buffer): SectionOffsets {
  const at: SectionOffsets = { header: -1, annotations: -1, properties: -1, applicationProperties: -1 };
  let offset = 0;
  while (offset + 3 <= b.length) {
    if (b[offset] !== 0x00 || b[offset + 1] !== 0x53) return at; // not a section as clients send them
    const code = b[offset + 2] as number;
    const value = offset + 3;
    if (code >= FIRST_BODY_SECTION) return at;
    if (code === HEADER) at.header = value;
    else if (code === MESSAGE_ANNOTATIONS) at.annotations = value;
    else if (code === PROPERTIES) at.properties = value;
    else if (code === APPLICATION_PROPERTIES) at.applicationProperties = value;
    offset = sectionEnd(b, value);
  }
  return at;
}

class DecodedFields implements MessageFields {
  private readonly sections: SectionOffsets;
  private headerItems: Primitive[] | undefined;
  private propertyItems: Primitive[] | undefined;
  private applicationMap: Map<string, SelectorValue> | undefined;
  private jmsTypeValue: string | null | undefined;

  constructor(
    private readonly bytes: Buffer,
    readonly deliveryCount: number,
    private readonly brokerExpiresAtMs: number | null,
  ) {
    this.sections = locate(bytes);
  }

  /** A section's elements; a section that does not decode reads as absent, so that no getter
   * (and so no evaluation) ever throws. */
  private items(at: number): Primitive[] {
    if (at < 0) return [];
    try {
      return elements(this.bytes, at, this.bytes.length);
    } catch {
      return [];
    }
  }

  private header(): Primitive[] {
    return (this.headerItems ??= this.items(this.sections.header));
  }

  private properties(): Primitive[] {
    return (this.propertyItems ??= this.items(this.sections.properties));
  }

  get durable(): boolean {
    return this.header()[0]?.value === true;
  }
  get priority(): number {
    const v = this.header()[1]?.value;
    return typeof v === 'bigint' ? Number(v) : 4;
  }
  get messageId(): string | null {
    return idString(this.properties()[0]);
  }
  get to(): string | null {
    return stringOf(this.properties()[2]);
  }
  get subject(): string | null {
    return stringOf(this.properties()[3]);
  }
  get replyTo(): string | null {
    return stringOf(this.properties()[4]);
  }
  get correlationId(): string | null {
    return idString(this.properties()[5]);
  }
  get expiresAtMs(): number | null {
    return this.brokerExpiresAtMs ?? msOf(this.properties()[8]);
  }
  get creationTimeMs(): number | null {
    return msOf(this.properties()[9]);
  }
  get jmsType(): string | null {
    if (this.jmsTypeValue === undefined) {
      this.jmsTypeValue = null;
      const items = this.items(this.sections.annotations);
      for (let i = 0; i + 1 < items.length; i += 2) {
        const key = (items[i] as Primitive).value;
        if ((key === 'x-opt-jms-type' || key === 'jms-type') && typeof items[i + 1]?.value === 'string') this.jmsTypeValue = items[i + 1]?.value as string;
      }
    }
    return this.jmsTypeValue;
  }
  get applicationProperties(): ReadonlyMap<string, SelectorValue> {
    if (!this.applicationMap) {
      const map = new Map<string, SelectorValue>();
      const items = this.items(this.sections.applicationProperties);
      for (let i = 0; i + 1 < items.length; i += 2) {
        const key = (items[i] as Primitive).value;
        if (typeof key === 'string') map.set(key, propertyValue(items[i + 1] as Primitive));
      }
      this.applicationMap = map;
    }
    return this.applicationMap;
  }
}

/** The selector's view of an encoded message. `deliveryCount` and `expiresAtMs` are the
 * broker's (the header in the bytes is the producer's). */
export function selectorFields(bytes: Uint8Array, deliveryCount: number, expiresAtMs: number | null): MessageFields | null {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return new DecodedFields(buffer, deliveryCount, expiresAtMs);
  } catch {
    return null;
  }
}
