// A bounds-checking walk over AMQP 1.0 encoded values (§1.6 types, §1.2 type encodings) that
// allocates nothing: every size and count is checked against the bytes that remain before the
// next one is read, and nesting is bounded. rhea 3.0.5's decoder allocates from the declared
// count (an array32 of 2^32-1 nulls is 10 bytes and takes it to 40 GB), so every byte it decodes
// from a peer passes through here first. Pure: no I/O, no state.

export const DEFAULT_MAX_DECODE_DEPTH = 100;

/** Bytes that are not a well-formed AMQP value (stable code DECODE_ERROR, amqp:decode-error). */
export class DecodeError extends Error {
  readonly code = 'DECODE_ERROR';
  readonly condition = 'amqp:decode-error';
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** The encoding family of each format code AMQP 1.0 defines (§1.6); absent codes are invalid. */
type Family = { readonly kind: 'fixed'; readonly width: number } | { readonly kind: 'variable' | 'compound' | 'array'; readonly width: 1 | 4 };

const FAMILIES = new Map<number, Family>();
const fixed = (width: number, codes: number[]): void => codes.forEach((c) => FAMILIES.set(c, { kind: 'fixed', width }));
// null, true, false, uint0, ulong0, list0
fixed(0, [0x40, 0x41, 0x42, 0x43, 0x44, 0x45]);
// ubyte, byte, smalluint, smallulong, smallint, smalllong, boolean
fixed(1, [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56]);
fixed(2, [0x60, 0x61]); // ushort, short
fixed(4, [0x70, 0x71, 0x72, 0x73, 0x74]); // uint, int, float, char, decimal32
fixed(8, [0x80, 0x81, 0x82, 0x83, 0x84]); // ulong, long, double, timestamp, decimal64
fixed(16, [0x94, 0x98]); // decimal128, uuid
for (const [code, kind, width] of [
  [0xa0, 'variable', 1], [0xa1, 'variable', 1], [0xa3, 'variable', 1], // vbin8, str8, sym8
  [0xb0, 'variable', 4], [0xb1, 'variable', 4], [0xb3, 'variable', 4], // vbin32, str32, sym32
  [0xc0, 'compound', 1], [0xc1, 'compound', 1], // list8, map8
  [0xd0, 'compound', 4], [0xd1, 'compound', 4], // list32, map32
  [0xe0, 'array', 1], [0xf0, 'array', 4], // array8, array32
] as const) {
  FAMILIES.set(code, { kind, width });
}
const isMap = (code: number): boolean => code === 0xc1 || code === 0xd1;

export interface ScanLimits {
  /** Deepest nesting of described values, lists, maps and arrays; deeper is a DecodeError. */
  readonly maxDepth: number;
}

const hex = (code: number): string => `0x${code.toString(16).padStart(2, '0')}`;

type Needed = 'value' | 'type' | 'size' | 'sized' | 'size-and-count' | 'array' | 'element-constructor';

function describeNeeded(what: Needed, code: number, size: number): string {
  switch (what) {
    case 'value':
      return 'a value';
    case 'type':
      return `type ${hex(code)}`;
    case 'size':
      return `the size of type ${hex(code)}`;
    case 'sized':
      return `type ${hex(code)} of ${size} bytes`;
    case 'size-and-count':
      return `the size and count of type ${hex(code)}`;
    case 'array':
      return `array of ${size} bytes`;
    case 'element-constructor':
      return 'the element constructor of an array';
  }
}

function readWidth(bytes: Uint8Array, at: number, width: 1 | 4): number {
  if (width === 1) return bytes[at] as number;
  return (((bytes[at] as number) << 24) | ((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)) >>> 0;
}

/** The smallest number of bytes one element body of `family` can occupy (0 for null and its
 * zero-width kin). */
function minBodyBytes(family: Family): number {
  switch (family.kind) {
    case 'fixed':
      return family.width;
    case 'variable':
      return family.width;
    case 'compound':
      return 2 * family.width;
    case 'array':
      return 2 * family.width + 1;
  }
}

class Scanner {
  constructor(
    private readonly bytes: Uint8Array,
    private readonly maxDepth: number,
  ) {}

  /** The check runs for every value of every message: its description is built only when it
   * fails (formatting it eagerly was 1% of the broker's CPU under load). */
  private need(at: number, count: number, end: number, what: Needed, code = 0, size = 0): void {
    if (count > end - at) throw new DecodeError(`truncated: ${describeNeeded(what, code, size)} at byte ${at} needs ${count} bytes, ${Math.max(0, end - at)} remain`);
  }

  private deeper(depth: number, at: number): number {
    if (depth >= this.maxDepth) throw new DecodeError(`value nested deeper than ${this.maxDepth} at byte ${at}`);
    return depth + 1;
  }

  /** A whole value (constructor, then body) at `at`; returns the offset just past it. */
  value(at: number, end: number, depth: number): number {
    this.need(at, 1, end, 'value');
    const code = this.bytes[at] as number;
    if (code === 0x00) {
      // A described value: a descriptor (itself a value), then the value it describes.
      const inner = this.deeper(depth, at);
      return this.value(this.value(at + 1, end, inner), end, inner);
    }
    const family = FAMILIES.get(code);
    if (!family) throw new DecodeError(`invalid AMQP format code ${hex(code)} at byte ${at}`);
    return this.body(code, family, at + 1, end, depth);
  }

  /** The encoding after a constructor of `code`. */
  private body(code: number, family: Family, at: number, end: number, depth: number): number {
    switch (family.kind) {
      case 'fixed':
        this.need(at, family.width, end, 'type', code);
        return at + family.width;
      case 'variable': {
        this.need(at, family.width, end, 'size', code);
        const size = readWidth(this.bytes, at, family.width);
        this.need(at + family.width, size, end, 'sized', code, size);
        return at + family.width + size;
      }
      case 'compound':
        return this.compound(code, family.width, at, end, this.deeper(depth, at));
      case 'array':
        return this.array(code, family.width, at, end, this.deeper(depth, at));
    }
  }

  /** A list or map: size, count, then `count` whole values filling exactly `size` bytes. */
  private compound(code: number, width: 1 | 4, at: number, end: number, depth: number): number {
    this.need(at, 2 * width, end, 'size-and-count', code);
    const size = readWidth(this.bytes, at, width);
    const count = readWidth(this.bytes, at + width, width);
    if (size < width) throw new DecodeError(`type ${hex(code)} at byte ${at} declares ${size} bytes, less than its count field`);
    this.need(at + width, size, end, 'sized', code, size);
    const contentEnd = at + width + size;
    let p = at + 2 * width;
    // Every element takes at least its constructor byte.
    if (count > contentEnd - p) throw new DecodeError(`type ${hex(code)} at byte ${at} claims ${count} elements in ${contentEnd - p} bytes`);
    if (isMap(code) && count % 2 !== 0) throw new DecodeError(`map at byte ${at} has an odd element count ${count}`);
    for (let i = 0; i < count; i++) p = this.value(p, contentEnd, depth);
    if (p !== contentEnd) throw new DecodeError(`type ${hex(code)} at byte ${at} declares ${size} bytes but its elements take ${p - at - width}`);
    return contentEnd;
  }

  /** An array: size, count, one element constructor (descriptors allowed), `count` bodies. */
  private array(code: number, width: 1 | 4, at: number, end: number, depth: number): number {
    this.need(at, 2 * width, end, 'size-and-count', code);
    const size = readWidth(this.bytes, at, width);
    const count = readWidth(this.bytes, at + width, width);
    if (size < width) throw new DecodeError(`array at byte ${at} declares ${size} bytes, less than its count field`);
    this.need(at + width, size, end, 'array', 0, size);
    const arrayEnd = at + width + size;
    let p = at + 2 * width;
    let elementDepth = depth;
    while (p < arrayEnd && this.bytes[p] === 0x00) {
      elementDepth = this.deeper(elementDepth, p);
      p = this.value(p + 1, arrayEnd, elementDepth);
    }
    this.need(p, 1, arrayEnd, 'element-constructor');
    const elementCode = this.bytes[p] as number;
    const family = FAMILIES.get(elementCode);
    if (!family) throw new DecodeError(`invalid AMQP format code ${hex(elementCode)} for array elements at byte ${p}`);
    p++;
    const minBytes = minBodyBytes(family);
    if (minBytes === 0) {
      // Zero-width elements (null, true, uint0...) occupy no bytes, so their count cannot be
      // checked against the array's size: charge each one byte of what remains in the frame.
      if (count > end - at) throw new DecodeError(`array at byte ${at} claims ${count} zero-width elements, more than the ${end - at} bytes left`);
      if (p !== arrayEnd) throw new DecodeError(`array at byte ${at} of zero-width elements declares ${size} bytes, expected ${p - at - width}`);
      return arrayEnd;
    }
    if (count > Math.floor((arrayEnd - p) / minBytes)) throw new DecodeError(`array at byte ${at} claims ${count} elements of type ${hex(elementCode)} in ${arrayEnd - p} bytes`);
    for (let i = 0; i < count; i++) p = this.body(elementCode, family, p, arrayEnd, elementDepth);
    if (p !== arrayEnd) throw new DecodeError(`array at byte ${at} declares ${size} bytes but its elements take ${p - at - width}`);
    return arrayEnd;
  }
}

/** Checks the value starting at `offset` and returns the offset just past it, reading nothing at
 * or beyond `end` (default: the end of `bytes`). Throws DecodeError. */
export function scanValue(bytes: Uint8Array, offset: number, limits: ScanLimits, end: number = bytes.length): number {
  return new Scanner(bytes, limits.maxDepth).value(offset, Math.min(end, bytes.length), 0);
}

/** Checks that bytes [offset, end) are a sequence of whole values (a message's sections). */
export function scanValues(bytes: Uint8Array, offset: number, limits: ScanLimits, end: number = bytes.length): void {
  const scanner = new Scanner(bytes, limits.maxDepth);
  const stop = Math.min(end, bytes.length);
  let p = offset;
  while (p < stop) p = scanner.value(p, stop, 0);
}
