// Structure-aware generators for the frame fuzzer: every AMQP 1.0 performative (§2.7) and SASL
// frame (§5.3.3) with its fields in their right types (edge values favoured), sometimes the wrong
// type; transfers carrying message sections (§3.2); then byte-level mutations of the encoded
// frames (flipped bits, sizes and counts set to 2^32-1, truncation, splices). A case is the bytes
// one fresh connection sends.
import fc from 'fast-check';
import { amqpValue } from '../helpers/amqp-arbitrary.js';
import { AMQP_HEADER, bin, bool, composite, described, encode, frame, list, map, nul, PERFORMATIVE, SASL, SASL_HEADER, smallulong, str, sym, ubyte, uint, ulong, ushort, type Encoded } from '../helpers/amqp-encode.js';

/** The queue fuzz cases attach to (and may consume from). */
export const FUZZ_QUEUE = 'fuzz-target';

const edgeUint = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 1, 2, 255, 256, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 ** 32 - 1 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 64 }) },
);
const aUint = edgeUint.map(uint);
const aUshort = fc.integer({ min: 0, max: 65535 }).map(ushort);
const aBool = fc.boolean().map(bool);
const aSym = fc.oneof(fc.constantFrom('amqp:accepted:list', 'queue', 'topic', 'create-on-demand', 'ANONYMOUS', 'PLAIN', 'en-US', 'qpid.ha-admin', ''), fc.string({ unit: 'grapheme-ascii', maxLength: 20 })).map(sym);
const aStr = fc.oneof(fc.constant(FUZZ_QUEUE), fc.constantFrom('', 'amq.topic', '$management', 'qpid.ha-replication', 'amq.direct/k'), fc.string({ maxLength: 30 })).map(str);
const aBin = fc.uint8Array({ maxLength: 40 }).map((b) => bin(Buffer.from(b)));
const symArray: fc.Arbitrary<Encoded> = fc.array(aSym, { maxLength: 4 }).map((elements) => ({ kind: 'array', code: 0xe0, elementCode: 0xa3, elements }));
const anyValue = amqpValue(3);
const aMap = fc.array(fc.tuple(fc.oneof(aSym, aStr), fc.oneof(anyValue, aStr, aUint)), { maxLength: 4 }).map((pairs) => map(pairs.flat()));

/** Usually the right type for the field, sometimes null, sometimes anything at all. */
function field(right: fc.Arbitrary<Encoded>): fc.Arbitrary<Encoded> {
  return fc.oneof({ weight: 8, arbitrary: right }, { weight: 1, arbitrary: fc.constant(nul) }, { weight: 1, arbitrary: anyValue });
}

/** A performative or composite: a prefix of its fields (trailing ones may be omitted, §1.4). */
function fieldsOf(code: number, fields: readonly fc.Arbitrary<Encoded>[]): fc.Arbitrary<Encoded> {
  return fc.tuple(fc.nat(fields.length), fc.tuple(...fields.map(field)), fc.boolean()).map(([n, values, wide]) => composite(code, values.slice(0, Math.max(1, n)), wide));
}

const error = fieldsOf(0x1d, [aSym, aStr, aMap]);
const deliveryState = fc.oneof(
  fieldsOf(0x24, []), // accepted
  fieldsOf(0x25, [error]), // rejected
  fieldsOf(0x26, []), // released
  fieldsOf(0x27, [aBool, aBool, aMap]), // modified
  fieldsOf(0x23, [aUint, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(ulong)]), // received
);
const terminus = (code: number): fc.Arbitrary<Encoded> =>
  fieldsOf(code, [aStr, aUint, aSym, aUint, aBool, aMap, aSym, aMap, deliveryState, symArray, symArray]);

export const performative = {
  open: fieldsOf(PERFORMATIVE.open, [aStr, aStr, aUint, aUshort, aUint, symArray, symArray, symArray, symArray, aMap]),
  begin: fieldsOf(PERFORMATIVE.begin, [aUshort, aUint, aUint, aUint, aUint, symArray, symArray, aMap]),
  attach: fieldsOf(PERFORMATIVE.attach, [aStr, aUint, aBool, fc.integer({ min: 0, max: 3 }).map(ubyte), fc.integer({ min: 0, max: 2 }).map(ubyte), terminus(0x28), terminus(0x29), aMap, aBool, aUint, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(ulong), symArray, symArray, aMap]),
  flow: fieldsOf(PERFORMATIVE.flow, [aUint, aUint, aUint, aUint, aUint, aUint, aUint, aUint, aBool, aBool, aMap]),
  transfer: fieldsOf(PERFORMATIVE.transfer, [aUint, aUint, aBin, aUint, aBool, aBool, fc.integer({ min: 0, max: 2 }).map(ubyte), deliveryState, aBool, aBool, aBool]),
  disposition: fieldsOf(PERFORMATIVE.disposition, [aBool, aUint, aUint, aBool, deliveryState, aBool]),
  detach: fieldsOf(PERFORMATIVE.detach, [aUint, aBool, error]),
  end: fieldsOf(PERFORMATIVE.end, [error]),
  close: fieldsOf(PERFORMATIVE.close, [error]),
};

export const saslPerformative = {
  mechanisms: fieldsOf(SASL.mechanisms, [symArray]),
  init: fieldsOf(SASL.init, [aSym, aBin, aStr]),
  challenge: fieldsOf(SASL.challenge, [aBin]),
  response: fieldsOf(SASL.response, [aBin]),
  outcome: fieldsOf(SASL.outcome, [fc.integer({ min: 0, max: 255 }).map(ubyte), aBin]),
};

