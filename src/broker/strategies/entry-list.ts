// A priority level's entries in position order, for selective consumers that walk a level with
// a cursor (selection.ts): append-only in practice (a level is filled in position order; an
// older entry paged in is inserted in place), removals are counted and the array compacted when
// they pile up, so a walk step is O(log n) plus the removed entries it skips.

import type { QueueEntry } from '../queue.js';

const COMPACT_MIN = 1024;

export class EntryList {
  private entries: QueueEntry[] = [];
  private removedInside = 0;

  add(entry: QueueEntry): void {
    const last = this.entries[this.entries.length - 1];
    if (last === undefined || last.position < entry.position) this.entries.push(entry);
    else this.entries.splice(this.firstAfter(entry.position - 1), 0, entry);
  }

  /** One of its entries left the queue. */
  noteRemoved(): void {
    this.removedInside++;
    const live = this.entries.length - this.removedInside;
    if (this.removedInside > COMPACT_MIN && this.removedInside > live) {
      this.entries = this.entries.filter((e) => e.state !== 'removed');
      this.removedInside = 0;
    }
  }

  /** The first entry still on the queue after `position`. */
  nextLiveAfter(position: number): QueueEntry | undefined {
    for (let i = this.firstAfter(position); i < this.entries.length; i++) {
      const entry = this.entries[i] as QueueEntry;
      if (entry.state !== 'removed') return entry;
    }
    return undefined;
  }

  private firstAfter(position: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as QueueEntry).position <= position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
