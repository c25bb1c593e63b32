// A queue's duplicate-detection window (`qpid.dedup_window` N): the message-ids of the last N
// messages the queue accepted, so that a producer's resend of one of them (a failover client
// re-sending what its old primary never settled) is accepted without being enqueued again.
// Beyond qpidd; Artemis, Kafka and NATS have the same idea (Artemis's duplicate-id cache is a
// ring of N ids too).
//
// A ring of N slots and an index from id to slot: remembering the (seq)-th id writes slot
// seq mod N, evicting the id that slot held, so the window is exactly the newest N ids in O(1)
// per message. The store keeps the same slots (dedup records, store/record.ts), so the window is
// rebuilt after a restart or on a promoted backup from the rows alone. Pure: no store, no clock.

/** Most ids one queue's window may keep: about 120 bytes each in memory (bench/README.md). */
export const DEDUP_WINDOW_MAX = 1_000_000;

/** What remembering an id did: the slot and sequence number to journal, and the id it evicted. */
export interface Remembered {
  readonly slot: number;
  readonly seq: number;
  readonly evicted: string | null;
}

export class DedupWindow {
  /** slot -> id (undefined: empty). */
  private readonly ring: (string | undefined)[];
  /** id -> slot, for every id in the ring. */
  private readonly slots = new Map<string, number>();
  /** The sequence number the next remembered id gets. */
  private nextSeq = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > DEDUP_WINDOW_MAX) {
      throw new RangeError(`a dedup window holds 1..${DEDUP_WINDOW_MAX} ids, not ${capacity}`);
    }
    this.ring = new Array<string | undefined>(capacity);
  }

  /** Rebuilds a window from the store's rows (any order): the newest `capacity` by seq are kept,
   * so rows left from a larger window of an earlier declare fall out. */
  static restore(capacity: number, rows: readonly { readonly seq: number; readonly id: string }[]): DedupWindow {
    const window = new DedupWindow(capacity);
    const newest = [...rows].sort((a, b) => a.seq - b.seq).slice(-capacity);
    for (const row of newest) window.place(row.id, row.seq);
    if (rows.length > 0) window.nextSeq = Math.max(...rows.map((r) => r.seq)) + 1;
    return window;
  }

  get size(): number {
    return this.slots.size;
  }

  has(id: string): boolean {
    return this.slots.has(id);
  }

  /** Remembers `id` as the newest, evicting the oldest when full. The caller has checked that
   * the window does not hold it (has()). */
  remember(id: string): Remembered {
    const seq = this.nextSeq++;
    const { slot, evicted } = this.place(id, seq);
    return { slot, seq, evicted };
  }

  /** Takes `id` out of the window (its enqueue failed in the store: the message was never
   * stored, so a resend of it is not a duplicate). Its slot stays empty until the ring comes
   * round to it. */
  forget(id: string): void {
    const slot = this.slots.get(id);
    if (slot === undefined) return;
    this.slots.delete(id);
    this.ring[slot] = undefined;
  }

  /** Ids from oldest to newest (tests, inspection). */
  ids(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const id = this.ring[(this.nextSeq + i) % this.capacity];
      if (id !== undefined) out.push(id);
    }
    return out;
  }

  private place(id: string, seq: number): { slot: number; evicted: string | null } {
    const slot = seq % this.capacity;
    const evicted = this.ring[slot] ?? null;
    if (evicted !== null && this.slots.get(evicted) === slot) this.slots.delete(evicted);
    // An id already elsewhere in the ring (rows restored from a store that held it twice) moves.
    const previous = this.slots.get(id);
    if (previous !== undefined && previous !== slot) this.ring[previous] = undefined;
    this.ring[slot] = id;
    this.slots.set(id, slot);
    return { slot, evicted };
  }
}
