// CRC-32 seals of what the LMDB store writes (issue 16): LMDB has no checksums of its own, so a
// flipped bit in a page came back as a different body, or as a silently missing message. Every
// value carries a CRC-32 (node's zlib.crc32) in its last four bytes, seeded with its key, so that
// a value moved under another key fails as surely as a changed byte. Pure: bytes in, bytes out.
//
// CHECKSUMS_BUILT_IN is a build flag kept only to measure what checksums cost (bench/checksum-cost):
// the bench builds a copy with it false, which writes zero seals and checks none. Never ship that.

import { crc32 } from 'node:zlib';
import { CHECKSUMS_BUILT_IN } from './checksum-build.js';
import { StoreError } from './errors.js';
import { readU32LE } from './little-endian.js';

export const SEAL_BYTES = 4;

/** The CRC of `bytes`, continuing from `seed` (a key's own CRC, or a number key folded to 32 bits).
 * Always zlib's: a table loop here for short values (an index entry is 27 bytes) was faster in a
 * micro-benchmark and in bench/snapshot-read, but under the durable 4+4 load it took 1.7% of the
 * broker's profile where zlib's calls had taken 0.7% (2026-12-06). */
export function checksum(bytes: Uint8Array, seed = 0): number {
  return CHECKSUMS_BUILT_IN ? crc32(bytes, seed) : 0;
}

/** A seed from a number key (an LSN, a message id): its low 32 bits. */
export function numberSeed(n: number): number {
  return n % 0x1_0000_0000;
}

/** A seed from a text key (its UTF-8 bytes), continuing from `seed`. */
export function textSeed(text: string, seed = 0): number {
  return CHECKSUMS_BUILT_IN ? crc32(text, seed) : 0;
}

/** The CRC-32 table (IEEE polynomial, reflected), for digitsSeed. */
const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** textSeed of a non-negative integer's decimal digits, continuing from `seed` (the same value
 * as zlib's): a store row's key ends in a position, and zlib.crc32 on a short string costs
 * its call and a UTF-8 conversion, about 0.4% of the durable path for two per message. */
export function digitsSeed(n: number, seed: number): number {
  if (!CHECKSUMS_BUILT_IN) return 0;
  const digits = String(n);
  let c = ~seed;
  for (let i = 0; i < digits.length; i++) c = (CRC_TABLE[(c ^ digits.charCodeAt(i)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/** `bytes` followed by their CRC (seeded with `seed`), in `into` when it is large enough (LMDB
 * copies a value at put, so the broker's write path reuses one scratch buffer). */
export function seal(bytes: Uint8Array, seed: number, into?: Buffer): Buffer {
  const n = bytes.byteLength + SEAL_BYTES;
  const out = into && into.length >= n ? into.subarray(0, n) : Buffer.allocUnsafe(n);
  out.set(bytes, 0);
  out.writeUInt32LE(checksum(bytes, seed), bytes.byteLength);
  return out;
}

/** Why a sealed value fails its check, or null when it is sound. */
export function sealProblem(sealed: Uint8Array, seed: number): string | null {
  if (sealed.byteLength < SEAL_BYTES) return `${sealed.byteLength} bytes, too short to hold its checksum`;
  if (!CHECKSUMS_BUILT_IN) return null;
  const end = sealed.byteLength - SEAL_BYTES;
  const stored = readU32LE(sealed, end);
  const computed = checksum(sealed.subarray(0, end), seed);
  return stored === computed ? null : `checksum mismatch (stored ${hex(stored)}, computed ${hex(computed)})`;
}

/** The value inside a sealed one, checked; STORE_CORRUPT naming `where` if it fails (a function
 * for a name that costs something to build: it is only needed when the check fails). */
export function unseal(sealed: Uint8Array, seed: number, where: string | (() => string)): Uint8Array {
  const problem = sealProblem(sealed, seed);
  if (problem !== null) throw new StoreError('STORE_CORRUPT', `${typeof where === 'string' ? where : where()} fails its checksum: ${problem}`);
  return sealed.subarray(0, sealed.byteLength - SEAL_BYTES);
}

/** The value inside a sealed one, unchecked (retention's byte accounting of entries it drops). */
export function unsealUnchecked(sealed: Uint8Array): Uint8Array {
  return sealed.subarray(0, Math.max(0, sealed.byteLength - SEAL_BYTES));
}

export function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
