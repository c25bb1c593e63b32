// A min-heap of queue entries by position, with lazy removal: an entry that stopped being
// available stays in the heap until it reaches the top, where peek() drops it. Each entry is in
// the heap at most once (a release of an entry still inside is a no-op), so the heap never holds
// more than the entries that passed through it since they last surfaced. push and the amortised
// peek are O(log n).

import type { QueueEntry } from '../queue.js';

export class EntryHeap {
  private readonly items: QueueEntry[] = [];
  private readonly inside = new Set<QueueEntry>();

  get size(): number {
    return this.items.length;
  }

  push(entry: QueueEntry): void {
    if (this.inside.has(entry)) return;
    this.inside.add(entry);
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as QueueEntry).position <= entry.position) break;
      items[i] = items[parent] as QueueEntry;
      i = parent;
    }
    items[i] = entry;
  }

  /** The available entries inside, in no particular order. */
  *available(): Generator<QueueEntry> {
    for (const entry of this.items) if (entry.state === 'available') yield entry;
  }

  /** The oldest available entry, dropping the unavailable ones above it. */
  peek(): QueueEntry | undefined {
    for (;;) {
      const top = this.items[0];
      if (top === undefined || top.state === 'available') return top;
      this.pop();
    }
  }

  private pop(): void {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top !== undefined) this.inside.delete(top);
    if (items.length === 0 || last === undefined) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && (items[right] as QueueEntry).position < (items[left] as QueueEntry).position ? right : left;
      if ((items[child] as QueueEntry).position >= last.position) break;
      items[i] = items[child] as QueueEntry;
      i = child;
    }
    items[i] = last;
  }
}
