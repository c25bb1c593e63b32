// The store contract over plain Maps, for the deterministic simulator (STYLE.md 3, 4). It obeys
// the same contract suite as the LMDB store; what it adds is control over durability: a
// MemoryDisk holds the durable state across simulated process lifetimes, commits become durable
// only when flushed (at once with autoFlush, else when the simulator calls flush()), and
// crash() throws away everything not yet durable. failNextCommit() injects a full disk.
//
// Batches mirror the LMDB store: commits queue up, one microtask applies every queued mutation
// in order (apply.ts, the same code the LMDB store runs), and a failed batch fails everything
// queued with it; the LSNs it held are reused.

import { AssertionFailure, assert } from '../src/core/assert.js';
import { Projection, type DedupRow, type EntryInfo, type MessageInfo, type QueueRow } from './apply.js';
import { StoreFrontEnd } from './front-end.js';
import type { UndoBatch } from './undo.js';
import { applyBatch, checkReadable, committedEntries, notifyDurable, truncatedError, type BatchContext, type BatchWriter, type Mutation } from './batch.js';
import { isStoreError, StoreError, type StoreErrorCode } from './errors.js';
import { silentLogger, type StoreLogger } from './logger.js';
import { entryLastLsn, type BindRecord, type ExchangeDeclareRecord, type LogEntry, type StoreRecord } from './record.js';
import type { QuarantinedMessage, RecoveryReport } from './recovery.js';
import { cmp, memoryScan } from './memory-scan.js';
import type { Scannable, StoreScan } from './scan.js';
import { snapshotFromScan } from './snapshot.js';
import {
  STORE_FORMAT_VERSION,
  type QueueEntry,
  type QueueState,
  type ReadLogOptions,
  type Snapshot,
  type Store,
  type StoreMeta,
} from './store.js';
import type { MutableMeta } from './ticket.js';

function bindingKey(exchange: string, queue: string, key: string): string {
  return JSON.stringify([exchange, queue, key]);
}

/** All tables of one store as Maps. Every change can be journaled so that a failed batch is
 * rolled back (the LMDB store gets the same from an aborted transaction). */
class MemoryTables implements BatchWriter {
  meta: MutableMeta;
  queueRows = new Map<string, QueueRow>();
  exchangeRows = new Map<string, ExchangeDeclareRecord>();
  bindingRows = new Map<string, BindRecord>();
  messageRows = new Map<number, { info: MessageInfo; body: Uint8Array }>();
  entryRows = new Map<string, Map<number, EntryInfo>>();
  logRows = new Map<number, { record: StoreRecord; bytes: number; lastLsn: number }>();
  /** `${queue}\u0000${position}` -> what was quarantined there. */
  quarantineRows = new Map<string, QuarantinedMessage>();
  recovery: RecoveryReport | null = null;
  /** Messages whose body the simulator has damaged (damageMessage): reads fail their checksum. */
  damaged = new Set<number>();
  undoRows = new Map<number, UndoBatch>();
  /** `${queue}\u0000${slot}` -> the message-id that slot of the queue's dedup window holds. */
  dedupRows = new Map<string, DedupRow & { readonly queue: string; readonly slot: number }>();
  journal: Array<() => void> | null = null;

  constructor(meta: MutableMeta) {
    this.meta = meta;
  }

  clone(): MemoryTables {
    const t = new MemoryTables({ ...this.meta });
    t.queueRows = new Map(this.queueRows);
    t.exchangeRows = new Map(this.exchangeRows);
    t.bindingRows = new Map(this.bindingRows);
    t.messageRows = new Map(this.messageRows);
    for (const [q, m] of this.entryRows) t.entryRows.set(q, new Map(m));
    t.logRows = new Map(this.logRows);
    t.quarantineRows = new Map(this.quarantineRows);
    t.recovery = this.recovery;
    t.damaged = new Set(this.damaged);
    t.undoRows = new Map(this.undoRows);
    t.dedupRows = new Map(this.dedupRows);
    return t;
  }

