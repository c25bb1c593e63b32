// A queue's in-memory state: its entries in position order, its consumers, and its accounting.
// Pure data structure: no store, no sockets, no clock (the broker passes time in). The broker
// (broker.ts) decides what to journal; this file keeps the invariants of the entry list:
// entries are sorted by position, counts and bytes always equal what the entries say, and
// an entry is held by at most one consumer.
//
// A recovered queue may be "paged": its oldest entries stay in the store and are loaded in
// batches as consumers drain the in-memory ones, so that opening a store with a million messages
// neither scans them nor holds them in memory (DESIGN.md §2).

import type { Arguments } from '../../store/index.js';
import { assert } from '../core/assert.js';
import { nextFlowStopped, type FlowThresholds } from './flow-control.js';
import type { BrokerMessage } from './message.js';
import type { Selector } from '../selector/index.js';
import type { Selection } from './selection.js';
import { createStrategy, FIFO, type QueueStrategy, type QueueType } from './strategies/index.js';

export type LimitPolicy = 'reject' | 'ring';
export type ReplicateLevel = 'none' | 'configuration' | 'all';

export interface QueueSettings {
  readonly name: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusive: boolean;
  readonly alternateExchange: string | null;
  /** The declare arguments exactly as given (stored and replicated as-is). */
  readonly arguments: Arguments;
  readonly maxCount: number | null;
  readonly maxSizeBytes: number | null;
  readonly policy: LimitPolicy;
  /** Producer flow control thresholds (flow-control.ts), null when the queue has none. */
  readonly flow: FlowThresholds | null;
  /** Effective replication level (qpid.replicate, else the broker's ha-replicate). */
  readonly replicate: ReplicateLevel;
  /** qpid.filter: only messages this selector matches are enqueued here. */
  readonly filter: Selector | null;
  /** Last-value, priority or grouped (strategies/); absent: plain FIFO. */
  readonly type?: QueueType;
  /** qpid.dedup_window: message-ids remembered for duplicate detection (dedup.ts); absent or
   * null: none. */
  readonly dedupWindow?: number | null;
}

export type EntryState = 'available' | 'acquired' | 'removed';

export interface Consumer {
  readonly id: number;
  /** Browsers (distribution-mode copy) see every entry without acquiring it. */
  readonly browse: boolean;
  /** Browsers: the last position this consumer has seen. */
  browsePosition: number;
  /** A consumer with a selector takes only the entries it matches (selection.ts). */
  readonly selection?: Selection;
  /** Whether the consumer can take one more delivery now (link credit, unsettled cap). */
  canTake(): boolean;
  /** Hands an entry to the consumer; acquired unless browsing. */
  take(entry: QueueEntry): void;
  /** The queue was deleted under the consumer (its link should be detached). */
  queueDeleted?(): void;
}

export interface QueueEntry {
  readonly queue: Queue;
  readonly position: number;
  readonly message: BrokerMessage;
  deliveryCount: number;
  /** Set once the entry went back to the queue after an acquisition: a later delivery is not
   * to the first acquirer (AMQP 1.0 §3.2.1), even when the release did not count as an attempt. */
  reacquirable?: true;
  state: EntryState;
  consumer: Consumer | null;
  /** True when the store has an index entry for it (an enqueue record was submitted). */
  readonly stored: boolean;
  /** What the queue's type orders or groups it by (strategies/index.ts typeKeyOf): its
   * last-value key, priority level or group id; absent on plain queues. */
  readonly typeKey?: string | number;
}

/** The part of a recovered queue still only in the store. */
interface PagedRegion {
  /** Entries with positions in (afterPosition, lastPosition] not yet loaded. */
  afterPosition: number;
  readonly lastPosition: number;
  count: number;
  bytes: number;
}

export class Queue {
  readonly settings: QueueSettings;
  /** Connection id owning an exclusive queue. */
  owner: string | null = null;
  /** Set when the queue has been deleted; entries and consumers are gone. */
  deleted = false;

