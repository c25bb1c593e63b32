// Cutting a connection's input into headers and frames (src/amqp/frame-scan.ts): the phases
// (header, SASL, AMQP), sizes checked as soon as they are known, frame headers, performatives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextUnit, SASL_FRAME_SIZE_MAX, type FrameLimits } from '../../src/amqp/frame-scan.js';
import { AMQP_HEADER, composite, encode, frame, hollowArray32, raw, SASL_HEADER, str } from '../helpers/amqp-encode.js';

const LIMITS: FrameLimits = { maxFrameSizeBytes: 4096, maxDepth: 100 };
const open = frame(encode(composite(0x10, [str('c')])));

test('headers: the first 8 bytes, SASL or AMQP; after SASL frames the AMQP header is recognised', () => {
  assert.deepEqual(nextUnit(AMQP_HEADER.subarray(0, 5), 0, 'header', LIMITS), { kind: 'incomplete' });
  assert.deepEqual(nextUnit(AMQP_HEADER, 0, 'header', LIMITS), { kind: 'header', end: 8, protocolId: 0, phase: 'amqp' });
  assert.deepEqual(nextUnit(SASL_HEADER, 0, 'header', LIMITS), { kind: 'header', end: 8, protocolId: 3, phase: 'sasl' });
  const afterSasl = Buffer.concat([frame(encode(composite(0x41, [str('x')])), { type: 1 }), AMQP_HEADER]);
  const first = nextUnit(afterSasl, 0, 'sasl', LIMITS);
  assert.equal(first.kind, 'frame');
  assert.deepEqual(nextUnit(afterSasl, first.kind === 'frame' ? first.end : 0, 'sasl', LIMITS), { kind: 'header', end: afterSasl.length, protocolId: 0, phase: 'amqp' });
  // Bytes that are not a header are passed on as one: rhea answers with its own header.
  assert.equal(nextUnit(Buffer.from('GET / HTTP/1.1'), 0, 'header', LIMITS).kind, 'header');
});

test('a frame is checked whole, its size as soon as four bytes of it are there', () => {
  assert.deepEqual(nextUnit(open.subarray(0, 3), 0, 'amqp', LIMITS), { kind: 'incomplete' });
  assert.deepEqual(nextUnit(open.subarray(0, 10), 0, 'amqp', LIMITS), { kind: 'incomplete' });
  assert.deepEqual(nextUnit(open, 0, 'amqp', LIMITS), { kind: 'frame', end: open.length, channel: 0 });
  const huge = Buffer.from([0xff, 0xff, 0xff, 0xff]);
  const refused = nextUnit(huge, 0, 'amqp', LIMITS);
  assert.equal(refused.kind === 'violation' && refused.condition, 'amqp:connection:framing-error');
  assert.match(refused.kind === 'violation' ? refused.description : '', /exceeds max-frame-size 4096/);
  const saslBig = Buffer.from([0, 0, 0x02, 0x01]);
  const saslRefused = nextUnit(saslBig, 0, 'sasl', LIMITS);
  assert.match(saslRefused.kind === 'violation' ? saslRefused.description : '', new RegExp(`exceeds ${SASL_FRAME_SIZE_MAX}`));
});

test('frame headers: size, data offset, type for the phase; an empty frame is a heartbeat', () => {
  const framing = (bytes: number[], phase: 'amqp' | 'sasl' = 'amqp'): string => {
    const unit = nextUnit(Buffer.from(bytes), 0, phase, LIMITS);
    return unit.kind === 'violation' ? `${unit.code}: ${unit.description}` : unit.kind;
  };
  assert.match(framing([0, 0, 0, 4]), /FRAMING_ERROR: frame size 4/);
  assert.match(framing([0, 0, 0, 8, 1, 0, 0, 0]), /FRAMING_ERROR: invalid data offset 1/);
  assert.match(framing([0, 0, 0, 8, 3, 0, 0, 0]), /FRAMING_ERROR: data offset 3 points past/);
  assert.match(framing([0, 0, 0, 8, 2, 1, 0, 0]), /FRAMING_ERROR: frame type 1 where AMQP/);
  assert.match(framing([0, 0, 0, 8, 2, 0, 0, 0], 'sasl'), /FRAMING_ERROR: frame type 0 where SASL/);
  assert.equal(framing([0, 0, 0, 8, 2, 0, 0, 7]), 'frame');
});

test('the performative must be a described list, every count in it bounded by the frame', () => {
  const decode = (body: Buffer): string => {
    const unit = nextUnit(frame(body), 0, 'amqp', LIMITS);
    return unit.kind === 'violation' ? `${unit.code}: ${unit.description}` : unit.kind;
  };
  assert.match(decode(Buffer.from([0xde, 0xad])), /DECODE_ERROR: frame body .* is not a described performative/);
  assert.match(decode(encode(composite(0x10, [raw(hollowArray32())]))), /DECODE_ERROR: malformed performative: .*zero-width/);
  assert.match(decode(Buffer.from([0x00, 0x53, 0x10, 0xa1, 0x01, 0x61])), /DECODE_ERROR: performative is not a described list/);
  // A transfer's payload after the performative is not scanned here (it is a message, checked
  // when the delivery is complete).
  assert.equal(decode(Buffer.concat([encode(composite(0x14, [])), Buffer.from([0xff, 0xff])])), 'frame');
});
