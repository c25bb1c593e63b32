// The seals of store rows are part of the on-disk format: a store written by an earlier build
// must still pass its checksums. An enqueues entry is sealed with the CRC-32 of its bytes seeded
// with the CRC-32 of the text `queue NUL position`, however that seed is computed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { decodeEntry, encodeEntry } from '../../store/layout.js';
import { digitsSeed, SEAL_BYTES } from '../../store/checksum.js';
import { readF64LE, readU32LE } from '../../store/little-endian.js';

const ENTRY = { messageId: 42, size: 1100, persistent: true, expiresAtMs: null, deliveryCount: 0 };

test('an enqueues entry is sealed with the CRC of its bytes seeded by the CRC of "queue NUL position"', () => {
  for (const [queue, position] of [['orders', 1], ['q-é', 123_456_789], ['', 0]] as const) {
    const sealed = encodeEntry(queue, position, ENTRY);
    const body = sealed.subarray(0, sealed.byteLength - SEAL_BYTES);
    const expected = crc32(body, crc32(`${queue}\u0000${position}`));
    assert.equal(sealed.readUInt32LE(sealed.byteLength - SEAL_BYTES), expected, `${queue}/${position}`);
    assert.deepEqual(decodeEntry(sealed, { queue, position }), ENTRY);
  }
});

test('an entry read under another key, or with a changed byte, fails its checksum', () => {
  const sealed = encodeEntry('orders', 7, ENTRY);
  assert.throws(() => decodeEntry(sealed, { queue: 'orders', position: 8 }), /checksum/);
  assert.throws(() => decodeEntry(sealed, { queue: 'order', position: 7 }), /checksum/);
  const flipped = Buffer.from(sealed);
  flipped[3] = (flipped[3] as number) ^ 0x10;
  assert.throws(() => decodeEntry(flipped, { queue: 'orders', position: 7 }), /checksum/);
});

test('digitsSeed continues a CRC over an integer\'s digits exactly as zlib does', () => {
  for (const n of [0, 7, 10, 99, 123_456_789, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
    for (const seed of [0, 1, 0xffffffff, crc32('orders\u0000')]) assert.equal(digitsSeed(n, seed), crc32(String(n), seed), `${n} from ${seed}`);
  }
});

test('row fields are read little-endian, and a read past the end of a row throws rather than yield a number', () => {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(0xdeadbeef, 1);
  b.writeDoubleLE(-1234.5e100, 8);
  assert.equal(readU32LE(b, 1), 0xdeadbeef);
  assert.equal(readF64LE(b, 8), -1234.5e100);
  assert.equal(readF64LE(b.subarray(8), 0), -1234.5e100);
  assert.throws(() => readU32LE(b, 13), RangeError);
  assert.throws(() => readF64LE(b, 9), RangeError);
  assert.throws(() => readU32LE(b, -1), RangeError);
});