  private put<K, V>(map: Map<K, V>, key: K, value: V | undefined): void {
    if (this.journal) {
      const had = map.has(key);
      const old = map.get(key);
      this.journal.push(() => {
        if (had) map.set(key, old as V);
        else map.delete(key);
      });
    }
    if (value === undefined) map.delete(key);
    else map.set(key, value);
  }

  getQueue(name: string): QueueRow | undefined {
    return this.queueRows.get(name);
  }
  setQueue(name: string, row: QueueRow | undefined): void {
    this.put(this.queueRows, name, row);
  }
  getExchange(name: string): ExchangeDeclareRecord | undefined {
    return this.exchangeRows.get(name);
  }
  setExchange(name: string, declare: ExchangeDeclareRecord | undefined): void {
    this.put(this.exchangeRows, name, declare);
  }
  getBinding(exchange: string, queue: string, key: string): BindRecord | undefined {
    return this.bindingRows.get(bindingKey(exchange, queue, key));
  }
  setBinding(exchange: string, queue: string, key: string, bind: BindRecord | undefined): void {
    this.put(this.bindingRows, bindingKey(exchange, queue, key), bind);
  }
  bindingsOfQueue(queue: string): BindRecord[] {
    return [...this.bindingRows.values()].filter((b) => b.queue === queue);
  }
  bindingsOfExchange(exchange: string): BindRecord[] {
    return [...this.bindingRows.values()].filter((b) => b.exchange === exchange);
  }
  getMessage(messageId: number): MessageInfo | undefined {
    return this.messageRows.get(messageId)?.info;
  }
  addMessage(messageId: number, info: MessageInfo, body: Uint8Array): void {
    this.put(this.messageRows, messageId, { info, body });
  }
  setMessageRefs(messageId: number, refs: number): void {
    const row = this.messageRows.get(messageId);
    assert(row !== undefined, `setMessageRefs of missing message ${messageId}`);
    this.put(this.messageRows, messageId, { info: { ...row.info, refs }, body: row.body });
  }
  deleteMessage(messageId: number): void {
    this.put(this.messageRows, messageId, undefined);
  }
  getEntry(queue: string, position: number): EntryInfo | undefined {
    return this.entryRows.get(queue)?.get(position);
  }
  putEntry(queue: string, position: number, entry: EntryInfo): void {
    let m = this.entryRows.get(queue);
    if (!m) {
      m = new Map();
      this.entryRows.set(queue, m);
    }
    this.put(m, position, entry);
  }
  deleteEntry(queue: string, position: number): void {
    const m = this.entryRows.get(queue);
    if (m) this.put(m, position, undefined);
  }
  hasEntry(queue: string, position: number): boolean {
    return this.entryRows.get(queue)?.has(position) ?? false;
  }
  quarantine(queue: string, position: number, messageId: number): void {
    const problem = !this.messageRows.has(messageId) ? 'the message row was missing' : this.damaged.has(messageId) ? `message ${messageId}: its body fails its checksum` : 'the message row was sound when quarantined (its index entry was not)';
    this.put(this.quarantineRows, `${queue}\u0000${position}`, { queue, position, messageId, problem });
  }
  setRecovery(report: RecoveryReport): void {
    const before = this.recovery;
    this.journal?.push(() => {
      this.recovery = before;
    });
    this.recovery = report;
  }
  entryPositions(queue: string): number[] {
    const m = this.entryRows.get(queue);
    return m ? [...m.keys()].sort((a, b) => a - b) : [];
  }
  getDedup(queue: string, slot: number): DedupRow | undefined {
    const row = this.dedupRows.get(`${queue}\u0000${slot}`);
    return row && { seq: row.seq, id: row.id };
  }
  setDedup(queue: string, slot: number, row: DedupRow | undefined): void {
    this.put(this.dedupRows, `${queue}\u0000${slot}`, row && { queue, slot, seq: row.seq, id: row.id });
  }
  dedupSlots(queue: string): number[] {
    const out: number[] = [];
    for (const row of this.dedupRows.values()) if (row.queue === queue) out.push(row.slot);
    return out.sort((a, b) => a - b);
  }

