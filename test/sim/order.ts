// The order check's ledger: for each queue, which producer's message sits at which position, as
// the legitimate primaries committed them. A new primary reuses the positions above what it
// holds, so promotion drops those; at the end, per producer and queue in position order, a
// message settled before another was first sent must not sit after it (resends only ever
// repeat messages not yet settled).

import type { CommitTicket, StoreRecord } from '../../store/index.js';
import { parseBody } from './protocol.js';

interface LedgerEntry {
  readonly epoch: number;
  readonly producer: string;
  readonly seq: number;
}

export interface ProducerView {
  readonly firstSentMs: ReadonlyMap<number, number>;
  readonly settled: ReadonlyMap<number, { readonly heardMs: number; readonly legit: boolean }>;
}

export class OrderLedger {
  private readonly queues = new Map<string, Map<number, LedgerEntry>>();
  checked = 0;

  /** Enqueues committed by the legitimate primary of `epoch` (forgotten if the commit fails). */
  committed(epoch: number, records: readonly StoreRecord[], ticket: CommitTicket, stillAlive: () => boolean): void {
    const added: Array<[Map<number, LedgerEntry>, number, LedgerEntry]> = [];
    for (const record of records) {
      if (record.kind !== 'enqueue') continue;
      const id = parseBody(record.body);
      if (!id) continue;
      for (const target of record.targets) {
        let entries = this.queues.get(target.queue);
        if (!entries) {
          entries = new Map();
          this.queues.set(target.queue, entries);
        }
        const entry: LedgerEntry = { epoch, producer: id.producer, seq: id.seq };
        entries.set(target.position, entry);
        added.push([entries, target.position, entry]);
      }
    }
    if (added.length === 0) return;
    ticket.committed.catch(() => {
      if (!stillAlive()) return;
      for (const [entries, position, entry] of added) if (entries.get(position) === entry) entries.delete(position);
    });
  }

  /** A primary of `epoch` starts from `lastPosition(queue)`: older entries above it are gone. */
  promoted(epoch: number, lastPosition: (queue: string) => number): void {
    for (const [queue, entries] of this.queues) {
      const last = lastPosition(queue);
      for (const [position, entry] of entries) if (position > last && entry.epoch < epoch) entries.delete(position);
    }
  }

  /** Calls `violation` once per queue and producer out of order. */
  check(producers: ReadonlyMap<string, ProducerView>, violation: (detail: string, once: string) => void): void {
    for (const [queue, entries] of this.queues) {
      const highest = new Map<string, number>();
      for (const position of [...entries.keys()].sort((a, b) => a - b)) {
        const entry = entries.get(position) as LedgerEntry;
        this.checked++;
        const producer = producers.get(entry.producer);
        const max = highest.get(entry.producer) ?? 0;
        if (producer && max > entry.seq) {
          const settled = producer.settled.get(entry.seq);
          const laterSent = producer.firstSentMs.get(max);
          if (settled?.legit && laterSent !== undefined && settled.heardMs <= laterSent) {
            violation(
              `queue ${queue}: ${entry.producer}:${entry.seq} (settled at ${settled.heardMs.toFixed(3)} ms) sits at position ${position}, after ${entry.producer}:${max} first sent at ${laterSent.toFixed(3)} ms`,
              `order:${queue}:${entry.producer}`,
            );
          }
        }
        if (entry.seq > max) highest.set(entry.producer, entry.seq);
      }
    }
  }
}
