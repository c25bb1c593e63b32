// Priority queues (qpid.priorities): the highest level's oldest available entry goes first.
// A message's AMQP header priority (0-9, 4 when absent: AMQP 1.0 §3.2.1) maps onto the queue's
// levels as qpidd maps it (PriorityQueue::getPriorityLevel, the AMQP 0-10 rule
// priority-level-implementation): with L levels the lowest 5 - ceil(L/2) priorities share level
// 0, and each priority above them has a level of its own up to L-1. So 10 levels keep every
// priority apart, and 2 levels split 0-4 from 5-9.
//
// Cost: one heap of available entries per level; next() looks at most L heap tops and each
// delivery pays one O(log n) heap operation. With qpid.fairshare N a level serves at most N
// deliveries in a row, then the next lower level with messages has its turn of N, and so on
// round the levels (qpidd's Fairshare): a higher level waits for the round to come back to it.
// Selective consumers walk the levels highest first, each in position order with its own cursor
// (selection.ts), over a per-level list of the level's entries: strict priority among the
// messages they match (fairshare is not applied to them).

import type { Consumer, QueueEntry } from '../queue.js';
import { EntryHeap } from './entry-heap.js';
import { EntryList } from './entry-list.js';
import type { QueueStrategy, QueueType, SelectionLanes } from './strategy.js';

export const DEFAULT_PRIORITY = 4;
export const PRIORITY_LEVELS_MAX = 10;

/** The level (0 = lowest) a message of AMQP priority `priority` takes on a queue of `levels`. */
export function priorityLevel(priority: number, levels: number): number {
  const firstLevel = 5 - Math.min(5, Math.ceil(levels / 2));
  if (priority <= firstLevel) return 0;
  return Math.min(priority - firstLevel, levels - 1);
}

export class PriorityOrder implements QueueStrategy {
  readonly type: QueueType;
  readonly perConsumer = false;
  private readonly levels: EntryHeap[];
  /** Every entry of each level in position order, for selective consumers. */
  private readonly lists: EntryList[];
  readonly lanes: SelectionLanes;
  private readonly shares: readonly number[];
  private readonly strict: boolean;
  /** Fairshare: the level being served and how many deliveries it has had in a row. */
  private servingLevel: number;
  private servedInRow = 0;

  constructor(levels: number, shares: readonly number[] = []) {
    this.shares = Array.from({ length: levels }, (_, level) => shares[level] ?? 0);
    this.type = { kind: 'priority', levels, shares: this.shares };
    this.strict = this.shares.every((share) => share === 0);
    this.levels = Array.from({ length: levels }, () => new EntryHeap());
    this.lists = Array.from({ length: levels }, () => new EntryList());
    this.servingLevel = levels - 1;
    this.lanes = {
      count: levels,
      laneOf: (entry) => levels - 1 - this.levelIndex(entry),
      nextLiveAfter: (lane, position) => (this.lists[levels - 1 - lane] as EntryList).nextLiveAfter(position),
    };
  }

  private levelIndex(entry: QueueEntry): number {
    const level = typeof entry.typeKey === 'number' ? entry.typeKey : 0;
    return Math.max(0, Math.min(this.levels.length - 1, level));
  }

  private levelOf(entry: QueueEntry): EntryHeap {
    return this.levels[this.levelIndex(entry)] as EntryHeap;
  }

  added(entry: QueueEntry): void {
    this.levelOf(entry).push(entry);
    (this.lists[this.levelIndex(entry)] as EntryList).add(entry);
  }

  released(entry: QueueEntry): void {
    this.levelOf(entry).push(entry);
  }

  acquired(entry: QueueEntry): void {
    if (this.strict) return;
    const level = typeof entry.typeKey === 'number' ? entry.typeKey : 0;
    if (level === this.servingLevel) this.servedInRow++;
    else {
      this.servingLevel = level;
      this.servedInRow = 1;
    }
  }

  removed(entry: QueueEntry): void {
    (this.lists[this.levelIndex(entry)] as EntryList).noteRemoved();
  }

  next(_consumer: Consumer | null): QueueEntry | undefined {
    const count = this.levels.length;
    // Strict priority: the highest level first. Fairshare (qpidd's Fairshare.cpp): the level
    // being served first, or the one below it once it has had its share, then down and round.
    const share = this.shares[this.servingLevel] as number;
    const start = this.strict ? count - 1 : share === 0 || this.servedInRow < share ? this.servingLevel : this.servingLevel - 1;
    for (let k = 0; k < count; k++) {
      const level = (start - k + 2 * count) % count;
      const entry = (this.levels[level] as EntryHeap).peek();
      if (entry) return entry;
    }
    return undefined;
  }

  replacedBy(): QueueEntry | undefined {
    return undefined;
  }

  allows(): boolean {
    return true;
  }
}
