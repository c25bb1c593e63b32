// Message groups (qpid.group_header_key, qpid.shared_msg_group): every message of a group goes
// to one consumer at a time. A consumer owns a group from its first acquisition of one of the
// group's messages until it holds none of them (each settled, or released, or it detached and
// its deliveries went back); then the group is free and its oldest message can go to anyone.
// Messages without the header are in qpidd's default group "qpid.no-group" (MessageGroupManager).
// Ownership is not durable: after a restart or a failover consumers are new, so every group
// starts free, in the order the store recovered.
//
// Cost: each group keeps a heap of its available entries, and the free groups are a heap keyed
// by their oldest available position (stale items are dropped lazily when they surface). next()
// for a consumer compares the heads of the groups it owns with the oldest free group:
// O(groups it owns + log n) per delivery.

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
}

interface FreeItem {
  readonly position: number;
  readonly group: Group;
}

export class GroupOrder implements QueueStrategy {
  readonly type: QueueType;
  readonly perConsumer = true;
  private readonly groups = new Map<string, Group>();
  private readonly owned = new Map<Consumer, Set<Group>>();
  /** Free groups by their oldest available entry; an item is stale once the group is owned or
   * its oldest available entry moved. */
  private readonly free: FreeItem[] = [];

  /** `freed` is told the available entries of a group that became free: selective consumers
   * that passed them while another consumer owned the group must look at them again. */
  constructor(header: string, private readonly freed: (entries: Iterable<QueueEntry>) => void = () => {}) {
    this.type = { kind: 'group', header };
  }

  /** Who owns a group now (null: free, or no such group): for status and tests. */
  ownerOf(groupId: string): Consumer | null {
    return this.groups.get(groupId)?.owner ?? null;
  }

  get groupCount(): number {
    return this.groups.size;
  }

  private groupOf(entry: QueueEntry): Group {
    const id = typeof entry.typeKey === 'string' && entry.typeKey !== '' ? entry.typeKey : DEFAULT_GROUP;
    let group = this.groups.get(id);
    if (!group) {
      group = { id, available: new EntryHeap(), members: 0, acquired: 0, owner: null };
      this.groups.set(id, group);
    }
    return group;
  }

  added(entry: QueueEntry): void {
    const group = this.groupOf(entry);
    group.members++;
    const head = group.available.peek();
    group.available.push(entry);
    // A free group is offered under its oldest entry: again only if this one is older.
    if (group.owner === null && (head === undefined || entry.position < head.position)) this.offerFree(group);
  }

  acquired(entry: QueueEntry, consumer: Consumer): void {
    const group = this.groupOf(entry);
    if (group.owner === null) {
      group.owner = consumer;
      let mine = this.owned.get(consumer);
      if (!mine) this.owned.set(consumer, (mine = new Set()));
      mine.add(group);
    }
    group.acquired++;
  }

  released(entry: QueueEntry): void {
    const group = this.groupOf(entry);
    group.available.push(entry);
    group.acquired--;
    if (group.acquired === 0) this.disown(group);
  }

  removed(entry: QueueEntry, wasAcquired: boolean): void {
    const group = this.groupOf(entry);
    group.members--;
    if (wasAcquired) group.acquired--;
    if (group.members === 0) {
      this.disown(group, false);
      this.groups.delete(group.id);
      return;
    }
    if (wasAcquired) {
      if (group.acquired === 0) this.disown(group);
      return;
    }
    // An available entry of a free group went (expired, purged): if it was the oldest, the
    // group is offered again under its new oldest.
    const head = group.available.peek();
    if (group.owner === null && head !== undefined && entry.position < head.position) this.offerFree(group);
  }

  next(consumer: Consumer | null): QueueEntry | undefined {
    let best: QueueEntry | undefined;
    const mine = consumer ? this.owned.get(consumer) : undefined;
    if (mine) {
      for (const group of mine) {
        const head = group.available.peek();
        if (head && (best === undefined || head.position < best.position)) best = head;
      }
    }
    const free = this.oldestFree();
    if (free && (best === undefined || free.position < best.position)) best = free;
    return best;
  }

  replacedBy(): QueueEntry | undefined {
    return undefined;
  }

  allows(entry: QueueEntry, consumer: Consumer): boolean {
    const owner = this.groupOf(entry).owner;
    return owner === null || owner === consumer;
  }

  private disown(group: Group, announce = true): void {
    const owner = group.owner;
    if (owner === null) return;
    group.owner = null;
    const mine = this.owned.get(owner);
    mine?.delete(group);
    if (mine?.size === 0) this.owned.delete(owner);
    if (!announce) return;
    this.offerFree(group);
    this.freed(group.available.available());
  }

  private offerFree(group: Group): void {
    const head = group.available.peek();
    if (head) freePush(this.free, { position: head.position, group });
  }

  private oldestFree(): QueueEntry | undefined {
    for (;;) {
      const top = this.free[0];
      if (top === undefined) return undefined;
      const group = top.group;
      // Every change of a free group's oldest entry pushed a fresh item, so a stale one (the
      // group owned, gone, or its oldest moved) is simply dropped.
      if (group.owner === null && this.groups.get(group.id) === group) {
        const head = group.available.peek();
        if (head && head.position === top.position) return head;
      }
      freePop(this.free);
    }
  }
}

function freePush(heap: FreeItem[], item: FreeItem): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if ((heap[parent] as FreeItem).position <= item.position) break;
    heap[i] = heap[parent] as FreeItem;
    i = parent;
  }
  heap[i] = item;
}

function freePop(heap: FreeItem[]): void {
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && (heap[right] as FreeItem).position < (heap[left] as FreeItem).position ? right : left;
    if ((heap[child] as FreeItem).position >= last.position) break;
    heap[i] = heap[child] as FreeItem;
    i = child;
  }
  heap[i] = last;
}
