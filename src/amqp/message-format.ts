// Reading and adjusting encoded AMQP 1.0 messages without re-encoding them (AMQP 1.0 §3.2).
// The broker stores and forwards the producer's bytes; it decodes only the sections before the
// body (header, annotations, properties, application properties) to route the message, and
// rewrites only the header when a redelivery must carry a delivery count.

import { createRequire } from 'node:module';

import { DecodeError, DEFAULT_MAX_DECODE_DEPTH, scanValue, type ScanLimits } from './value-scan.js';

const require = createRequire(import.meta.url);
// rhea's codec (CommonJS modules without types): decode sections and encode a header.
const rheaMessage = require('rhea/lib/message.js') as {
  decode(buffer: Buffer): Record<string, unknown>;
  header(fields: Record<string, unknown>): { described(): unknown };
};
const rheaTypes = require('rhea/lib/types.js') as {
  Writer: new () => { write(value: unknown): void; toBuffer(): Buffer };
};

const DEFAULT_LIMITS: ScanLimits = { maxDepth: DEFAULT_MAX_DECODE_DEPTH };

const HEADER = 0x70;
const APPLICATION_PROPERTIES = 0x74;
const BODY_DATA = 0x75;
const BODY_SEQUENCE = 0x76;
const BODY_VALUE = 0x77;
const FOOTER = 0x78;

/** Bytes that are not a well-formed AMQP message (a DecodeError: amqp:decode-error). */
export class MessageFormatError extends DecodeError {
  constructor(message: string) {
    super(message);
    this.name = 'MessageFormatError';
  }
}

export interface ScannedMessage {
  readonly durable: boolean;
  readonly ttlMs: number | null;
  readonly deliveryCount: number;
  readonly subject: string | null;
  readonly to: string | null;
  readonly absoluteExpiryMs: number | null;
  /** The properties' message-id as rhea decodes it (string, number, Buffer), or undefined. */
  readonly messageId: unknown;
  readonly applicationProperties: Readonly<Record<string, unknown>> | null;
}

/** Offset just past the value at `offset`, every count and length in it checked against the
 * bytes there are (value-scan.ts) before rhea decodes any of it. */
function valueEnd(buffer: Buffer, offset: number, limits: ScanLimits): number {
  try {
    return scanValue(buffer, offset, limits);
  } catch (err) {
    if (err instanceof DecodeError) throw new MessageFormatError(err.message);
    throw err;
  }
}

/** The section code (0x70..0x78) of a described section at `offset`. */
function sectionCode(buffer: Buffer, offset: number): number {
  if (buffer[offset] !== 0x00) throw new MessageFormatError(`expected a described section at byte ${offset}`);
  const descriptor = buffer[offset + 1];
  if (descriptor === 0x53) return buffer[offset + 2] as number; // smallulong
  if (descriptor === 0x80) return Number(buffer.readBigUInt64BE(offset + 2));
  if (descriptor === 0x44) return 0;
  throw new MessageFormatError(`unsupported section descriptor at byte ${offset}`);
}

/** Byte offset where the body starts (or the end, if there is no body), and where the header
 * section ends (0 when there is none). */
export function locateSections(buffer: Buffer, limits: ScanLimits = DEFAULT_LIMITS): { bodyStart: number; headerEnd: number; applicationPropertiesStart: number } {
  let offset = 0;
  let headerEnd = 0;
  let applicationPropertiesStart = -1;
  while (offset < buffer.length) {
    // Bounds first: the section code is read only from a value known to be whole.
    const end = valueEnd(buffer, offset, limits);
    const code = sectionCode(buffer, offset);
    if (code === BODY_DATA || code === BODY_SEQUENCE || code === BODY_VALUE || code === FOOTER) break;
    if (code < HEADER || code > FOOTER) throw new MessageFormatError(`unknown message section 0x${code.toString(16)} at byte ${offset}`);
    if (code === HEADER) headerEnd = end;
    if (code === APPLICATION_PROPERTIES) applicationPropertiesStart = offset;
    offset = end;
  }
  // The rest (body sections, footer) must at least be well-formed values.
  let check = offset;
  while (check < buffer.length) check = valueEnd(buffer, check, limits);
  return { bodyStart: offset, headerEnd, applicationPropertiesStart };
}

function toMs(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return null;
}

function decodeSections(bytes: Buffer): Record<string, unknown> {
  try {
    return rheaMessage.decode(bytes);
  } catch (err) {
    throw new MessageFormatError(`undecodable message sections: ${(err as Error).message}`);
  }
}

/** Decodes what routing needs from an encoded message; the body is never decoded. Throws
 * MessageFormatError for bytes that are not a well-formed AMQP message.
 *
 * The application properties are decoded only when something reads them (a headers exchange):
 * a queue's producers never need them, and rhea's decoding of the map was most of this
 * function's cost (issue 14). Their bytes were bounds-checked above like every section's; if
 * rhea still cannot make a map of them, they read as absent (null), as for a message without. */
export function scanMessage(buffer: Buffer, limits: ScanLimits = DEFAULT_LIMITS): ScannedMessage {
  const { bodyStart, applicationPropertiesStart } = locateSections(buffer, limits);
  const eagerEnd = applicationPropertiesStart >= 0 ? applicationPropertiesStart : bodyStart;
  const fields = eagerEnd > 0 ? decodeSections(buffer.subarray(0, eagerEnd)) : {};
  const ttl = toMs(fields['ttl']);
  let applicationProperties: Readonly<Record<string, unknown>> | null | undefined = applicationPropertiesStart >= 0 ? undefined : null;
  return {
    durable: fields['durable'] === true,
    ttlMs: ttl,
    deliveryCount: typeof fields['delivery_count'] === 'number' ? fields['delivery_count'] : 0,
    subject: typeof fields['subject'] === 'string' ? fields['subject'] : null,
    to: typeof fields['to'] === 'string' ? fields['to'] : null,
    absoluteExpiryMs: toMs(fields['absolute_expiry_time']),
    messageId: fields['message_id'],
    get applicationProperties() {
      if (applicationProperties === undefined) {
        let decoded: unknown = null;
        try {
          decoded = rheaMessage.decode(buffer.subarray(applicationPropertiesStart, bodyStart))['application_properties'];
        } catch {
          decoded = null;
        }
        applicationProperties = decoded && typeof decoded === 'object' ? (decoded as Record<string, unknown>) : null;
      }
      return applicationProperties;
    },
  };
}

/** The message with its header saying it has been delivered `deliveryCount` times before
 * (first-acquirer false), keeping durable, priority and ttl; every other byte is unchanged. */
export function withDeliveryCount(buffer: Uint8Array, deliveryCount: number): Buffer {
  const bytes = Buffer.isBuffer(buffer) ? buffer : Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const { headerEnd } = locateSections(bytes);
  let existing: Record<string, unknown> = {};
  if (headerEnd > 0) existing = rheaMessage.decode(bytes.subarray(0, headerEnd));
  const header: Record<string, unknown> = { delivery_count: deliveryCount, first_acquirer: false };
  for (const field of ['durable', 'priority', 'ttl']) {
    if (existing[field] !== undefined) header[field] = existing[field];
  }
  const writer = new rheaTypes.Writer();
  writer.write(rheaMessage.header(header).described());
  return Buffer.concat([writer.toBuffer(), bytes.subarray(headerEnd)]);
}