  putLog(lsn: number, record: StoreRecord, encoded: Uint8Array): void {
    this.put(this.logRows, lsn, { record, bytes: encoded.byteLength, lastLsn: entryLastLsn({ lsn, record }) });
  }
  peekLog(lsn: number): { bytes: number; lastLsn: number } | undefined {
    return this.logRows.get(lsn);
  }
  dropLog(lsn: number): void {
    this.put(this.logRows, lsn, undefined);
  }
  putUndo(batch: UndoBatch): void {
    this.put(this.undoRows, batch.firstLsn, batch);
  }
  undoFrom(fromLsn: number): UndoBatch[] {
    return [...this.undoRows.values()].filter((b) => b.lastLsn >= fromLsn).sort((a, b) => a.firstLsn - b.firstLsn);
  }
  oldestUndo(): UndoBatch | undefined {
    let oldest: UndoBatch | undefined;
    for (const b of this.undoRows.values()) if (oldest === undefined || b.firstLsn < oldest.firstLsn) oldest = b;
    return oldest;
  }
  oldestUndoSpan(): { firstLsn: number; lastLsn: number } | undefined {
    const oldest = this.oldestUndo();
    return oldest && { firstLsn: oldest.firstLsn, lastLsn: oldest.lastLsn };
  }
  dropUndo(firstLsn: number): void {
    this.put(this.undoRows, firstLsn, undefined);
  }

  clearAll(): void {
    if (this.journal) {
      // A batch that wipes and then fails is rolled back to the state before the wipe.
      const saved = this.clone();
      this.journal.push(() => {
        this.queueRows = saved.queueRows;
        this.exchangeRows = saved.exchangeRows;
        this.bindingRows = saved.bindingRows;
        this.messageRows = saved.messageRows;
        this.entryRows = saved.entryRows;
        this.logRows = saved.logRows;
        this.quarantineRows = saved.quarantineRows;
        this.undoRows = saved.undoRows;
        this.dedupRows = saved.dedupRows;
      });
      this.queueRows = new Map();
      this.exchangeRows = new Map();
      this.bindingRows = new Map();
      this.messageRows = new Map();
      this.entryRows = new Map();
      this.logRows = new Map();
      this.quarantineRows = new Map();
      this.undoRows = new Map();
      this.dedupRows = new Map();
      return;
    }
    this.queueRows.clear();
    this.exchangeRows.clear();
    this.bindingRows.clear();
    this.messageRows.clear();
    this.entryRows.clear();
    this.logRows.clear();
    this.quarantineRows.clear();
    this.undoRows.clear();
    this.dedupRows.clear();
  }
}

interface Batch {
  readonly mutations: readonly Mutation[];
  readonly context: BatchContext;
}

/** Durable state of one simulated machine's store; survives MemoryStore lifetimes. */
export class MemoryDisk {
  /** @internal */ tables: MemoryTables | null = null;
  /** @internal */ isOpen = false;
  private static nextId = 1;
  /** @internal */ readonly name = `memory-disk-${MemoryDisk.nextId++}`;
}

export interface MemoryStoreOptions {
  /** true (default): a commit is durable as soon as it is committed. false: durable only after
   * flush() (the simulator decides when the disk catches up). */
  readonly autoFlush?: boolean;
  readonly logMaxBytes?: number;
  readonly logger?: StoreLogger;
  /** Seeds the store id of a new disk (deterministic simulations). */
  readonly storeId?: string;
  /** Keep undo for what this store writes itself, so that truncateAfter can take it back (a
   * cluster broker's store). Default false. */
  readonly undo?: boolean;
}

const DEFAULT_LOG_MAX_BYTES = 1024 * 1024 * 1024;

