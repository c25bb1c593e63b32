// Cuts a connection's input into protocol headers and frames (AMQP 1.0 §2.2, §2.3; SASL §5.3)
// and checks each complete frame before rhea reads it: its size against the limit before a byte
// of it is buffered, its header fields, and its performative with the bounded scanner
// (value-scan.ts). rhea decodes only frames that passed. Pure: bytes and a phase in, a verdict out.

import { DecodeError, scanValue, type ScanLimits } from './value-scan.js';

/** What the peer's next bytes must be: its protocol header, or SASL frames (after the SASL
 * header, until the AMQP header follows them), or AMQP frames. */
export type StreamPhase = 'header' | 'sasl' | 'amqp';

/** §5.3.1: SASL frames are at most MIN-MAX-FRAME-SIZE (512) bytes. */
export const SASL_FRAME_SIZE_MAX = 512;

const HEADER_BYTES = 8;
const FRAME_HEADER_BYTES = 8;
const SASL_PROTOCOL_ID = 3;
const FRAME_TYPE = { amqp: 0, sasl: 1 } as const;
const LIST_CODES = new Set([0x45, 0xc0, 0xd0]);

export interface FrameLimits extends ScanLimits {
  readonly maxFrameSizeBytes: number;
}

export type FrameViolation = {
  readonly kind: 'violation';
  readonly code: 'FRAMING_ERROR' | 'DECODE_ERROR';
  readonly condition: 'amqp:connection:framing-error' | 'amqp:decode-error';
  readonly description: string;
};

export type NextUnit =
  /** Not enough bytes for the next unit yet (at most one frame's worth is ever waited for). */
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'header'; readonly end: number; readonly protocolId: number; readonly phase: StreamPhase }
  | { readonly kind: 'frame'; readonly end: number; readonly channel: number }
  | FrameViolation;

const framing = (description: string): FrameViolation => ({ kind: 'violation', code: 'FRAMING_ERROR', condition: 'amqp:connection:framing-error', description });
const decoding = (description: string): FrameViolation => ({ kind: 'violation', code: 'DECODE_ERROR', condition: 'amqp:decode-error', description });

function startsWithAmqp(bytes: Uint8Array, at: number): boolean {
  return bytes[at] === 0x41 && bytes[at + 1] === 0x4d && bytes[at + 2] === 0x51 && bytes[at + 3] === 0x50;
}

/** The unit that starts at `offset`. A header is returned as it is (rhea answers a header that is
 * not AMQP's with its own, §2.2); frames are checked in full. */
export function nextUnit(bytes: Uint8Array, offset: number, phase: StreamPhase, limits: FrameLimits): NextUnit {
  const available = bytes.length - offset;
  // After the SASL exchange the client sends the AMQP header where a frame would start; its
  // first four bytes read as a 1.1 GB frame size, more than a SASL frame may have.
  if (phase === 'header' || (phase === 'sasl' && available >= 4 && startsWithAmqp(bytes, offset))) {
    if (available < HEADER_BYTES) return { kind: 'incomplete' };
    const protocolId = bytes[offset + 4] as number;
    return { kind: 'header', end: offset + HEADER_BYTES, protocolId, phase: phase === 'header' && protocolId === SASL_PROTOCOL_ID ? 'sasl' : 'amqp' };
  }
  if (available < 4) return { kind: 'incomplete' };
  const size = ((bytes[offset] as number) * 2 ** 24) + (((bytes[offset + 1] as number) << 16) | ((bytes[offset + 2] as number) << 8) | (bytes[offset + 3] as number));
  const limit = phase === 'sasl' ? SASL_FRAME_SIZE_MAX : limits.maxFrameSizeBytes;
  if (size > limit) {
    return framing(phase === 'sasl' ? `SASL frame of ${size} bytes exceeds ${SASL_FRAME_SIZE_MAX} (AMQP 1.0 §5.3.1)` : `frame of ${size} bytes exceeds max-frame-size ${limit}`);
  }
  if (size < FRAME_HEADER_BYTES) return framing(`frame size ${size} is less than the 8-byte frame header`);
  if (available < size) return { kind: 'incomplete' };
  const end = offset + size;
  const doff = bytes[offset + 4] as number;
  if (doff < 2) return framing(`invalid data offset ${doff}, must be at least 2`);
  if (doff * 4 > size) return framing(`data offset ${doff} points past the end of a ${size}-byte frame`);
  const type = bytes[offset + 5] as number;
  const expected = phase === 'sasl' ? FRAME_TYPE.sasl : FRAME_TYPE.amqp;
  if (type !== expected) return framing(`frame type ${type} where ${phase === 'sasl' ? 'SASL' : 'AMQP'} frames (type ${expected}) are expected`);
  const channel = ((bytes[offset + 6] as number) << 8) | (bytes[offset + 7] as number);
  const bodyStart = offset + doff * 4;
  if (bodyStart === end) return { kind: 'frame', end, channel }; // an empty frame: a heartbeat (§2.4.5)
  const verdict = checkPerformative(bytes, bodyStart, end, limits);
  return verdict ?? { kind: 'frame', end, channel };
}

/** A frame body starts with its performative: a described list (§2.7, §5.3.3), every count and
 * length in it bounded by the frame. What follows it is a transfer's payload, checked as a
 * message when the delivery is complete. */
function checkPerformative(bytes: Uint8Array, start: number, end: number, limits: FrameLimits): FrameViolation | null {
  if (bytes[start] !== 0x00) return decoding(`frame body at byte ${start} is not a described performative`);
  try {
    const descriptorEnd = scanValue(bytes, start + 1, limits, end);
    if (descriptorEnd >= end || !LIST_CODES.has(bytes[descriptorEnd] as number)) return decoding('performative is not a described list');
    scanValue(bytes, start, limits, end);
    return null;
  } catch (err) {
    if (err instanceof DecodeError) return decoding(`malformed performative: ${err.message}`);
    throw err;
  }
}