  private entries: QueueEntry[] = [];
  /** Index of the first entry not known to be removed. */
  private head = 0;
  /** No available entry sits before this index (a hint; always <= the first available). */
  private availableHint = 0;
  private removedInside = 0;
  private lastPosition: number;
  private paged: PagedRegion | null = null;

  /** No available entry in memory expires before this (Infinity when none can): a lower bound,
   * so that the periodic sweep skips a queue with nothing due instead of walking every entry
   * (a deep queue of messages without a TTL cost every sweep a full pass). */
  private earliestExpiryMs = Infinity;

  private countInMemory = 0;
  private bytesInMemory = 0;
  private available = 0;

  private consumerList: Consumer[] = [];
  private nextConsumerIndex = 0;
  /** Whether the queue has ever had a consumer (auto-delete only after the first one leaves). */
  hadConsumer = false;

  /** Messages placed on the queue and taken off it (consumed, expired, purged, dropped) since
   * the broker started serving: the enqueue and dequeue rates (recovered messages not counted). */
  enqueuedTotal = 0;
  dequeuedTotal = 0;
  /** Messages of this queue found unreadable (checksum) and quarantined since it was served. */
  quarantinedTotal = 0;

  /** Past its flow stop threshold and not yet below its resume threshold. */
  flowStopped = false;
  /** Told of each flow transition (the broker logs it and wakes producers). */
  onFlowChange: ((queue: Queue, stopped: boolean) => void) | null = null;

  /** How the next entry is chosen and which one a new message replaces (the queue's type). */
  readonly strategy: QueueStrategy;

  constructor(settings: QueueSettings, lastPosition = 0) {
    this.settings = settings;
    this.lastPosition = lastPosition;
    this.strategy = createStrategy(settings.type ?? FIFO, {
      firstAvailable: () => this.firstAvailable(),
      groupFreed: (entries) => {
        if (!this.consumerList.some((c) => c.selection !== undefined)) return;
        for (const entry of entries) this.returnToSelections(entry);
      },
    });
  }

  get name(): string {
    return this.settings.name;
  }

  /** Messages on the queue, including acquired ones and those still paged out. */
  get count(): number {
    return this.countInMemory + (this.paged?.count ?? 0);
  }

  get bytes(): number {
    return this.bytesInMemory + (this.paged?.bytes ?? 0);
  }

  get availableInMemory(): number {
    return this.available;
  }

  get acquiredCount(): number {
    return this.countInMemory - this.available;
  }

  get consumers(): readonly Consumer[] {
    return this.consumerList;
  }

  get pagedCount(): number {
    return this.paged?.count ?? 0;
  }

  /** Starts the queue with `count` entries (bytes in all) left in the store, to be loaded with
   * loadPage() as consumers need them. */
  setPaged(count: number, bytes: number, lastStoredPosition: number): void {
    assert(this.entries.length === 0 && this.paged === null, `queue ${this.name}: paging set twice`);
    if (count > 0) this.paged = { afterPosition: 0, lastPosition: lastStoredPosition, count, bytes };
    this.lastPosition = Math.max(this.lastPosition, lastStoredPosition);
    this.checkFlow();
  }

  /** Where the next store read must start, or null when nothing is paged out. */
  pageCursor(): { afterPosition: number; lastPosition: number } | null {
    return this.paged ? { afterPosition: this.paged.afterPosition, lastPosition: this.paged.lastPosition } : null;
  }