export class MemoryStore extends StoreFrontEnd implements Store, Scannable {
  private live: MemoryTables;
  protected readonly projection: Projection;
  protected nextLsn: number;
  protected messageIdCounter: number;
  protected pending: Mutation[] = [];
  private unflushed: Batch[] = [];
  private scheduled = false;
  private closed = false;
  private failNext: StoreErrorCode | null = null;
  private floorLsn: number | null = null;
  private undoFloorLsn: number | null = null;
  private readonly undo: boolean;
  protected truncateBeforeLsn = 0;
  private readonly autoFlush: boolean;
  private readonly logMaxBytes: number;
  private readonly logger: StoreLogger;

  constructor(
    private readonly disk: MemoryDisk,
    options: MemoryStoreOptions = {},
  ) {
    super();
    if (disk.isOpen) throw new StoreError('STORE_LOCKED', `${disk.name} is already open`);
    this.autoFlush = options.autoFlush ?? true;
    this.undo = options.undo ?? false;
    this.logMaxBytes = options.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES;
    this.logger = options.logger ?? silentLogger;
    if (!disk.tables) {
      disk.tables = new MemoryTables({
        storeId: options.storeId ?? `${disk.name}`,
        formatVersion: STORE_FORMAT_VERSION,
        epoch: 0,
        epochHistory: [],
        firstLsn: 1,
        lastLsn: 0,
        logBytes: 0,
        lastMessageId: 0,
        lastRole: 'standalone',
        haState: '',
        snapshotIncomplete: false,
        undoFromLsn: 1,
      });
    }
    disk.isOpen = true;
    this.live = disk.tables.clone();
    this.nextLsn = this.live.meta.lastLsn + 1;
    this.messageIdCounter = this.live.meta.lastMessageId;
    this.projection = new Projection(this.projectionSource());
  }

  protected projectionSource() {
    return { queues: () => this.queues(), exchanges: () => this.exchanges(), bindings: () => this.bindings() };
  }

  // --- test and simulator controls -----------------------------------------------------------

  /** Makes every commit so far durable (the simulated disk caught up). */
  flush(): void {
    const batches = this.unflushed;
    this.unflushed = [];
    for (const batch of batches) {
      applyBatch(this.disk.tables!, batch.mutations, batch.context);
      for (const m of batch.mutations) m.ticket.durable.resolve();
      notifyDurable(this.durableListeners, this.disk.tables!.meta.lastLsn, this.logger);
    }
  }

  /** The process dies: what was not durable is lost, every pending promise rejects with
   * STORE_CLOSED, and the disk can be opened again. */
  crash(): void {
    if (this.closed) return;
    this.closed = true;
    const err = new StoreError('STORE_CLOSED', `${this.disk.name}: the store crashed`);
    for (const m of this.takePending()) m.ticket.fail(err);
    for (const b of this.unflushed) for (const m of b.mutations) m.ticket.fail(err);
    this.unflushed = [];
    this.disk.isOpen = false;
  }

  /** The stored body of `messageId` is damaged on the simulated disk: reading it fails its
   * checksum (STORE_CORRUPT), as a flipped byte in an LMDB page does. */
  damageMessage(messageId: number): void {
    this.live.damaged.add(messageId);
    this.disk.tables?.damaged.add(messageId);
  }

  /** The next batch fails with `code` (e.g. STORE_FULL) and changes nothing. */
  failNextCommit(code: StoreErrorCode): void {
    this.failNext = code;
  }

  // --- the contract ----------------------------------------------------------------------------

  meta(): StoreMeta {
    return { ...this.live.meta, lastMessageId: Math.max(this.live.meta.lastMessageId, this.messageIdCounter) };
  }

