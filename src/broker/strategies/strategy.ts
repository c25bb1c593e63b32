// Queue types as strategies behind one interface (issue 12): how the next message is chosen for
// a consumer and which queued message a new one replaces. The queue (queue.ts) keeps every entry
// in position order and tells its strategy each change of an entry's state; the strategy keeps
// whatever index it needs to answer next() without scanning. Pure: no store, no clock.
//
// An entry's type key (QueueEntry.typeKey) is what its queue's type looks at, read once from the
// message when the entry is made: the last-value key, the priority level, or the group id.

import type { Consumer, QueueEntry } from '../queue.js';

export type QueueType =
  | { readonly kind: 'fifo' }
  /** qpid.last_value_queue_key: the application property whose value identifies a message. */
  | { readonly kind: 'last-value'; readonly key: string }
  /** qpid.priorities: levels 1-10. shares[level] (qpid.fairshare, qpid.fairshare-LEVEL): how many
   * deliveries in a row that level may have before the next lower one gets a turn (0: no
   * limit); all 0 is strict priority. */
  | { readonly kind: 'priority'; readonly levels: number; readonly shares: readonly number[] }
  /** qpid.group_header_key (with qpid.shared_msg_group): the application property naming a
   * message's group. */
  | { readonly kind: 'group'; readonly header: string };

export const FIFO: QueueType = { kind: 'fifo' };

export interface QueueStrategy {
  readonly type: QueueType;
  /** Whether the next entry depends on who asks (groups): one consumer getting nothing does not
   * mean the next one will get nothing too. */
  readonly perConsumer: boolean;
  /** An available entry joined the queue (appended, or paged in from the store). */
  added(entry: QueueEntry): void;
  acquired(entry: QueueEntry, consumer: Consumer): void;
  /** An acquired entry is available again. */
  released(entry: QueueEntry): void;
  /** An entry left the queue; `wasAcquired` says from which state. */
  removed(entry: QueueEntry, wasAcquired: boolean): void;
  /** The available entry `consumer` should get next, or undefined. */
  next(consumer: Consumer | null): QueueEntry | undefined;
  /** Whether `consumer` may take `entry` (selective consumers choose in position order). */
  allows(entry: QueueEntry, consumer: Consumer): boolean;
  /** The queued entry a new message with this type key replaces (last-value queues), if any. */
  replacedBy(typeKey: string | number | undefined): QueueEntry | undefined;
  /** Lanes a selective consumer walks one after the other, each in position order (priority
   * levels, highest first); absent: the whole queue is one lane. */
  readonly lanes?: SelectionLanes;
}

export interface SelectionLanes {
  readonly count: number;
  /** Lane 0 is served first. */
  laneOf(entry: QueueEntry): number;
  nextLiveAfter(lane: number, position: number): QueueEntry | undefined;
}

/** Plain queue order: the oldest available entry, found by the queue's own position index. */
export class FifoOrder implements QueueStrategy {
  readonly type: QueueType = FIFO;
  readonly perConsumer = false;
  constructor(private readonly firstAvailable: () => QueueEntry | undefined) {}
  added(_entry: QueueEntry): void {}
  acquired(_entry: QueueEntry, _consumer: Consumer): void {}
  released(_entry: QueueEntry): void {}
  removed(_entry: QueueEntry, _wasAcquired: boolean): void {}
  next(_consumer: Consumer | null): QueueEntry | undefined {
    return this.firstAvailable();
  }
  allows(_entry: QueueEntry, _consumer: Consumer): boolean {
    return true;
  }
  replacedBy(_typeKey: string | number | undefined): QueueEntry | undefined {
    return undefined;
  }
}
