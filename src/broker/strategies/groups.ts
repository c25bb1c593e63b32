// Message groups (qpid.group_header_key, qpid.shared_msg_group): every message of a group goes
// to one consumer at a time. A consumer owns a group from its first acquisition of one of the
// group's messages until it holds none of them (each settled, or released, or it detached and
// its deliveries went back); then the group is free and its oldest message can go to anyone.
// Messages without the header are in qpidd's default group "qpid.no-group" (MessageGroupManager).
// Ownership is not durable: after a restart or a failover consumers are new, so every group
// starts free, in the order the store recovered.
//
// Cost: each group keeps a heap of its available entries; the free groups, and each consumer's
// owned groups, are heaps keyed by the group's oldest available position (stale items dropped
// lazily when they surface). next() for a consumer compares the top of its own heap with the top
// of the free one: O(log n) per delivery, however many groups it owns.

import type { Consumer, QueueEntry } from '../queue.js';
import { EntryHeap } from './entry-heap.js';
import type { QueueStrategy, QueueType } from './strategy.js';

export const DEFAULT_GROUP = 'qpid.no-group';

interface Group {
  readonly id: string;
  readonly available: EntryHeap;
  /** Entries of the group on the queue (available or acquired). */
  members: number;
  /** Entries of the group acquired (by its owner, or held in its owner's transaction). */
  acquired: number;
  owner: Consumer | null;
  /** The head position last offered in the heap of its owner (or of the free groups); -1 when
   * it must be offered again. */
  offeredAt: number;
}

interface HeadItem {
  readonly position: number;
  readonly group: Group;
}

interface Owned {
  /** The owned groups by their oldest available entry (stale items dropped when they surface). */
  readonly heads: HeadItem[];
  groups: number;
}

export class GroupOrder implements QueueStrategy {
  readonly type: QueueType;
  readonly perConsumer = true;
  private readonly groups = new Map<string, Group>();
  private readonly owned = new Map<Consumer, Owned>();
  /** Free groups by their oldest available entry. An item is stale once its group has another
   * owner, is gone, or its oldest available entry moved; every such change offers the group
   * again under its new head, so stale items are simply dropped when they reach the top. */
  private readonly free: HeadItem[] = [];

  /** `freed` is told the available entries of a group that became free: selective consumers
   * that passed them while another consumer owned the group must look at them again. */
  constructor(header: string, private readonly freed: (entries: Iterable<QueueEntry>) => void = () => {}) {
    this.type = { kind: 'group', header };
  }

  /** Who owns a group now (null: free, or no such group): for status and tests. */
  ownerOf(groupId: string): Consumer | null {
    return this.groups.get(groupId)?.owner ?? null;
  }

  private groupOf(entry: QueueEntry): Group {
    const id = typeof entry.typeKey === 'string' && entry.typeKey !== '' ? entry.typeKey : DEFAULT_GROUP;
    let group = this.groups.get(id);
    if (!group) {
      group = { id, available: new EntryHeap(), members: 0, acquired: 0, owner: null, offeredAt: -1 };
      this.groups.set(id, group);
    }
    return group;
  }

  added(entry: QueueEntry): void {
    const group = this.groupOf(entry);
    group.members++;
    group.available.push(entry);
    this.offer(group);
  }

  acquired(entry: QueueEntry, consumer: Consumer): void {
    const group = this.groupOf(entry);
    if (group.owner === null) this.setOwner(group, consumer);
    group.acquired++;
    this.offer(group);
  }

  released(entry: QueueEntry): void {
    const group = this.groupOf(entry);
    group.available.push(entry);
    group.acquired--;
    if (group.acquired === 0) this.disown(group);
    else this.offer(group);
  }

  removed(entry: QueueEntry, wasAcquired: boolean): void {
    const group = this.groupOf(entry);
    group.members--;
    if (wasAcquired) group.acquired--;
    if (group.members === 0) {
      this.setOwner(group, null);
      this.groups.delete(group.id);
      return;
    }
    if (wasAcquired && group.acquired === 0) this.disown(group);
    else this.offer(group); // an available one (expired, purged) may have been the oldest
  }

  next(consumer: Consumer | null): QueueEntry | undefined {
    const mine = consumer ? this.owned.get(consumer) : undefined;
    const own = mine ? this.validTop(mine.heads, consumer) : undefined;
    const free = this.validTop(this.free, null);
    if (own === undefined) return free;
    if (free === undefined) return own;
    return own.position < free.position ? own : free;
  }

  allows(entry: QueueEntry, consumer: Consumer): boolean {
    const owner = this.groupOf(entry).owner;
    return owner === null || owner === consumer;
  }

  replacedBy(): QueueEntry | undefined {
    return undefined;
  }

  private setOwner(group: Group, owner: Consumer | null): void {
    const previous = group.owner;
    if (previous === owner) return;
    if (previous !== null) {
      const state = this.owned.get(previous);
      if (state && --state.groups === 0) this.owned.delete(previous);
    }
    group.owner = owner;
    group.offeredAt = -1;
    if (owner !== null) {
      let state = this.owned.get(owner);
      if (!state) this.owned.set(owner, (state = { heads: [], groups: 0 }));
      state.groups++;
    }
  }

  private disown(group: Group): void {
    if (group.owner === null) return;
    this.setOwner(group, null);
    this.offer(group);
    this.freed(group.available.available());
  }

  /** Puts the group in its owner's heap (or the free heap) under its oldest available entry,
   * unless it is there already under that position. */
  private offer(group: Group): void {
    const head = group.available.peek();
    if (!head) {
      group.offeredAt = -1;
      return;
    }
    if (group.offeredAt === head.position) return;
    group.offeredAt = head.position;
    const heap = group.owner === null ? this.free : this.owned.get(group.owner)?.heads;
    if (heap) headPush(heap, { position: head.position, group });
  }

  private validTop(heap: HeadItem[], owner: Consumer | null): QueueEntry | undefined {
    for (;;) {
      const top = heap[0];
      if (top === undefined) return undefined;
      const group = top.group;
      if (group.owner === owner && this.groups.get(group.id) === group) {
        const head = group.available.peek();
        if (head && head.position === top.position) return head;
      }
      headPop(heap);
    }
  }
}

function headPush(heap: HeadItem[], item: HeadItem): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if ((heap[parent] as HeadItem).position <= item.position) break;
    heap[i] = heap[parent] as HeadItem;
    i = parent;
  }
  heap[i] = item;
}

function headPop(heap: HeadItem[]): void {
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && (heap[right] as HeadItem).position < (heap[left] as HeadItem).position ? right : left;
    if ((heap[child] as HeadItem).position >= last.position) break;
    heap[i] = heap[child] as HeadItem;
    i = child;
  }
  heap[i] = last;
}