  readLog(fromLsn: number, options: ReadLogOptions = {}): AsyncIterable<LogEntry> {
    this.checkOpen();
    checkReadable(fromLsn, this.live.meta.firstLsn);
    const toLsn = options.toLsn ?? this.live.meta.lastLsn;
    const self = this;
    const start = self.entryCovering(fromLsn);
    return (async function* () {
      let lsn = fromLsn;
      if (start && start.lsn < fromLsn) {
        // fromLsn falls inside a skip span: hand out the rest of the span.
        yield { lsn: fromLsn, record: start.record };
        lsn = start.lastLsn + 1;
      }
      while (lsn <= toLsn) {
        const row = self.live.logRows.get(lsn);
        if (!row) {
          if (lsn < self.live.meta.firstLsn) throw truncatedError(lsn, self.live.meta.firstLsn);
          if (lsn > self.live.meta.lastLsn) return;
          throw new StoreError('STORE_CORRUPT', `log entry at LSN ${lsn} is missing`);
        }
        yield { lsn, record: row.record };
        lsn = row.lastLsn + 1;
      }
    })();
  }

  /** The skip entry whose span contains lsn but does not start at it, if any. */
  private entryCovering(lsn: number): { lsn: number; record: StoreRecord; lastLsn: number } | undefined {
    if (this.live.logRows.has(lsn)) return undefined;
    for (let at = lsn - 1; at >= this.live.meta.firstLsn; at--) {
      const row = this.live.logRows.get(at);
      if (row) return row.lastLsn >= lsn ? { lsn: at, record: row.record, lastLsn: row.lastLsn } : undefined;
    }
    return undefined;
  }


  truncateLogBefore(lsn: number): Promise<void> {
    this.checkOpen();
    if (!Number.isSafeInteger(lsn) || lsn > this.nextLsn) throw new AssertionFailure(`truncateLogBefore(${lsn}): beyond the end of the log (next LSN ${this.nextLsn})`);
    this.truncateBeforeLsn = Math.max(this.truncateBeforeLsn, lsn);
    return this.metaMutation((ticket) => ({ kind: 'barrier', ticket }));
  }

  setUndoFloor(lsn: number | null): void {
    this.undoFloorLsn = lsn;
  }

  setRetentionFloor(lsn: number | null): void {
    this.floorLsn = lsn;
  }

  snapshot(): Snapshot {
    this.checkOpen();
    return snapshotFromScan(this.scan());
  }

  queues(): QueueState[] {
    return [...this.live.queueRows.values()].sort((a, b) => cmp(a.declare.queue, b.declare.queue));
  }

  queue(name: string): QueueState | undefined {
    return this.live.queueRows.get(name);
  }

  exchanges(): ExchangeDeclareRecord[] {
    return [...this.live.exchangeRows.values()].sort((a, b) => cmp(a.exchange, b.exchange));
  }

  bindings(): BindRecord[] {
    return [...this.live.bindingRows.values()].sort((a, b) => cmp(a.exchange, b.exchange) || cmp(a.queue, b.queue) || cmp(a.key, b.key));
  }

  readQueue(queue: string, afterPosition: number, limit: number): QueueEntry[] {
    const m = this.live.entryRows.get(queue);
    if (!m) return [];
    const out: QueueEntry[] = [];
    for (const position of [...m.keys()].sort((a, b) => a - b)) {
      if (position <= afterPosition) continue;
      if (out.length >= limit) break;
      const e = m.get(position)!;
      out.push({ queue, position, messageId: e.messageId, size: e.size, persistent: e.persistent, expiresAtMs: e.expiresAtMs });
    }
    return out;
  }

  readDedup(queue: string): DedupRow[] {
    const out: DedupRow[] = [];
    for (const row of this.live.dedupRows.values()) if (row.queue === queue) out.push({ seq: row.seq, id: row.id });
    return out.sort((a, b) => a.seq - b.seq);
  }

  readMessage(messageId: number): Uint8Array | undefined {
    const row = this.live.messageRows.get(messageId);
    if (row && this.live.damaged.has(messageId)) throw new StoreError('STORE_CORRUPT', `message ${messageId}: its body fails its checksum`);
    return row?.body;
  }