  /** Inserts entries read from the store (in position order, all within the paged region).
   * `skipped` are entries read but not kept (transient ones dropped on local recovery): they
   * leave the region's accounting. Reading nothing means the region is exhausted. */
  loadPage(loaded: readonly QueueEntry[], skipped: readonly { position: number; size: number }[] = []): void {
    const paged = this.paged;
    assert(paged !== null, `queue ${this.name}: loadPage without a paged region`);
    if (loaded.length === 0 && skipped.length === 0) {
      // The store holds nothing more in the region: if the stats said otherwise, the tables
      // disagree (qpid-store verify reports it); drop the region rather than loop forever.
      this.paged = null;
      return;
    }
    for (const s of skipped) {
      assert(s.position > paged.afterPosition && s.position <= paged.lastPosition, `queue ${this.name}: skipped entry ${s.position} outside its region`);
      paged.count--;
      paged.bytes -= s.size;
      if (s.position > paged.afterPosition) paged.afterPosition = s.position;
    }
    // Paged entries are older than every entry enqueued since recovery: they go before the first
    // entry whose position is above the paged region.
    let insertAt = this.head;
    while (insertAt < this.entries.length && (this.entries[insertAt] as QueueEntry).position <= paged.lastPosition) insertAt++;
    let previous = insertAt > this.head ? (this.entries[insertAt - 1] as QueueEntry).position : 0;
    for (const entry of loaded) {
      assert(entry.position > previous && entry.position <= paged.lastPosition, `queue ${this.name}: paged entry ${entry.position} out of order or outside its region`);
      previous = entry.position;
      paged.count--;
      paged.bytes -= entry.message.size;
      if (entry.position > paged.afterPosition) paged.afterPosition = entry.position;
      this.countInMemory++;
      this.bytesInMemory += entry.message.size;
      this.available++;
      this.noteExpiry(entry);
    }
    if (loaded.length > 0) this.entries.splice(insertAt, 0, ...loaded);
    this.availableHint = Math.min(this.availableHint, insertAt);
    for (const entry of loaded) this.strategy.added(entry);
    for (const entry of loaded) this.returnToSelections(entry);
    if (paged.count <= 0 || paged.afterPosition >= paged.lastPosition) this.paged = null;
    this.checkFlow();
  }

  nextPosition(): number {
    return ++this.lastPosition;
  }

  get highestPosition(): number {
    return this.lastPosition;
  }

  append(entry: QueueEntry): void {
    const last = this.entries[this.entries.length - 1];
    assert(last === undefined || last.position < entry.position, `queue ${this.name}: position ${entry.position} not after ${last?.position}`);
    this.entries.push(entry);
    if (entry.position > this.lastPosition) this.lastPosition = entry.position;
    this.countInMemory++;
    this.bytesInMemory += entry.message.size;
    this.enqueuedTotal++;
    if (entry.state === 'available') {
      this.available++;
      this.noteExpiry(entry);
      this.strategy.added(entry);
    }
    this.checkFlow();
  }

  private noteExpiry(entry: QueueEntry): void {
    const at = entry.message.expiresAtMs;
    if (at !== null && at < this.earliestExpiryMs) this.earliestExpiryMs = at;
  }

  /** The available entries past their time at `nowMs`, oldest first: none, without a scan, when
   * no entry in memory can be. */
  expiredEntries(nowMs: number): QueueEntry[] {
    if (this.earliestExpiryMs > nowMs) return [];
    const due: QueueEntry[] = [];
    let earliest = Infinity;
    for (const entry of this.availableEntries()) {
      const at = entry.message.expiresAtMs;
      if (at === null) continue;
      if (at <= nowMs) due.push(entry);
      else if (at < earliest) earliest = at;
    }
    // What is due goes now; acquired entries are noted again when released.
    this.earliestExpiryMs = earliest;
    return due;
  }

