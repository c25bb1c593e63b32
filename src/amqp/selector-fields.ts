// Decodes what a selector may ask of a stored message (src/selector/message-fields.ts): the
// header, message annotations, properties and application properties of the producer's bytes.
// Each section is bounds-checked (value-scan.ts) before rhea decodes it, the body is never
// decoded, and a message that does not decode yields null (every identifier NULL, so the
// selector is not TRUE): evaluation never throws.

import { createRequire } from 'node:module';
import type { SelectorValue } from '../selector/ast.js';
import type { MessageFields } from '../selector/message-fields.js';
import { DEFAULT_MAX_DECODE_DEPTH, scanValue } from './value-scan.js';

interface Typed {
  readonly type: { readonly name: string };
  readonly value: unknown;
  readonly descriptor?: Typed;
}

const rheaTypes = createRequire(import.meta.url)('rhea/lib/types.js') as { Reader: new (buffer: Buffer) => { read(): Typed } };

const HEADER = 0x70;
const MESSAGE_ANNOTATIONS = 0x72;
const PROPERTIES = 0x73;
const APPLICATION_PROPERTIES = 0x74;
const FIRST_BODY_SECTION = 0x75;
const LIMITS = { maxDepth: DEFAULT_MAX_DECODE_DEPTH };
const INT64_MAX = (1n << 63n) - 1n;

const INTEGER_TYPES = new Set(['Ubyte', 'Ushort', 'Uint', 'SmallUint', 'Uint0', 'Ulong', 'SmallUlong', 'Ulong0', 'Byte', 'Short', 'Int', 'SmallInt', 'Long', 'SmallLong']);

/** An application property as a selector value, with qpidd's typing (Selector.cpp ValueHandler):
 * integers are exact (a ulong above 2^63-1 becomes approximate), float and double approximate,
 * strings and symbols strings, timestamps exact milliseconds; binary, uuid, decimal, char and
 * compound values are NULL. */
function propertyValue(typed: Typed): SelectorValue {
  const { name } = typed.type;
  const v = typed.value;
  if (INTEGER_TYPES.has(name)) {
    if (typeof v === 'number') return BigInt(v);
    if (Buffer.isBuffer(v) && v.length === 8) {
      if (name === 'Ulong') {
        const u = v.readBigUInt64BE(0);
        return u > INT64_MAX ? Number(u) : u;
      }
      return v.readBigInt64BE(0);
    }
    return null;
  }
  switch (name) {
    case 'Boolean':
    case 'True':
    case 'False':
      return v === true;
    case 'Float':
    case 'Double':
      return typeof v === 'number' ? v : null;
    case 'Str8':
    case 'Str32':
    case 'Sym8':
    case 'Sym32':
      return typeof v === 'string' ? v : null;
    case 'Timestamp':
      return v instanceof Date ? BigInt(v.getTime()) : null;
    default:
      return null;
  }
}

/** message-id and correlation-id as strings (qpidd's MessageId::str()). */
function idString(typed: Typed | undefined): string | null {
  if (!typed) return null;
  const v = typed.value;
  if (v === null || v === undefined) return null;
  if (typed.type.name === 'Uuid' && Buffer.isBuffer(v) && v.length === 16) {
    const hex = v.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  if (Buffer.isBuffer(v)) return typed.type.name === 'Ulong' && v.length === 8 ? v.readBigUInt64BE(0).toString() : v.toString('utf8');
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  return null;
}

function stringField(typed: Typed | undefined): string | null {
  return typed && typeof typed.value === 'string' ? typed.value : null;
}

function msField(typed: Typed | undefined): number | null {
  return typed && typed.value instanceof Date ? typed.value.getTime() : null;
}

function listItems(section: Typed): readonly Typed[] {
  return Array.isArray(section.value) ? (section.value as Typed[]) : [];
}

/** The selector's view of an encoded message. `deliveryCount` and `expiresAtMs` are the
 * broker's (the header in the bytes is the producer's). */
export function selectorFields(bytes: Uint8Array, deliveryCount: number, expiresAtMs: number | null): MessageFields | null {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let durable = false;
  let priority = 4;
  let properties: readonly Typed[] = [];
  let jmsType: string | null = null;
  const applicationProperties = new Map<string, SelectorValue>();
  try {
    let offset = 0;
    while (offset < buffer.length) {
      const end = scanValue(buffer, offset, LIMITS);
      const code = buffer[offset + 1] === 0x53 ? (buffer[offset + 2] as number) : -1;
      if (code === -1 || code >= FIRST_BODY_SECTION) break;
      if (code === HEADER || code === MESSAGE_ANNOTATIONS || code === PROPERTIES || code === APPLICATION_PROPERTIES) {
        const section = new rheaTypes.Reader(buffer.subarray(offset, end)).read();
        const items = listItems(section);
        if (code === HEADER) {
          durable = items[0]?.value === true;
          if (typeof items[1]?.value === 'number') priority = items[1].value;
        } else if (code === PROPERTIES) {
          properties = items;
        } else {
          for (let i = 0; i + 1 < items.length; i += 2) {
            const key = (items[i] as Typed).value;
            if (typeof key !== 'string') continue;
            const value = items[i + 1] as Typed;
            if (code === APPLICATION_PROPERTIES) applicationProperties.set(key, propertyValue(value));
            else if ((key === 'x-opt-jms-type' || key === 'jms-type') && typeof value.value === 'string') jmsType = value.value;
          }
        }
      }
      offset = end;
    }
  } catch {
    return null;
  }
  return {
    durable,
    priority,
    deliveryCount,
    messageId: idString(properties[0]),
    to: stringField(properties[2]),
    subject: stringField(properties[3]),
    replyTo: stringField(properties[4]),
    correlationId: idString(properties[5]),
    expiresAtMs: expiresAtMs ?? msField(properties[8]),
    creationTimeMs: msField(properties[9]),
    jmsType,
    applicationProperties,
  };
}
