// A snapshot read's records encoded as it reads them, into the buffer that becomes their
// replication frame: [room for the frame's header][u32 count] then per record [u32 length]
// [record] (codec.ts encodeRecords' layout). A snapshot used to copy each body out of LMDB, then
// every record into a frame, then the frame behind its header: three allocations the size of
// what it shipped, and the garbage collections they drive (bench/README.md, "A snapshot's read
// path"). Built here, the body is copied once, from LMDB's buffer into the frame, and the record
// handed on points into it.
//
// The frame is offered once: encodeRecords' caller (messages.ts) takes it when it is asked to
// encode exactly these records, in this order (a backup that replicates every queue, whose
// filter keeps them all); any other set of records is encoded as before.

import { enqueueBodyOffset, framedRecordBytes, writeFramedRecord } from './codec.js';
import type { StoreRecord } from './record.js';

interface Built {
  readonly records: readonly StoreRecord[];
  readonly bytes: Buffer;
  readonly headroom: number;
}

/** Frames built and not yet taken, by their first record. */
const built = new WeakMap<StoreRecord, Built>();

export class RecordsFrameBuilder {
  private buf: Buffer;
  private pos: number;
  private readonly records: StoreRecord[] = [];

  constructor(
    private readonly headroom: number,
    expectedBytes: number,
  ) {
    this.buf = Buffer.allocUnsafeSlow(headroom + 4 + expectedBytes);
    this.pos = headroom + 4;
  }

  /** Encodes `record` now (its body may be a view that the next read overwrites) and returns
   * the record to hand on, whose body is its copy in the frame. */
  add(record: StoreRecord): StoreRecord {
    const n = framedRecordBytes(record);
    if (this.pos + n > this.buf.length) {
      // Records added so far keep their bodies in the old buffer: the same bytes.
      const grown = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(grown, 0, 0, this.pos);
      this.buf = grown;
    }
    const start = this.pos;
    this.pos = writeFramedRecord(this.buf, start, record);
    let kept = record;
    if (record.kind === 'enqueue') {
      const bodyAt = start + 4 + enqueueBodyOffset(record);
      kept = { ...record, body: this.buf.subarray(bodyAt, bodyAt + record.body.byteLength) };
    }
    this.records.push(kept);
    return kept;
  }

  /** The frame's size so far. */
  get bytes(): number {
    return this.pos;
  }

  /** The records added, and their frame offered to takeFrame. */
  finish(): StoreRecord[] {
    if (this.records.length > 0) {
      this.buf.writeUInt32LE(this.records.length, this.headroom);
      built.set(this.records[0] as StoreRecord, { records: [...this.records], bytes: this.buf.subarray(0, this.pos), headroom: this.headroom });
    }
    return this.records;
  }
}

/** The frame built for exactly `records` with `headroom` bytes in front, taken (it is offered
 * once: its header is written into it), or null. */
export function takeFrame(records: readonly StoreRecord[], headroom: number): Buffer | null {
  const first = records[0];
  if (first === undefined) return null;
  const frame = built.get(first);
  if (frame === undefined) return null;
  built.delete(first);
  if (frame.headroom !== headroom || frame.records.length !== records.length) return null;
  for (let i = 0; i < records.length; i++) if (frame.records[i] !== records[i]) return null;
  return frame.bytes;
}
