// Pre-encoded load messages: the AMQP encoding of one message is built once, and each send copies
// it and writes three fixed-width fields in place (send time, producer, sequence), so that the load
// generator spends its CPU on the wire and not on rhea's encoder. Fields are application
// properties so that any broker carries them through untouched (AMQP 1.0 §3.2.5).
import rhea from 'rhea';

export interface MessageTemplate {
  readonly bytes: number;
  /**
   * A fresh buffer with the fields written in; the caller hands it to rhea, which keeps it.
   * Consumers read them back as application properties `ts` (send time in ms on the load
   * generator's performance.now() clock), `p` (producer index) and `s` (sequence number).
   */
  stamp(sentMs: number, producer: number, seq: number): Buffer;
}

// Marker values, chosen so that their 9-byte encodings (type code + 8 bytes) cannot occur in the
// body (filled with 'x') or in each other; the template asserts each is found exactly once.
const MARK_SENT_MS = 12345.678910111213;
const MARK_PRODUCER = 0x7ea1_b2c3;
const MARK_SEQ = 0x7ed4_e5f6;
const BODY_FILL = 0x78;

function encodedDouble(value: number): Buffer {
  const buffer = Buffer.alloc(9);
  buffer[0] = 0x82; // double
  buffer.writeDoubleBE(value, 1);
  return buffer;
}

function encodedUlong(value: number): Buffer {
  const buffer = Buffer.alloc(9);
  buffer[0] = 0x80; // ulong, full width
  buffer.writeUInt32BE(0, 1);
  buffer.writeUInt32BE(value, 5);
  return buffer;
}

function offsetOfValue(encoded: Buffer, marker: Buffer, what: string): number {
  const at = encoded.indexOf(marker);
  if (at < 0 || encoded.indexOf(marker, at + 1) >= 0) {
    throw new Error(`message template: the ${what} marker is not found exactly once in the encoding`);
  }
  return at + 1; // the value follows the type code
}

export function buildMessageTemplate(bodyBytes: number, durable: boolean): MessageTemplate {
  if (!Number.isInteger(bodyBytes) || bodyBytes < 0) throw new Error(`body size ${bodyBytes} must be a non-negative integer`);
  const types = rhea.types;
  const encoded = rhea.message.encode({
    durable,
    application_properties: {
      ts: types.wrap_double(MARK_SENT_MS),
      p: types.wrap_ulong(MARK_PRODUCER),
      s: types.wrap_ulong(MARK_SEQ),
    },
    body: rhea.message.data_section(Buffer.alloc(bodyBytes, BODY_FILL)),
  });
  const sentAt = offsetOfValue(encoded, encodedDouble(MARK_SENT_MS), 'send time');
  const producerAt = offsetOfValue(encoded, encodedUlong(MARK_PRODUCER), 'producer');
  const seqAt = offsetOfValue(encoded, encodedUlong(MARK_SEQ), 'sequence');
  return {
    bytes: encoded.length,
    stamp(sentMs, producer, seq) {
      const buffer = Buffer.allocUnsafe(encoded.length);
      encoded.copy(buffer);
      buffer.writeDoubleBE(sentMs, sentAt);
      // ulong as two 32-bit halves: producer and sequence numbers stay below 2^32.
      buffer.writeUInt32BE(0, producerAt);
      buffer.writeUInt32BE(producer >>> 0, producerAt + 4);
      buffer.writeUInt32BE(0, seqAt);
      buffer.writeUInt32BE(seq >>> 0, seqAt + 4);
      return buffer;
    },
  };
}