/** Message sections (§3.2), in order, some absent. */
export const message: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.option(fieldsOf(0x70, [aBool, fc.integer({ min: 0, max: 255 }).map(ubyte), aUint, aBool, aUint])),
    fc.option(aMap.map((m) => described(smallulong(0x72), m))),
    fc.option(fieldsOf(0x73, [fc.oneof(aStr, aUint), aBin, aStr, aStr, aStr, aStr, aSym, aSym, fc.constant(nul), fc.constant(nul), aStr, aUint, aStr])),
    fc.option(aMap.map((m) => described(smallulong(0x74), m))),
    fc.oneof(aBin.map((b) => described(smallulong(0x75), b)), anyValue.map((v) => described(smallulong(0x77), v)), fc.array(anyValue, { maxLength: 3 }).map((l) => described(smallulong(0x76), list(l)))),
  )
  .map((sections) => Buffer.concat(sections.filter((s): s is Encoded => s !== null).map(encode)));

export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly byte: number }
  | { readonly kind: 'huge'; readonly at: number; readonly value: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x40, 0x45, 0xa1, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0xff) }),
  fc.record({ kind: fc.constant('huge' as const), at: fc.nat(), value: fc.constantFrom(0xffff_ffff, 0x7fff_ffff, 0x8000_0000, 0x0001_0000) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
);

/** Applies one mutation to a frame, keeping its size field true unless the mutation hits it. */
export function mutate(bytes: Buffer, m: Mutation): Buffer {
  const at = m.at % Math.max(1, bytes.length);
  const out = Buffer.from(bytes);
  switch (m.kind) {
    case 'flip':
      out[at] = (out[at] as number) ^ (1 << m.bit);
      return out;
    case 'set':
      out[at] = m.byte;
      return out;
    case 'huge':
      if (at + 4 <= out.length) out.writeUInt32BE(m.value, at);
      return out;
    case 'truncate':
      return resize(out.subarray(0, Math.max(8, at)));
    case 'insert':
      return resize(Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]));
  }
}

/** A frame whose length changed: its size field says so, so the change reaches the body. */
function resize(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  if (out.length >= 4) out.writeUInt32BE(out.length, 0);
  return out;
}

const amqpFrame: fc.Arbitrary<Buffer> = fc.oneof(
  ...Object.values(performative).map((p) => fc.tuple(p, fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 65535 }) })).map(([body, channel]) => frame(encode(body), { channel }))),
  fc.tuple(performative.transfer, message).map(([body, payload]) => frame(Buffer.concat([encode(body), payload]))),
  fc.constant(frame(Buffer.alloc(0))), // a heartbeat
);
const saslFrame: fc.Arbitrary<Buffer> = fc.oneof(...Object.values(saslPerformative).map((p) => p.map((body) => frame(encode(body), { type: 1 }))));

/** A frame, mutated a few times in about a third of cases. */
const maybeMutated = (frames: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> =>
  fc.tuple(frames, fc.oneof({ weight: 2, arbitrary: fc.constant<Mutation[]>([]) }, { weight: 1, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) })).map(([bytes, ms]) => ms.reduce(mutate, bytes));

/** A well-formed start (with the open given, or a plain one): begin, a sending and a receiving
 * link on the fuzz queue, and credit, so that messages flow to the peer under its open's terms. */
function setupFrames(open: Buffer = frame(encode(composite(PERFORMATIVE.open, [str('fuzzer')])))): Buffer[] {
  const target = composite(0x29, [str(FUZZ_QUEUE)]);
  const source = composite(0x28, [str(FUZZ_QUEUE)]);
  return [
    open,
    frame(encode(composite(PERFORMATIVE.begin, [nul, uint(0), uint(2048), uint(2048)]))),
    frame(encode(composite(PERFORMATIVE.attach, [str('fuzz-sender'), uint(0), bool(false), nul, nul, source, target, nul, nul, uint(0)]))),
    frame(encode(composite(PERFORMATIVE.attach, [str('fuzz-receiver'), uint(1), bool(true), nul, nul, source, target]))),
    frame(encode(composite(PERFORMATIVE.flow, [uint(0), uint(2048), uint(0), uint(2048), uint(1), uint(0), uint(5)]))),
  ];
}

export interface FuzzCase {
  /** What the connection sends, chunk by chunk (each written on its own). */
  readonly chunks: readonly Buffer[];
}

export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  // AMQP: the header, a well-formed setup or a random open, then frames, some mutated.
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.constant<Buffer[]>([]), fc.constant(setupFrames()), performative.open.map((open) => setupFrames(frame(encode(open))))),
        fc.array(maybeMutated(amqpFrame), { minLength: 1, maxLength: 8 }),
      )
      .map(([setup, frames]) => ({ chunks: [AMQP_HEADER, ...setup, ...frames] })),
  },
  // SASL: the header, SASL frames, then perhaps the AMQP layer.
  { weight: 2, arbitrary: fc.tuple(fc.array(maybeMutated(saslFrame), { minLength: 1, maxLength: 3 }), fc.array(maybeMutated(amqpFrame), { maxLength: 3 })).map(([sasl, amqp]) => ({ chunks: [SASL_HEADER, ...sasl, AMQP_HEADER, ...amqp] })) },
  // Anything at all after a header, or instead of one.
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(AMQP_HEADER, SASL_HEADER, Buffer.alloc(0)), fc.uint8Array({ maxLength: 200 })).map(([header, junk]) => ({ chunks: [header, Buffer.from(junk)] })) },
);

/** A case as hex, one chunk per line, to paste into a regression test. */
export function caseHex(c: FuzzCase): string {
  return c.chunks.map((chunk) => chunk.toString('hex')).join('\n');
}
