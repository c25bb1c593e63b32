// Consumers with a selector (a source filter): each gets only the entries it matches, and the
// entries it does not match stay on the queue for other consumers.
//
// The bound: a naive dispatcher would scan the queue from its head for every delivery to a
// selective consumer, O(depth) each time, which a queue of 10^5 non-matching messages turns into
// 10^10 evaluations. Instead each selective consumer keeps a cursor: every entry at or before
// it has been examined by this consumer (it did not match, was held by another consumer, or was
// taken). The cursor only moves forward, so each entry is evaluated at most once per consumer
// on its way through the queue. The one way an examined entry can become deliverable to it
// again is to return to the queue (released, or its holder went away): then the queue hands its
// position to every selective consumer whose cursor has passed it (Queue.release), and those
// positions are looked at first, oldest first, before the cursor moves on. Entries loaded from
// the store behind a cursor (paging) are handed over the same way. A delivery therefore costs
// O(log depth) plus the entries the cursor passes, and a dispatch with nothing to give is
// O(log depth), whatever the queue holds.
//
// On a priority queue the same holds per level: the queue's strategy names lanes (its levels,
// highest first), and the consumer keeps a cursor and revisit heap per lane, so it gets the
// highest-priority entry it matches, oldest first, at O(levels x log depth) per dispatch.
//
// The price: while part of a recovered queue is still paged out, the cursor does not move past
// the loaded part without loading the next page first (or it would skip older entries), so a
// selector that matches nothing brings the whole backlog into memory, as a plain consumer
// draining it would.

import { lazyMessageEnv, type MessageFields } from '../selector/message-fields.js';
import type { IncomingMessage } from './broker.js';
import type { Consumer, QueueEntry, Queue } from './queue.js';

/** Decodes a message's selector fields from its encoded bytes (src/amqp/selector-fields.ts). */
export type SelectorFieldsDecoder = (body: Uint8Array, deliveryCount: number, expiresAtMs: number | null) => MessageFields | null;

/** The queues among `queues` whose qpid.filter (if any) admits the message: qpidd's queue
 * filter, which an exchange subscription's selector becomes. The message is decoded at most
 * once, and only when some queue has a filter. */
export function admittedBy(queues: Queue[], incoming: IncomingMessage, decode: SelectorFieldsDecoder | null): Queue[] {
  if (queues.every((q) => q.settings.filter === null)) return queues;
  const env = lazyMessageEnv(() => decode?.(incoming.body, 0, incoming.expiresAtMs) ?? null);
  return queues.filter((q) => q.settings.filter === null || q.settings.filter.matches(env));
}

/** What the broker does for a selection it cannot do on the queue alone. */
export interface SelectionHooks {
  /** Removes (and dead-letters) the entry when it has expired; true if it did. */
  expireIfDue(entry: QueueEntry): boolean;
  /** Loads the next page of the queue's paged region from the store. */
  loadPage(): void;
  /** Whether the queue's type lets this consumer take the entry (a message group owned by
   * another consumer: the group's entries come back through returned() when it is freed). */
  allows?(entry: QueueEntry): boolean;
}

export class Selection {
  /** Per lane (strategies/strategy.ts SelectionLanes: a priority queue's levels, else one):
   * every entry of the lane at or before this position has been examined by this consumer. */
  private readonly cursors: number[] = [0];
  /** Per lane, positions at or before its cursor that came back to the queue: min-heaps. */
  private readonly revisits: number[][] = [[]];

  constructor(readonly matches: (entry: QueueEntry) => boolean) {}

  /** An entry at `position` (in `lane`) is available again (or newly loaded behind the cursor). */
  returned(position: number, lane = 0): void {
    if (position > (this.cursors[lane] ?? 0)) return; // the cursor will reach it anyway
    heapPush(this.revisitOf(lane), position);
  }

