// rhea 3.0.5 encodes every frame it writes into a fresh `Buffer.alloc(1024)`, and grows it by
// doubling into another zero-filled `Buffer.alloc`: a 1 KiB message delivered to a consumer costs
// two zero-filled allocations (3 KiB) before its bytes reach the socket. Under the durable 4+4
// load these were 5% of the broker's self time plus their share of garbage collection (issue 14).
//
// The frame writer never exposes a byte it has not written: `skip` only reserves size fields that
// `backfill_size` and `write_frame` fill in, and `toBuffer` returns the written prefix. So its
// buffers need no zero-fill: they come from `Buffer.allocUnsafe`, which for frames under 4 KiB
// slices node's shared pool instead of allocating. Only the Writer is changed: rhea's other
// `allocate_buffer` callers (the SASL PLAIN response among them) rely on zeros and keep them.

import { createRequire } from 'node:module';

interface RheaWriter {
  buffer: Buffer;
  position: number;
}
interface RheaTypes {
  Writer: { new (buffer?: Buffer): RheaWriter; prototype: { ensure(length: number): void } & Record<string, unknown> };
}

const require = createRequire(import.meta.url);
const types = require('rhea/lib/types.js') as RheaTypes;
const FRAME_BUFFER_BYTES = 1024;

let installed = false;

/** Makes rhea's frame writer allocate unfilled (pooled, when small) buffers; idempotent. */
export function useUnfilledWriterBuffers(): void {
  if (installed) return;
  installed = true;
  const original = types.Writer;
  function Writer(this: RheaWriter, buffer?: Buffer): void {
    this.buffer = buffer ?? Buffer.allocUnsafe(FRAME_BUFFER_BYTES);
    this.position = 0;
  }
  Writer.prototype = original.prototype;
  original.prototype.ensure = function ensure(this: RheaWriter, length: number): void {
    if (this.buffer.length >= length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, length));
    this.buffer.copy(bigger);
    this.buffer = bigger;
  };
  types.Writer = Writer as unknown as RheaTypes['Writer'];
}
