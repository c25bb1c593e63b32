// The snapshot stream (store.ts Snapshot): the records that rebuild a store's tables, read from
// one consistent view. Order: exchanges, queues, bindings, then messages.
//
// Messages: we walk the index (enqueues table) in (queue, position) order, which needs no
// reverse index on the write path. A message held by one queue (refs 1, the common case) is
// emitted at once; a message held by several queues is kept back (its targets only, not its
// body) until its last holder has been seen, then emitted once with every target. Memory is
// therefore bounded by the number of fan-out messages in flight in the walk, never by bodies.
// Consequence for the receiving side: a queue's positions may arrive out of order (apply.ts
// 'snapshot' mode accepts that).

import { historyUpTo } from './epoch-history.js';
import { StoreError } from './errors.js';
import type { EnqueueTarget, StoreRecord } from './record.js';
import type { StoreScan } from './scan.js';
import { RecordsFrameBuilder } from './records-frame.js';
import type { Snapshot } from './store.js';

function corrupt(what: string): StoreError {
  return new StoreError('STORE_CORRUPT', `snapshot: ${what}`);
}

/** `bodiesAsStored`: enqueue bodies are the store's own bytes, valid until it reads on, for a
 * caller that copies each before asking for the next record (read(), records-frame.ts). */
export function* snapshotRecordsSync(scan: StoreScan, bodiesAsStored = false): Generator<StoreRecord> {
  for (const e of scan.exchanges()) {
    if (!e.declare) throw corrupt(`exchange ${JSON.stringify(e.name)}: ${e.problem ?? 'no declare'}`);
    yield e.declare;
  }
  for (const q of scan.queues()) {
    if (!q.declare) throw corrupt(`queue ${JSON.stringify(q.name)}: ${q.problem ?? 'no declare'}`);
    yield q.declare;
  }
  for (const b of scan.bindings()) {
    if (!b.bind) throw corrupt(`binding ${JSON.stringify([b.exchange, b.queue, b.key])}: ${b.problem ?? 'no record'}`);
    yield b.bind;
  }
  // Dedup windows before messages: a backup built from this snapshot recognises resends of
  // messages that were consumed before it was taken.
  for (const d of scan.dedup()) {
    if (d.problem) throw corrupt(`dedup row ${JSON.stringify([d.queue, d.slot])}: ${d.problem}`);
    yield { kind: 'dedup', queue: d.queue, slot: d.slot, seq: d.seq, id: d.id };
  }
  const waiting = new Map<number, EnqueueTarget[]>();
  for (const entry of scan.entries()) {
    if (entry.problem) throw corrupt(`index entry ${JSON.stringify(entry.queue)} position ${entry.position}: ${entry.problem}`);
    // One read for the common case, a message held by one queue; a fan-out message's body is
    // read when its last holder is reached.
    let stored: ReturnType<StoreScan['messageWithBody']>;
    try {
      stored = scan.messageWithBody(entry.messageId, bodiesAsStored);
    } catch (err) {
      throw corrupt(`message ${entry.messageId} (queue ${JSON.stringify(entry.queue)} position ${entry.position}): ${(err as Error).message}`);
    }
    if (!stored) throw corrupt(`message ${entry.messageId} (queue ${JSON.stringify(entry.queue)} position ${entry.position}): missing`);
    const message = stored.message;
    const target = { queue: entry.queue, position: entry.position };
    let targets: EnqueueTarget[];
    if (message.refs <= 1) {
      targets = [target];
    } else {
      const seen = waiting.get(entry.messageId);
      if (seen === undefined) {
        waiting.set(entry.messageId, [target]);
        continue;
      }
      seen.push(target);
      if (seen.length < message.refs) continue;
      waiting.delete(entry.messageId);
      targets = seen;
    }
    yield { kind: 'enqueue', messageId: entry.messageId, persistent: message.persistent, expiresAtMs: message.expiresAtMs, body: stored.body, targets };
  }
  for (const [messageId, targets] of waiting) {
    const refs = scan.message(messageId)?.refs;
    throw corrupt(`message ${messageId} has refs ${refs} but only ${targets.length} index entries hold it`);
  }
}

/** Wraps a scan (already holding its consistent view) as a Snapshot. */
export function snapshotFromScan(scan: StoreScan): Snapshot {
  const meta = scan.meta();
  const lastPositions: Record<string, number> = {};
  for (const q of scan.queues()) if (q.lastPosition > 0) lastPositions[q.name] = q.lastPosition;
  let closed = false;
  let reading: Generator<StoreRecord> | null = null;
  /** The last frame's size: where the next one's buffer starts. */
  let lastFrameBytes = 256 * 1024;
  return {
    lsn: meta.lastLsn,
    epoch: meta.epoch,
    lastMessageId: meta.lastMessageId,
    epochHistory: historyUpTo(meta.epochHistory, meta.lastLsn),
    lastPositions,
    async *records() {
      if (closed) throw new StoreError('STORE_CLOSED', 'snapshot was closed');
      for (const record of snapshotRecordsSync(scan)) {
        yield record;
        if (closed) throw new StoreError('STORE_CLOSED', 'snapshot was closed while streaming');
      }
    },
    read(maxRecords: number, frameHeadroom = 0) {
      if (closed) throw new StoreError('STORE_CLOSED', 'snapshot was closed');
      // Each body, as the store holds it, is copied into the frame before the generator reads on.
      reading ??= snapshotRecordsSync(scan, true);
      const frame = new RecordsFrameBuilder(frameHeadroom, lastFrameBytes);
      let done = false;
      for (let n = 0; n < maxRecords; n++) {
        const next = reading.next();
        if (next.done === true) {
          done = true;
          break;
        }
        frame.add(next.value);
      }
      const records = frame.finish();
      lastFrameBytes = Math.max(4096, frame.bytes);
      return { records, done };
    },
    close() {
      if (closed) return;
      closed = true;
      scan.close();
    },
  };
}