  /** Messages on the queue journaled above `floorLsn` (not yet confirmed by every backup of the
   * ack gate), and their bytes. Entries are appended in LSN order, so the scan walks back from
   * the newest and stops at the first one at or below the floor: it costs what is unreplicated,
   * nothing per message. At most `scanMax` entries are looked at (`atLeast` says so). */
  unreplicatedAbove(floorLsn: number, scanMax = 1_000_000): { messages: number; bytes: number; atLeast: boolean } {
    let messages = 0;
    let bytes = 0;
    let scanned = 0;
    for (let i = this.entries.length - 1; i >= this.head; i--) {
      if (++scanned > scanMax) return { messages, bytes, atLeast: true };
      const entry = this.entries[i] as QueueEntry;
      if (entry.state === 'removed') continue;
      const lsn = entry.message.enqueueLsn;
      // A live entry with no LSN was recovered from the store (or never journaled): it and
      // everything older is not waiting for the gate.
      if (lsn === null || lsn <= floorLsn) break;
      messages++;
      bytes += entry.message.size;
    }
    return { messages, bytes, atLeast: false };
  }

  /** O(1) after each change of depth: a transition is reported once. */
  private checkFlow(): void {
    const thresholds = this.settings.flow;
    if (thresholds === null) return;
    const stopped = nextFlowStopped(this.flowStopped, this.count, this.bytes, thresholds);
    if (stopped === this.flowStopped) return;
    this.flowStopped = stopped;
    this.onFlowChange?.(this, stopped);
  }

  /** The next available entry for a consumer, in the order of the queue's type, or undefined.
   * Expired entries are returned too: the caller checks expiry (it knows the time) and removes
   * them. */
  peekAvailable(consumer: Consumer | null = null): QueueEntry | undefined {
    return this.strategy.next(consumer);
  }

  /** The oldest available entry in position order (plain queue order). */
  private firstAvailable(): QueueEntry | undefined {
    for (let i = Math.max(this.availableHint, this.head); i < this.entries.length; i++) {
      const entry = this.entries[i] as QueueEntry;
      if (entry.state === 'available') {
        this.availableHint = i;
        return entry;
      }
    }
    this.availableHint = this.entries.length;
    return undefined;
  }

