// fast-check generators of well-formed AMQP 1.0 encodings (every format code of §1.6, narrow and
// wide forms, nested lists, maps, arrays and described values), for the scanner's unit tests and
// the frame fuzzer. Only valid encodings come from here; the fuzzer mutates them afterwards.
import fc from 'fast-check';
import type { Encoded } from './amqp-encode.js';

const fixedOf = (code: number, width: number): fc.Arbitrary<Encoded> =>
  fc.uint8Array({ minLength: width, maxLength: width }).map((bytes) => ({ kind: 'fixed', code, bytes: Buffer.from(bytes) }) as Encoded);

/** Every fixed-width type with arbitrary bytes (booleans and zero-width ones included). */
const FIXED: readonly [number, number][] = [
  [0x40, 0], [0x41, 0], [0x42, 0], [0x43, 0], [0x44, 0], [0x45, 0],
  [0x50, 1], [0x51, 1], [0x52, 1], [0x53, 1], [0x54, 1], [0x55, 1],
  [0x60, 2], [0x61, 2],
  [0x70, 4], [0x71, 4], [0x72, 4], [0x74, 4],
  [0x80, 8], [0x81, 8], [0x82, 8], [0x83, 8], [0x84, 8],
  [0x94, 16], [0x98, 16],
];
// boolean (0x56) takes 0x00 or 0x01 only: rhea reads other bytes as true, which is fine, but
// keep the generator to the spec. char (0x73) must be a Unicode scalar value.
const boolean56: fc.Arbitrary<Encoded> = fc.constantFrom(0, 1).map((b) => ({ kind: 'fixed', code: 0x56, bytes: Buffer.from([b]) }));
const char73: fc.Arbitrary<Encoded> = fc.integer({ min: 0, max: 0xd7ff }).map((cp) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(cp);
  return { kind: 'fixed', code: 0x73, bytes };
});

const text = fc.string({ maxLength: 40 });
const ascii = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });

export const amqpLeaf: fc.Arbitrary<Encoded> = fc.oneof(
  fc.constantFrom(...FIXED).chain(([code, width]) => fixedOf(code, width)),
  boolean56,
  char73,
  fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 60 })).map(([wide, b]) => ({ kind: 'variable', code: wide ? 0xb0 : 0xa0, bytes: Buffer.from(b) }) as Encoded),
  fc.tuple(fc.boolean(), text).map(([wide, s]) => ({ kind: 'variable', code: wide ? 0xb1 : 0xa1, bytes: Buffer.from(s, 'utf8') }) as Encoded),
  fc.tuple(fc.boolean(), ascii).map(([wide, s]) => ({ kind: 'variable', code: wide ? 0xb3 : 0xa3, bytes: Buffer.from(s, 'ascii') }) as Encoded),
);

/** Array elements: one format code for all, in that code's body form. */
function arrayOf(element: fc.Arbitrary<Encoded>): fc.Arbitrary<Encoded> {
  return fc.constantFrom<[number, number]>([0x70, 4], [0x52, 1], [0x81, 8], [0x98, 16], [0x56, 1], [0x40, 0], [0x41, 0], [0xa1, -1], [0xb3, -1], [0xc0, -2], [0xd1, -3]).chain(([code, width]) => {
    const wide = fc.boolean();
    const elements: fc.Arbitrary<Encoded[]> =
      width >= 0
        ? // Zero-width elements: the scanner charges each one byte of the frame, so keep them few.
          fc.array(code === 0x56 ? boolean56 : fixedOf(code, width), { maxLength: width === 0 ? 2 : 8 })
        : width === -1
          ? fc.array(text.map((s) => ({ kind: 'variable', code: code as 0xa1, bytes: Buffer.from(s, code === 0xb3 ? 'ascii' : 'utf8') }) as Encoded), { maxLength: 6 })
          : width === -2
            ? fc.array(fc.array(element, { maxLength: 3 }).map((items) => ({ kind: 'compound', code: 0xc0, items }) as Encoded), { maxLength: 4 })
            : fc.array(fc.array(element, { maxLength: 2 }).map((pairs) => ({ kind: 'compound', code: 0xd1, items: pairs.flatMap((p) => [p, p]) }) as Encoded), { maxLength: 3 });
    const descriptor = fc.option(fc.constantFrom<Encoded>({ kind: 'fixed', code: 0x53, bytes: Buffer.from([0x70]) }, { kind: 'variable', code: 0xa3, bytes: Buffer.from('x:y') }), { nil: undefined });
    return fc.tuple(wide, elements, descriptor).map(
      ([w, els, d]) => ({ kind: 'array', code: w ? 0xf0 : 0xe0, elementCode: code, elements: els, ...(d ? { descriptor: d } : {}) }) as Encoded,
    );
  });
}

/** Any well-formed value, nested up to about `depth` levels. */
export function amqpValue(depth = 4): fc.Arbitrary<Encoded> {
  const { value } = fc.letrec<{ value: Encoded }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth: depth },
      amqpLeaf,
      fc.tuple(fc.boolean(), fc.array(tie('value'), { maxLength: 5 })).map(([wide, items]) => ({ kind: 'compound', code: wide ? 0xd0 : 0xc0, items }) as Encoded),
      fc.tuple(fc.boolean(), fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 })).map(([wide, pairs]) => ({ kind: 'compound', code: wide ? 0xd1 : 0xc1, items: pairs.flat() }) as Encoded),
      arrayOf(amqpLeaf),
      fc.tuple(fc.oneof(fixedOf(0x53, 1), fc.constant<Encoded>({ kind: 'variable', code: 0xa3, bytes: Buffer.from('com.example:thing') })), tie('value')).map(([descriptor, v]) => ({ kind: 'described', descriptor, value: v }) as Encoded),
    ),
  }));
  return value;
}