  listQuarantine(): QuarantinedMessage[] {
    return [...this.live.quarantineRows.values()];
  }

  lastRecovery(): RecoveryReport | null {
    return this.live.recovery;
  }

  messageRefs(messageId: number): number {
    return this.live.messageRows.get(messageId)?.info.refs ?? 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Wait for queued commits, then make everything durable: a clean shutdown loses nothing.
    while (this.pending.length > 0 || this.scheduled) await new Promise<void>((resolve) => queueMicrotask(resolve));
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.disk.isOpen = false;
  }

  scan(): StoreScan {
    return memoryScan(this.live.clone());
  }

  // --- the batch pipeline ----------------------------------------------------------------------

  protected isClosed(): boolean {
    return this.closed;
  }

  protected keep(record: StoreRecord): StoreRecord {
    return copyRecord(record);
  }

  protected keepSnapshotRecord(record: StoreRecord): StoreRecord {
    return copyRecord(record);
  }

  protected checkWritable(): void {
    this.checkOpen();
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('STORE_CLOSED', `${this.disk.name} is closed`);
  }

  protected enqueue(m: Mutation): void {
    this.pending.push(m);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.runBatch());
    }
  }

  private runBatch(): void {
    this.scheduled = false;
    if (this.closed) return;
    const mutations = this.takePending();
    if (mutations.length === 0) return;
    const batch: Batch = {
      mutations,
      context: {
        allocatedMessageId: this.messageIdCounter,
        floorLsn: this.floorLsn,
        logMaxBytes: this.logMaxBytes,
        truncateBeforeLsn: this.truncateBeforeLsn,
        dropBudget: Number.POSITIVE_INFINITY,
        undo: this.undo,
        undoFloorLsn: this.undoFloorLsn,
      },
    };
    const injected = this.failNext;
    this.failNext = null;
    let error: unknown = null;
    if (injected !== null) {
      error = new StoreError(injected, `${this.disk.name}: commit failed (${injected === 'STORE_FULL' ? 'no space left on the simulated disk' : 'simulated I/O error'}); nothing was written`);
    } else {
      const savedMeta = { ...this.live.meta };
      this.live.journal = [];
      try {
        applyBatch(this.live, batch.mutations, batch.context);
      } catch (err) {
        error = err;
        for (const undo of this.live.journal.reverse()) undo();
        this.live.meta = savedMeta;
      }
      this.live.journal = null;
    }
    if (error !== null) {
      this.logger.error({ err: error, mutations: mutations.length }, 'store batch failed');
      this.noteFull(isStoreError(error, 'STORE_FULL'), this.logger, this.disk.name);
      for (const m of mutations) m.ticket.fail(error);
      // Everything admitted after the failed batch holds LSNs that would now leave a gap.
      for (const m of this.takePending()) m.ticket.fail(error);
      this.projection.reset(this.projectionSource());
      this.giveBackLsns(this.live.meta.lastLsn, this.logger);
      return;
    }
    const entries = committedEntries(mutations);
    this.noteFull(false, this.logger, this.disk.name);
    for (const m of mutations) m.ticket.committed.resolve();
    if (entries.length > 0) {
      for (const listener of this.listeners) {
        try {
          listener(entries);
        } catch (err) {
          this.logger.error({ err }, 'onCommitted listener threw');
        }
      }
    }
    this.unflushed.push(batch);
    if (this.autoFlush) this.flush();
  }
}

export function openMemoryStore(disk: MemoryDisk, options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(disk, options);
}

// --- helpers -------------------------------------------------------------------------------------

/** Bodies are copied: the caller may reuse its buffer once commit() returns. */
function copyRecord(r: StoreRecord): StoreRecord {
  return r.kind === 'enqueue' ? { ...r, body: Uint8Array.prototype.slice.call(r.body), targets: r.targets.map((t) => ({ ...t })) } : r;
}
