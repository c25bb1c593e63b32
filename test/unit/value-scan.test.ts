// The bounded scanner (src/amqp/value-scan.ts): every well-formed value is accepted with its exact
// length and decodes in rhea the same way; every truncation is refused; every count or length
// that claims more bytes than there are is refused before anything is allocated; nesting is
// bounded. The issue 19 cases (an array32 claiming 2^32-1 nulls) are here byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { DecodeError, scanValue, scanValues } from '../../src/amqp/value-scan.js';
import { amqpValue } from '../helpers/amqp-arbitrary.js';
import { bin, described, encode, hollowArray32, list, map, nul, raw, smallulong, str, sym, uint } from '../helpers/amqp-encode.js';

const require = createRequire(import.meta.url);
const rheaTypes = require('rhea/lib/types.js') as { Reader: new (b: Buffer) => { read(): unknown; remaining(): number } };

const LIMITS = { maxDepth: 100 };

function refused(bytes: Buffer, pattern: RegExp, limits = LIMITS): void {
  assert.throws(() => scanValue(bytes, 0, limits), (err: unknown) => err instanceof DecodeError && err.code === 'DECODE_ERROR' && pattern.test(err.message));
}

test('every well-formed value is accepted whole, and rhea decodes exactly those bytes', () => {
  fc.assert(
    fc.property(amqpValue(5), (value) => {
      const bytes = encode(value);
      assert.equal(scanValue(bytes, 0, LIMITS), bytes.length);
      const reader = new rheaTypes.Reader(bytes);
      reader.read();
      assert.equal(reader.remaining(), 0);
    }),
    { numRuns: 2000, seed: 19, endOnFailure: true },
  );
});

test('every strict prefix of a well-formed value is refused (nothing is read past the end)', () => {
  fc.assert(
    fc.property(amqpValue(4), fc.nat(), (value, cut) => {
      const bytes = encode(value);
      const prefix = bytes.subarray(0, cut % bytes.length);
      assert.throws(() => scanValue(prefix, 0, LIMITS), DecodeError);
    }),
    { numRuns: 2000, seed: 20, endOnFailure: true },
  );
});

test('a value is checked against the end it is given, not the buffer behind it', () => {
  const bytes = Buffer.concat([encode(str('hello')), Buffer.alloc(16)]);
  assert.equal(scanValue(bytes, 0, LIMITS), 7);
  assert.throws(() => scanValue(bytes, 0, LIMITS, 6), DecodeError);
});

test('issue 19: an array32 claiming 2^32-1 nulls in 10 bytes is refused at once', () => {
  const started = process.hrtime.bigint();
  refused(hollowArray32(), /claims 4294967295 zero-width elements/);
  // The same as an open frame's max-frame-size field, and inside application properties.
  refused(encode(described(smallulong(0x10), list([str('xxxx'), nul, raw(hollowArray32())], true))), /zero-width/);
  refused(encode(described(smallulong(0x74), map([str('k'), raw(hollowArray32())]))), /zero-width/);
  assert.ok(process.hrtime.bigint() - started < 50_000_000n, 'refused in well under 50 ms');
});

test('counts and sizes that claim more than the bytes there are', () => {
  // list32 claiming 2^32-1 elements in 4 bytes of content
  refused(Buffer.from([0xd0, 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0x40, 0x40, 0x40, 0x40]), /claims 4294967295 elements/);
  // map32 claiming a billion entries
  refused(Buffer.from([0xd1, 0, 0, 0, 6, 0x3b, 0x9a, 0xca, 0x00, 0x40, 0x40]), /claims 1000000000 elements/);
  // array32 of uints claiming more than fit
  refused(Buffer.from([0xf0, 0, 0, 0, 9, 0, 0, 0, 3, 0x70, 0, 0, 0, 1]), /claims 3 elements/);
  // binary, string and symbol lengths beyond the end
  refused(Buffer.from([0xb0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]), /truncated/);
  refused(Buffer.from([0xa1, 0x10, 0x61]), /truncated/);
  refused(Buffer.from([0xb3, 0x00, 0x01, 0x00, 0x00, 0x61]), /truncated/);
  // a list whose size is smaller than its count field, and one whose elements overrun its size
  refused(Buffer.from([0xd0, 0, 0, 0, 2, 0, 0, 0, 0]), /less than its count field/);
  refused(Buffer.from([0xc0, 2, 1, 0xa1, 0x01, 0x61]), /truncated/);
  // a list whose elements end before its declared size
  refused(Buffer.from([0xc0, 3, 1, 0x40, 0x40]), /declares 3 bytes but its elements take 2/);
  // odd map counts and unknown format codes
  refused(Buffer.from([0xc1, 2, 1, 0x40]), /odd element count/);
  refused(Buffer.from([0x57]), /invalid AMQP format code 0x57/);
  refused(Buffer.from([0xe0, 2, 1, 0x00]), /truncated|format code 0x00/);
});

test('nesting deeper than --max-decode-depth is refused; described chains count', () => {
  const nested = (levels: number): Buffer => {
    let value = nul;
    for (let i = 0; i < levels; i++) value = list([value]);
    return encode(value);
  };
  assert.equal(scanValue(nested(100), 0, LIMITS), nested(100).length);
  refused(nested(101), /nested deeper than 100/);
  assert.equal(scanValue(nested(5), 0, { maxDepth: 5 }), nested(5).length);
  refused(nested(6), /nested deeper than 5/, { maxDepth: 5 });
  // 0x00 0x00 0x00 ...: a descriptor that is itself described, 10,000 times over
  refused(Buffer.concat([Buffer.alloc(10_000, 0x00), Buffer.from([0x40, 0x40])]), /nested deeper than 100/);
  // rhea decodes the deepest value the default allows without exhausting its stack
  const reader = new rheaTypes.Reader(nested(100));
  reader.read();
});

test('a message: sections in a row, each bounded', () => {
  const sections = Buffer.concat([encode(described(smallulong(0x74), map([str('k'), uint(7)]))), encode(described(smallulong(0x75), bin(Buffer.alloc(300, 1))))]);
  scanValues(sections, 0, LIMITS);
  assert.throws(() => scanValues(Buffer.concat([sections, Buffer.from([0x00, 0x53])]), 0, LIMITS), DecodeError);
  assert.equal(scanValue(encode(sym('amqp:accepted:list')), 0, LIMITS), 20);
});
