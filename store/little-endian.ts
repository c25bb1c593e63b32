// Little-endian reads of the fixed fields of a stored row. A DataView made for each row read
// (the obvious way) cost about 130 ns, several times per message on the durable and snapshot
// paths (bench/snapshot-read: 4% of a snapshot's read); these are index reads. Like a DataView,
// a read past the end throws, so a short row fails where it is read rather than as a garbage
// number.

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const hostIsLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function reach(b: Uint8Array, offset: number, n: number): void {
  if (!(offset >= 0 && offset + n <= b.byteLength)) throw new RangeError(`reading ${n} bytes at offset ${offset} of ${b.byteLength}`);
}

export function readU32LE(b: Uint8Array, offset: number): number {
  reach(b, offset, 4);
  return ((b[offset] as number) | ((b[offset + 1] as number) << 8) | ((b[offset + 2] as number) << 16)) + (b[offset + 3] as number) * 0x1000000;
}

export function readF64LE(b: Uint8Array, offset: number): number {
  reach(b, offset, 8);
  if (hostIsLittleEndian) for (let i = 0; i < 8; i++) f64Bytes[i] = b[offset + i] as number;
  else for (let i = 0; i < 8; i++) f64Bytes[7 - i] = b[offset + i] as number;
  return f64[0] as number;
}