  /** The oldest available entry this consumer matches (of the first lane that has one), or
   * undefined. The caller acquires it. */
  next(queue: Queue, hooks: SelectionHooks): QueueEntry | undefined {
    const lanes = queue.strategy.lanes;
    if (!lanes) return this.nextIn(0, queue, hooks, (position) => nextLiveLoaded(queue, position, hooks.loadPage));
    for (let lane = 0; lane < lanes.count; lane++) {
      const entry = this.nextIn(lane, queue, hooks, (position) => lanes.nextLiveAfter(lane, position));
      if (entry) return entry;
    }
    return undefined;
  }

  private revisitOf(lane: number): number[] {
    let heap = this.revisits[lane];
    if (!heap) this.revisits[lane] = heap = [];
    return heap;
  }

  private nextIn(lane: number, queue: Queue, hooks: SelectionHooks, nextLiveAfter: (position: number) => QueueEntry | undefined): QueueEntry | undefined {
    const revisit = this.revisitOf(lane);
    while (revisit.length > 0) {
      const position = heapPop(revisit) as number;
      const entry = queue.entryAt(position);
      if (!entry || entry.state !== 'available' || hooks.expireIfDue(entry)) continue;
      if (hooks.allows?.(entry) === false) continue;
      if (this.matches(entry)) return entry;
    }
    for (;;) {
      const entry = nextLiveAfter(this.cursors[lane] ?? 0);
      if (!entry) return undefined;
      this.cursors[lane] = entry.position;
      if (entry.state !== 'available' || hooks.expireIfDue(entry)) continue;
      if (hooks.allows?.(entry) === false) continue;
      if (this.matches(entry)) return entry;
    }
  }
}

/** The first entry after `position` still on the queue, loading pages of a recovered queue
 * first when they would come before it (they are older than what is in memory past the loaded
 * part), so that no cursor ever moves past an entry not yet loaded. */
function nextLiveLoaded(queue: Queue, position: number, loadPage: () => void): QueueEntry | undefined {
  for (;;) {
    const paged = queue.pageCursor();
    const entry = queue.nextLiveAfter(position);
    if (paged === null || (entry !== undefined && entry.position <= paged.afterPosition)) return entry;
    loadPage();
  }
}

/** A browser's (distribution-mode copy) next entry, its browse position moved past it and past
 * every entry its selector (if any) does not match. Browsers see each entry once, so the browse
 * position is their cursor and nothing is revisited. On a queue with lanes (priority levels) a
 * browser sees the highest level first, as qpidd's browsers do, with a position per lane. */
export function nextBrowsed(queue: Queue, consumer: Consumer, loadPage: () => void): QueueEntry | undefined {
  const lanes = queue.strategy.lanes;
  if (lanes) {
    let positions = laneBrowsePositions.get(consumer);
    if (!positions) laneBrowsePositions.set(consumer, (positions = []));
    for (let lane = 0; lane < lanes.count; lane++) {
      for (;;) {
        const entry = lanes.nextLiveAfter(lane, positions[lane] ?? 0);
        if (!entry) break;
        positions[lane] = entry.position;
        if (!consumer.selection || consumer.selection.matches(entry)) return entry;
      }
    }
    return undefined;
  }
  for (;;) {
    const entry = nextLiveLoaded(queue, consumer.browsePosition, loadPage);
    if (!entry) return undefined;
    consumer.browsePosition = entry.position;
    if (!consumer.selection || consumer.selection.matches(entry)) return entry;
  }
}

/** Browsers' positions per lane, kept here so that a consumer carries one browse position. */
const laneBrowsePositions = new WeakMap<Consumer, number[]>();

function heapPush(heap: number[], value: number): void {
  heap.push(value);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if ((heap[parent] as number) <= value) break;
    heap[i] = heap[parent] as number;
    i = parent;
  }
  heap[i] = value;
}

function heapPop(heap: number[]): number | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && (heap[right] as number) < (heap[left] as number) ? right : left;
    if ((heap[child] as number) >= last) break;
    heap[i] = heap[child] as number;
    i = child;
  }
  heap[i] = last;
  return top;
}
