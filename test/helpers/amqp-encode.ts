// An AMQP 1.0 value encoder for tests (§1.6), independent of rhea's: it writes exactly the
// encoding it is given (list8 or list32, array8 or array32, any counts), so tests can build the
// hostile encodings a real client never would, as well as valid ones to check the broker's
// scanner against rhea's decoder. Also frames (§2.3) and the protocol headers.

export type Encoded =
  | { readonly kind: 'fixed'; readonly code: number; readonly bytes: Buffer }
  | { readonly kind: 'variable'; readonly code: 0xa0 | 0xa1 | 0xa3 | 0xb0 | 0xb1 | 0xb3; readonly bytes: Buffer }
  | { readonly kind: 'compound'; readonly code: 0xc0 | 0xc1 | 0xd0 | 0xd1; readonly items: readonly Encoded[] }
  | { readonly kind: 'array'; readonly code: 0xe0 | 0xf0; readonly descriptor?: Encoded; readonly elementCode: number; readonly elements: readonly Encoded[] }
  | { readonly kind: 'described'; readonly descriptor: Encoded; readonly value: Encoded }
  /** Bytes written as they are (constructor included): for encodings no builder makes. */
  | { readonly kind: 'raw'; readonly bytes: Buffer };

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** The bytes of `value`, constructor included. */
export function encode(value: Encoded): Buffer {
  if (value.kind === 'described') return Buffer.concat([Buffer.from([0x00]), encode(value.descriptor), encode(value.value)]);
  if (value.kind === 'raw') return value.bytes;
  const { code, body } = encodeWith(value);
  return Buffer.concat([Buffer.from([code]), body]);
}

/** The bytes after the constructor (what an array element is). */
export function encodeBody(value: Encoded): Buffer {
  return encodeWith(value).body;
}

/** A narrow form (str8, list8, array8...) that cannot hold its content is written wide: the
 * narrow one does not exist for it. */
function encodeWith(value: Encoded): { code: number; body: Buffer } {
  switch (value.kind) {
    case 'fixed':
      return { code: value.code, body: value.bytes };
    case 'variable': {
      const narrow = value.code < 0xb0 && value.bytes.length <= 255;
      return { code: narrow ? value.code : value.code | 0x10, body: Buffer.concat([narrow ? Buffer.from([value.bytes.length]) : u32(value.bytes.length), value.bytes]) };
    }
    case 'compound':
      return sized(value.code, value.items.length, Buffer.concat(value.items.map(encode)));
    case 'array': {
      const constructor = value.descriptor ? Buffer.concat([Buffer.from([0x00]), encode(value.descriptor), Buffer.from([value.elementCode])]) : Buffer.from([value.elementCode]);
      return sized(value.code, value.elements.length, Buffer.concat([constructor, ...value.elements.map(encodeBody)]));
    }
    case 'raw':
      return { code: value.bytes[0] as number, body: value.bytes.subarray(1) };
    case 'described':
      throw new Error('a described value has no body of its own');
  }
}

/** Size and count, then the content: one byte each in the narrow form (list8, map8, array8:
 * codes 0xc0, 0xc1, 0xe0) when they fit, else four (0xd0, 0xd1, 0xf0). */
function sized(code: number, count: number, content: Buffer): { code: number; body: Buffer } {
  const narrow = (code === 0xc0 || code === 0xc1 || code === 0xe0) && content.length + 1 <= 255 && count <= 255;
  if (narrow) return { code, body: Buffer.concat([Buffer.from([content.length + 1, count]), content]) };
  return { code: code === 0xe0 ? 0xf0 : code | 0x10, body: Buffer.concat([u32(content.length + 4), u32(count), content]) };
}

// Constructors for the common cases.
export const nul: Encoded = { kind: 'fixed', code: 0x40, bytes: Buffer.alloc(0) };
export const bool = (v: boolean): Encoded => ({ kind: 'fixed', code: v ? 0x41 : 0x42, bytes: Buffer.alloc(0) });
export const ubyte = (n: number): Encoded => ({ kind: 'fixed', code: 0x50, bytes: Buffer.from([n & 0xff]) });
export const ushort = (n: number): Encoded => ({ kind: 'fixed', code: 0x60, bytes: Buffer.from([(n >> 8) & 0xff, n & 0xff]) });
export const uint = (n: number): Encoded => ({ kind: 'fixed', code: 0x70, bytes: u32(n) });
export const smallulong = (n: number): Encoded => ({ kind: 'fixed', code: 0x53, bytes: Buffer.from([n & 0xff]) });
export const ulong = (n: bigint): Encoded => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, n));
  return { kind: 'fixed', code: 0x80, bytes: b };
};
export const str = (s: string): Encoded => {
  const bytes = Buffer.from(s, 'utf8');
  return { kind: 'variable', code: bytes.length < 256 ? 0xa1 : 0xb1, bytes };
};
export const sym = (s: string): Encoded => {
  const bytes = Buffer.from(s, 'ascii');
  return { kind: 'variable', code: bytes.length < 256 ? 0xa3 : 0xb3, bytes };
};
export const bin = (bytes: Buffer): Encoded => ({ kind: 'variable', code: bytes.length < 256 ? 0xa0 : 0xb0, bytes });
export const list = (items: readonly Encoded[], wide = false): Encoded => ({ kind: 'compound', code: wide ? 0xd0 : 0xc0, items });
export const map = (items: readonly Encoded[], wide = false): Encoded => ({ kind: 'compound', code: wide ? 0xd1 : 0xc1, items });
export const raw = (bytes: Buffer): Encoded => ({ kind: 'raw', bytes });
export const described = (descriptor: Encoded, value: Encoded): Encoded => ({ kind: 'described', descriptor, value });

/** A performative or section: `descriptor` (a smallulong code) and a list of fields. */
export const composite = (code: number, fields: readonly Encoded[], wide = false): Encoded => described(smallulong(code), list(fields, wide));

export const PERFORMATIVE = { open: 0x10, begin: 0x11, attach: 0x12, flow: 0x13, transfer: 0x14, disposition: 0x15, detach: 0x16, end: 0x17, close: 0x18 } as const;
export const SASL = { mechanisms: 0x40, init: 0x41, challenge: 0x42, response: 0x43, outcome: 0x44 } as const;

export const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x01, 0x00, 0x00]);
export const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x03, 0x01, 0x00, 0x00]);

/** One frame (§2.3.1): size, doff 2, type (0 AMQP, 1 SASL), channel, body. */
export function frame(body: Buffer, options: { channel?: number; type?: 0 | 1 } = {}): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.writeUInt8(2, 4);
  header.writeUInt8(options.type ?? 0, 5);
  header.writeUInt16BE(options.channel ?? 0, 6);
  return Buffer.concat([header, body]);
}

/** A performative frame with an optional payload (a transfer's message bytes). */
export function performativeFrame(code: number, fields: readonly Encoded[], options: { channel?: number; payload?: Buffer } = {}): Buffer {
  return frame(Buffer.concat([encode(composite(code, fields)), options.payload ?? Buffer.alloc(0)]), { channel: options.channel ?? 0 });
}

/** An array32 that claims `count` null elements and holds none: 10 bytes (issue 19). */
export function hollowArray32(count = 0xffff_ffff): Buffer {
  return Buffer.concat([Buffer.from([0xf0]), u32(5), u32(count), Buffer.from([0x40])]);
}