  /** Oldest available entries first, for ring overflow and purges. */
  *availableEntries(): Generator<QueueEntry> {
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i] as QueueEntry;
      if (entry.state === 'available') yield entry;
    }
  }

  /** Every entry still on the queue (available or acquired), in position order. */
  *liveEntries(): Generator<QueueEntry> {
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i] as QueueEntry;
      if (entry.state !== 'removed') yield entry;
    }
  }

  /** The first live entry after `position`, for browsers. */
  nextLiveAfter(position: number): QueueEntry | undefined {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as QueueEntry).position <= position) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.entries.length; i++) {
      const entry = this.entries[i] as QueueEntry;
      if (entry.state !== 'removed') return entry;
    }
    return undefined;
  }

  acquire(entry: QueueEntry, consumer: Consumer): void {
    assert(entry.state === 'available', `queue ${this.name}: acquire of ${entry.state} entry ${entry.position}`);
    entry.state = 'acquired';
    entry.consumer = consumer;
    this.available--;
    this.strategy.acquired(entry, consumer);
  }

  /** A consumer settled the entry inside a transaction (AMQP 1.0 §4.4.2): it stays acquired,
   * held by the transaction (broker/transaction.ts) until discharge, so that its consumer
   * leaving does not release it. */
  holdForTransaction(entry: QueueEntry): void {
    assert(entry.state === 'acquired', `queue ${this.name}: transaction hold of ${entry.state} entry ${entry.position}`);
    entry.consumer = null;
  }

  /** Makes an acquired entry available again (released, modified, or its consumer went away). */
  release(entry: QueueEntry, countAsDeliveryAttempt: boolean): void {
    assert(entry.state === 'acquired', `queue ${this.name}: release of ${entry.state} entry ${entry.position}`);
    entry.state = 'available';
    entry.consumer = null;
    entry.reacquirable = true;
    if (countAsDeliveryAttempt) entry.deliveryCount++;
    this.available++;
    this.noteExpiry(entry);
    const index = this.indexOf(entry.position);
    if (index !== -1 && index < this.availableHint) this.availableHint = index;
    this.strategy.released(entry);
    this.returnToSelections(entry);
  }

  /** Selective consumers whose cursor has passed an entry must look at it again (selection.ts). */
  private returnToSelections(entry: QueueEntry): void {
    const lane = this.strategy.lanes?.laneOf(entry) ?? 0;
    for (const consumer of this.consumerList) consumer.selection?.returned(entry.position, lane);
  }

  /** Removes an entry (consumed, expired, purged, dropped by the ring). */
  remove(entry: QueueEntry): void {
    assert(entry.state !== 'removed', `queue ${this.name}: entry ${entry.position} removed twice`);
    const wasAcquired = entry.state === 'acquired';
    if (entry.state === 'available') this.available--;
    entry.state = 'removed';
    this.strategy.removed(entry, wasAcquired);
    entry.consumer = null;
    this.dequeuedTotal++;
    this.countInMemory--;
    this.bytesInMemory -= entry.message.size;
    this.removedInside++;
    this.compact();
    this.checkFlow();
  }

  addConsumer(consumer: Consumer): void {
    this.consumerList.push(consumer);
    this.hadConsumer = true;
  }

  removeConsumer(consumer: Consumer): void {
    const index = this.consumerList.indexOf(consumer);
    if (index === -1) return;
    this.consumerList.splice(index, 1);
    if (this.nextConsumerIndex > index) this.nextConsumerIndex--;
    if (this.nextConsumerIndex >= this.consumerList.length) this.nextConsumerIndex = 0;
  }

  /** Consumers in round-robin order starting after the last one served. */
  *consumersInTurn(): Generator<Consumer> {
    const n = this.consumerList.length;
    // Offsets are from where this turn started: nextConsumerIndex moves as consumers are served.
    const start = this.nextConsumerIndex;
    for (let k = 0; k < n; k++) {
      const index = (start + k) % n;
      const consumer = this.consumerList[index];
      if (consumer === undefined) continue;
      this.nextConsumerIndex = (index + 1) % Math.max(1, this.consumerList.length);
      yield consumer;
    }
  }

  /** Entries held by a consumer (to release them when it goes away). */
  entriesHeldBy(consumer: Consumer): QueueEntry[] {
    const held: QueueEntry[] = [];
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i] as QueueEntry;
      if (entry.state === 'acquired' && entry.consumer === consumer) held.push(entry);
    }
    return held;
  }

  /** The entry at a position, if it is still in memory. */
  entryAt(position: number): QueueEntry | undefined {
    const index = this.indexOf(position);
    return index === -1 ? undefined : (this.entries[index] as QueueEntry);
  }

  private indexOf(position: number): number {
    let lo = this.head;
    let hi = this.entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const p = (this.entries[mid] as QueueEntry).position;
      if (p === position) return mid;
      if (p < position) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Drops removed entries from the head, and rebuilds the array when holes pile up inside. */
  private compact(): void {
    while (this.head < this.entries.length && (this.entries[this.head] as QueueEntry).state === 'removed') {
      this.head++;
      this.removedInside--;
    }
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
      this.availableHint = 0;
      this.removedInside = 0;
      return;
    }
    const live = this.entries.length - this.head;
    if (this.head > 1024 && this.head > live) {
      this.entries = this.entries.slice(this.head);
      this.availableHint = Math.max(0, this.availableHint - this.head);
      this.head = 0;
    }
    if (this.removedInside > 1024 && this.removedInside > live / 2) {
      const hintPosition = (this.entries[Math.min(this.availableHint, this.entries.length - 1)] as QueueEntry | undefined)?.position ?? 0;
      this.entries = this.entries.slice(this.head).filter((e) => e.state !== 'removed');
      this.head = 0;
      this.removedInside = 0;
      let hint = this.entries.findIndex((e) => e.position >= hintPosition);
      if (hint === -1) hint = this.entries.length;
      this.availableHint = hint;
    }
  }
}
