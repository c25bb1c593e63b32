// The broker's write-ahead store on disk (DESIGN.md §2): one LMDB environment at
// `<data-dir>/store`, guarded by `<data-dir>/lock`. Every mutation is applied inside one LMDB
// write transaction together with its log records, so log and tables never disagree, and
// recovery is just opening the environment (no replay). Only the small tables (meta, queues,
// exchanges, bindings) are loaded at open; queue indexes are read lazily and bodies on delivery.
//
// Group commit: commit() admits the records and assigns LSNs synchronously, then queues them.
// One batch (all queued mutations) is applied in one transaction; while it commits, the next
// batch collects. With sync 'fsync' LMDB runs with overlappingSync: a transaction is visible
// (`committed`) before it is flushed, and the flush overlaps the next transaction. `durable`
// resolves only after lmdb-js reports the flush (env.flushed, captured at commit), so nothing
// is settled to a client before the data is on disk. A failed batch fails every mutation queued
// behind it and the LSNs are reused, keeping the log contiguous (onRollback listeners are told
// first, so that nothing keyed by a failed LSN meets its reuse).
//
// Tables (LMDB named databases; row layouts in layout.ts):
//   meta       'formatVersion', 'state', 'recovery'   log  LSN -> encoded record (codec.ts)
//   queues     name -> stats + declare          exchanges  name -> declare record
//   bindings   [exchange, queue, key] -> bind   messages   id -> header + body (stored once)
//   enqueues   [queue, position] -> index entry quarantine [queue, position] -> a failed message
// Every value is sealed with a CRC-32 (layout.ts, checksum.ts) and checked when read: a body
// that fails is never handed out (STORE_CORRUPT), and the broker moves it to the quarantine.

import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import { AssertionFailure, assert } from '../src/core/assert.js';
import { crashPoint } from '../src/core/crash-points.js';
import { Projection, type DedupRow, type QueueRow } from './apply.js';
import { makeDirectories } from './directories.js';
import { StoreFrontEnd } from './front-end.js';
import { applyBatch, checkReadable, committedEntries, notifyDurable, truncatedError, type Mutation } from './batch.js';
import { withEncodedBody } from './codec.js';
import { isStoreError, StoreError } from './errors.js';
import {
  checkEntryKey,
  decodeEntry,
  decodeFormatVersion,
  decodeLogValue,
  decodeLogValueToShip,
  decodeMetaState,
  decodeRecoveryReport,
  encodeMetaState,
  messageBody,
  messageRefsOf,
  checkDedupKey,
  decodeDedupRow,
} from './layout.js';
import { LmdbBatchWriter } from './lmdb-batch-writer.js';
import { EMPTY_TABLE, fast, problemOf, TABLE_NAMES, type Db, type Env, type Tables } from './lmdb-env.js';
import { classifyCommitFailure } from './commit-failure.js';
import { checkMetaPages, lmdbEnvOptions, loadBindings, loadExchanges, loadQueues } from './lmdb-open.js';
import { lmdbScan } from './lmdb-scan.js';
import { liveLockHolder, lockDataDir, type DataDirLock } from './lock.js';
import { silentLogger, type StoreLogger } from './logger.js';
import { entryLastLsn, type BindRecord, type ExchangeDeclareRecord, type LogEntry, type StoreRecord } from './record.js';
import type { QuarantinedMessage, RecoveryReport } from './recovery.js';
import type { Scannable, StoreScan } from './scan.js';
import { snapshotFromScan } from './snapshot.js';
import { decodeUndoBatch, type UndoBatch } from './undo.js';
import {
  STORE_FORMAT_VERSION,
  STORE_FORMAT_VERSION_MIN,
  type CommitTicket,
  type QueueEntry,
  type QueueState,
  type ReadLogOptions,
  type Snapshot,
  type Store,
  type StoreMeta,
  type StoreRole,
  type SyncPolicy,
} from './store.js';
import { Deferred, TicketState, type MutableMeta } from './ticket.js';

export interface LmdbStoreOptions {
  readonly dataDir: string;
  /** Tools: no lock, no writes. Refused (STORE_IN_USE) while another process holds the data
   * dir's lock, unless callerHoldsLock. Default false. */
  readonly readOnly?: boolean;
  /** The caller has taken the data dir's lock for this open (a verify child of the tool that
   * holds it): a read-only open skips its own check. */
  readonly callerHoldsLock?: boolean;
  /** The data dir's lock, already taken by the caller (the broker verifies the store under it
   * before opening); the store releases it on close or on a failed open. */
  readonly lock?: DataDirLock;
  /** 'fsync' (default): durable means flushed to disk. 'none': durable = committed (the OS
   * writes back when it likes; a machine crash can lose recent commits). */
  readonly sync?: SyncPolicy;
  /** Initial LMDB map size: address space only, the file grows as data does. lmdb-js enlarges
   * the map on demand beyond this, so it is not a size cap. Default 64 GiB. */
  readonly mapSizeBytes?: number;
  /** Retention bound of the log. Default 1 GiB. */
  readonly logMaxBytes?: number;
  /** Most log entries retention deletes per batch, unless the batch adds more (then twice what
   * it adds), so that it never stalls commits and still keeps up. Default 4096. */
  readonly dropPerBatchMax?: number;
  readonly logger?: StoreLogger;
  /** Keep undo for what this store writes itself, so that truncateAfter can take it back (a
   * cluster broker's store: undo.ts). Default false. */
  readonly undo?: boolean;
}

export const DEFAULT_MAP_SIZE_BYTES = 64 * 1024 ** 3;
export const DEFAULT_LOG_MAX_BYTES = 1024 ** 3;
const DEFAULT_DROP_PER_BATCH_MAX = 4096;

function logEntriesIn(mutations: readonly Mutation[]): number {
  let n = 0;
  for (const m of mutations) if (m.kind === 'log') n += m.entries.length;
  return n;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Opens (creating if needed, unless read-only) the store of a data dir. Throws StoreError:
 * STORE_LOCKED, STORE_NEWER_FORMAT, STORE_CORRUPT, STORE_NOT_FOUND (read-only), STORE_IO. */
export function openLmdbStore(options: LmdbStoreOptions): LmdbStore {
  const logger = options.logger ?? silentLogger;
  const readOnly = options.readOnly ?? false;
  const storeDir = join(options.dataDir, 'store');
  if (readOnly) {
    if (!existsSync(join(storeDir, 'data.mdb'))) throw new StoreError('STORE_NOT_FOUND', `no store at ${storeDir}`);
    // Opening an LMDB environment from a second process while its writer commits can lose the
    // writer's records or crash it (lmdb 2.9 and 3.x; store/README.md, "Reading a live store").
    // A live store is read through the process that holds it, never opened beside it.
    const holder = options.callerHoldsLock ? null : liveLockHolder(options.dataDir);
    if (holder !== null) {
      throw new StoreError('STORE_IN_USE', `store at ${storeDir} is open for writing by pid ${holder}; a second process must not open it (ask that broker: qpid-store does)`);
    }
  } else {
    // Not mkdirSync's recursive mode: it loops forever on /proc (directories.ts).
    try {
      makeDirectories(options.dataDir);
    } catch (err) {
      throw new StoreError('STORE_IO', `cannot create the data dir ${options.dataDir}: ${(err as Error).message}`, { cause: err });
    }
  }
  const lock = readOnly ? null : (options.lock ?? lockDataDir(options.dataDir, logger));
  let env: Env | null = null;
  try {
    checkMetaPages(join(storeDir, 'data.mdb'));
    const sync = options.sync ?? 'fsync';
    env = open(lmdbEnvOptions(storeDir, readOnly, sync, options.mapSizeBytes ?? DEFAULT_MAP_SIZE_BYTES) as never) as unknown as Env;
    return new LmdbStore(env, lock, options, storeDir, readOnly, sync, logger);
  } catch (err) {
    if (env) void env.close().catch(() => {});
    lock?.release();
    if (isStoreError(err) || err instanceof AssertionFailure) throw err;
    throw new StoreError('STORE_IO', `cannot open store at ${storeDir}: ${(err as Error).message}`, { cause: err });
  }
}

export class LmdbStore extends StoreFrontEnd implements Store, Scannable {
  readonly dataDir: string;
  readonly storeDir: string;
  readonly readOnly: boolean;
  private readonly t: Tables;
  private readonly logMaxBytes: number;
  private readonly dropPerBatchMax: number;
  private readonly undo: boolean;
  private undoFloorLsn: number | null = null;

  // Committed state (what readers see); batches publish into it when their transaction commits.
  /** @internal */ committedMeta: MutableMeta;
  /** @internal */ queueRows: Map<string, QueueRow>;
  /** @internal */ exchangeRows: Map<string, ExchangeDeclareRecord>;
  /** @internal */ bindingRows: Map<string, BindRecord>;

  protected readonly projection: Projection;
  protected nextLsn: number;
  protected messageIdCounter: number;
  protected pending: Mutation[] = [];
  private inflight = false;
  private failing = false;
  private scheduled = false;
  private moreToDrop = false;
  private closing = false;
  private closed = false;
  private batchSeq = 0;
  private floorLsn: number | null = null;
  protected truncateBeforeLsn = 0;
  private truncateWaiters: Array<{ afterBatch: number; deferred: Deferred }> = [];
  private idleWaiters: Array<() => void> = [];
  private durableChain: Promise<void> = Promise.resolve();
  private batchesCommitted = 0;
  private entriesCommitted = 0;

  /** @internal */
  constructor(
    private readonly env: Env,
    private readonly lock: DataDirLock | null,
    options: LmdbStoreOptions,
    storeDir: string,
    readOnly: boolean,
    private readonly sync: SyncPolicy,
    private readonly logger: StoreLogger,
  ) {
    super();
    this.dataDir = options.dataDir;
    this.storeDir = storeDir;
    this.readOnly = readOnly;
    this.logMaxBytes = options.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES;
    this.dropPerBatchMax = options.dropPerBatchMax ?? DEFAULT_DROP_PER_BATCH_MAX;
    this.undo = options.undo ?? false;

    const meta = env.openDB({ name: 'meta', encoding: 'binary', keyEncoding: 'ordered-binary' });
    if (!meta) throw new StoreError('STORE_NOT_FOUND', `store at ${storeDir} has no meta table (it was never initialised)`);
    const formatBytes = meta.getBinary('formatVersion');
    let formatVersion = STORE_FORMAT_VERSION;
    if (formatBytes !== undefined) {
      formatVersion = decodeFormatVersion(formatBytes, `store at ${storeDir}`);
      // Checked before any other table is touched: a newer store is left exactly as it was.
      if (formatVersion > STORE_FORMAT_VERSION) {
        throw new StoreError('STORE_NEWER_FORMAT', `store at ${storeDir} has format version ${formatVersion}; this broker understands up to ${STORE_FORMAT_VERSION}`);
      }
      // Format 1 had no checksums. It is refused, not upgraded: an upgrade would seal whatever
      // the file holds now, blessing any damage it already has (issue 16 found such damage
      // delivered as if sound), and no release ever wrote format 1.
      if (formatVersion < STORE_FORMAT_VERSION_MIN) {
        throw new StoreError(
          'STORE_OLDER_FORMAT',
          `store at ${storeDir} has format version ${formatVersion}, written before stores carried checksums; this broker reads only formats ${STORE_FORMAT_VERSION_MIN}-${STORE_FORMAT_VERSION}. Drain its queues with the broker that wrote it, or move the data dir aside to start empty`,
        );
      }
    }
    const tables: Partial<Tables> = { meta };
    for (const name of TABLE_NAMES) {
      if (name === 'meta') continue;
      const db = env.openDB({ name, encoding: 'binary', keyEncoding: 'ordered-binary' });
      // A format 2 store has no dedup table: read-only, it reads as empty.
      if (!db && name === 'dedup' && readOnly && formatVersion < 3) {
        tables[name] = EMPTY_TABLE;
        continue;
      }
      if (!db) throw new StoreError('STORE_CORRUPT', `store at ${storeDir} has no ${name} table`);
      tables[name] = db;
    }
    this.t = tables as Tables;
    if (formatBytes !== undefined && formatVersion < STORE_FORMAT_VERSION && !readOnly) {
      // Format 2 -> 3 adds only the dedup table, which openDB has just created empty.
      env.transactionSync(() => {
        meta.putSync('formatVersion', Buffer.from(String(STORE_FORMAT_VERSION)));
      });
      logger.info({ store: storeDir, from: formatVersion, to: STORE_FORMAT_VERSION }, 'store format upgraded');
      formatVersion = STORE_FORMAT_VERSION;
    }

    const stateBytes = meta.getBinary('state');
    if (formatBytes === undefined || stateBytes === undefined) {
      if (formatBytes !== undefined || stateBytes !== undefined || [...this.t.log.getKeys({ limit: 1 })].length > 0 || [...this.t.queues.getKeys({ limit: 1 })].length > 0) {
        throw new StoreError('STORE_CORRUPT', `store at ${storeDir}: meta table key '${formatBytes === undefined ? 'formatVersion' : 'state'}' is missing`);
      }
      if (readOnly) throw new StoreError('STORE_NOT_FOUND', `store at ${storeDir} was never initialised`);
      this.committedMeta = {
        storeId: randomUUID(),
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
      };
      const state = encodeMetaState(this.committedMeta);
      env.transactionSync(() => {
        meta.putSync('formatVersion', Buffer.from(String(STORE_FORMAT_VERSION)));
        meta.putSync('state', state);
      });
      logger.info({ store: storeDir, storeId: this.committedMeta.storeId }, 'created store');
    } else {
      this.committedMeta = decodeMetaState(stateBytes, formatVersion, `store at ${storeDir}`);
    }
    this.queueRows = loadQueues(this.t.queues);
    this.exchangeRows = loadExchanges(this.t.exchanges);
    this.bindingRows = loadBindings(this.t.bindings);
    this.nextLsn = this.committedMeta.lastLsn + 1;
    this.messageIdCounter = this.committedMeta.lastMessageId;
    this.projection = new Projection(this.projectionSource());
    if (this.committedMeta.snapshotIncomplete) {
      logger.warn({ store: storeDir }, 'store holds an incomplete snapshot; it must be wiped and resynced');
    }
  }

  protected projectionSource() {
    return { queues: () => this.queueRows.values(), exchanges: () => this.exchangeRows.values(), bindings: () => this.bindingRows.values() };
  }

  // --- the contract ----------------------------------------------------------------------------

  meta(): StoreMeta {
    return { ...this.committedMeta, lastMessageId: Math.max(this.committedMeta.lastMessageId, this.messageIdCounter) };
  }

  readLog(fromLsn: number, options: ReadLogOptions = {}): AsyncIterable<LogEntry> {
    this.checkOpen();
    checkReadable(fromLsn, this.committedMeta.firstLsn);
    const toLsn = options.toLsn ?? this.committedMeta.lastLsn;
    const log = this.t.log;
    const self = this;
    return (async function* () {
      let next = fromLsn;
      // fromLsn may fall inside a skip span that starts earlier: hand out the rest of it.
      if (fast(log, fromLsn) === undefined) {
        for (const { key, value } of log.getRange({ start: fromLsn - 1, reverse: true, limit: 1 })) {
          const lsn = key as number;
          const record = decodeLogValue(lsn, value);
          const last = entryLastLsn({ lsn, record });
          if (last >= fromLsn && lsn >= self.committedMeta.firstLsn) {
            yield { lsn: fromLsn, record };
            next = last + 1;
          }
        }
      }
      while (next <= toLsn) {
        self.checkOpen();
        // Materialised in chunks: no cursor stays open across the consumer's awaits.
        const chunk = [...log.getRange({ start: next, end: toLsn + 1, limit: 256 })];
        if (chunk.length === 0) {
          if (next < self.committedMeta.firstLsn) throw truncatedError(next, self.committedMeta.firstLsn);
          if (next > self.committedMeta.lastLsn) return;
          throw new StoreError('STORE_CORRUPT', `log entry at LSN ${next} is missing (the log runs to ${self.committedMeta.lastLsn})`);
        }
        for (const { key, value } of chunk) {
          const lsn = key as number;
          if (lsn !== next) {
            if (next < self.committedMeta.firstLsn) throw truncatedError(next, self.committedMeta.firstLsn);
            throw new StoreError('STORE_CORRUPT', `log entry at LSN ${next} is missing (next entry is at ${lsn})`);
          }
          const record = decodeLogValueToShip(lsn, value);
          yield { lsn, record };
          next = entryLastLsn({ lsn, record }) + 1;
        }
      }
    })();
  }

  truncateLogBefore(lsn: number): Promise<void> {
    this.checkWritable();
    if (!Number.isSafeInteger(lsn) || lsn > this.nextLsn) throw new AssertionFailure(`truncateLogBefore(${lsn}): beyond the end of the log (next LSN ${this.nextLsn})`);
    this.truncateBeforeLsn = Math.max(this.truncateBeforeLsn, lsn);
    const deferred = new Deferred();
    // Only a batch that starts after this call knows the new target.
    this.truncateWaiters.push({ afterBatch: this.batchSeq + 1, deferred });
    this.moreToDrop = true;
    this.kick();
    return deferred.promise;
  }

  /** Pruning rides on the next batch: a floor that moves with every confirmation must not cost
   * a transaction (and a flush) of its own. */
  setUndoFloor(lsn: number | null): void {
    this.undoFloorLsn = lsn;
  }

  setRetentionFloor(lsn: number | null): void {
    this.floorLsn = lsn;
    if (!this.readOnly && !this.closing) {
      this.moreToDrop = true;
      this.kick();
    }
  }

  snapshot(): Snapshot {
    this.checkOpen();
    return snapshotFromScan(this.scan());
  }

  queues(): QueueState[] {
    return [...this.queueRows.values()].sort((a, b) => cmp(a.declare.queue, b.declare.queue));
  }

  queue(name: string): QueueState | undefined {
    return this.queueRows.get(name);
  }

  exchanges(): ExchangeDeclareRecord[] {
    return [...this.exchangeRows.values()].sort((a, b) => cmp(a.exchange, b.exchange));
  }

  bindings(): BindRecord[] {
    return [...this.bindingRows.values()].sort((a, b) => cmp(a.exchange, b.exchange) || cmp(a.queue, b.queue) || cmp(a.key, b.key));
  }

  readQueue(queue: string, afterPosition: number, limit: number): QueueEntry[] {
    this.checkOpen();
    const out: QueueEntry[] = [];
    if (limit <= 0) return out;
    for (const { key, value } of this.t.enqueues.getRange({ start: [queue, Math.floor(afterPosition) + 1], end: [queue, Infinity], limit })) {
      let position: number;
      try {
        position = checkEntryKey(key).position;
      } catch {
        // A key that is not [queue, position] inside this queue's range: the page is damaged.
        // Nothing here can be quarantined by position; verify names it.
        this.logger.error({ store: this.storeDir, queue, key: JSON.stringify(key) }, 'index entry with a garbled key skipped');
        continue;
      }
      try {
        const e = decodeEntry(value, { queue, position });
        out.push({ queue, position, messageId: e.messageId, size: e.size, persistent: e.persistent, expiresAtMs: e.expiresAtMs });
      } catch (err) {
        out.push({ queue, position, messageId: 0, size: 0, persistent: true, expiresAtMs: null, damaged: problemOf(err) });
      }
    }
    return out;
  }

  readDedup(queue: string): DedupRow[] {
    this.checkOpen();
    const out: DedupRow[] = [];
    for (const { key, value } of this.t.dedup.getRange({ start: [queue], end: [queue, Infinity] })) {
      try {
        out.push(decodeDedupRow(value, checkDedupKey(key)));
      } catch (err) {
        // One lost id only shortens the window; verify names the row.
        this.logger.error({ store: this.storeDir, queue, key: JSON.stringify(key), err: problemOf(err) }, 'dedup row skipped');
      }
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  readMessage(messageId: number): Uint8Array | undefined {
    this.checkOpen();
    const row = this.t.messages.getBinary(messageId);
    if (row === undefined) return undefined;
    return messageBody(row, messageId);
  }

  messageRefs(messageId: number): number {
    this.checkOpen();
    const row = fast(this.t.messages, messageId);
    return row === undefined ? 0 : messageRefsOf(row, messageId);
  }

  async close(): Promise<void> {
    if (this.closing) {
      while (!this.closed) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      return;
    }
    this.closing = true;
    while (this.inflight || this.failing || this.scheduled || this.pending.length > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    await this.durableChain;
    for (const w of this.truncateWaiters) w.deferred.reject(new StoreError('STORE_CLOSED', `store at ${this.storeDir} closed before the log was truncated`));
    this.truncateWaiters = [];
    await this.env.close();
    this.lock?.release();
    this.closed = true;
    this.wakeIdle();
  }

  /** Counters since open: committed batches (each one LMDB transaction, and with sync 'fsync'
   * one flush) and log entries. The benchmark divides one by the other (records per fsync). */
  stats(): { batches: number; entries: number } {
    return { batches: this.batchesCommitted, entries: this.entriesCommitted };
  }

  scan(): StoreScan {
    this.checkOpen();
    return lmdbScan(this.env, this.t, this.storeDir, this.committedMeta.formatVersion);
  }

  listQuarantine(): QuarantinedMessage[] {
    const scan = this.scan();
    try {
      return [...scan.quarantine()];
    } finally {
      scan.close();
    }
  }

  lastRecovery(): RecoveryReport | null {
    this.checkOpen();
    const bytes = this.t.meta.getBinary('recovery');
    if (bytes === undefined) return null;
    const report = decodeRecoveryReport(bytes);
    return 'problem' in report ? null : report;
  }


  // --- the batch pipeline ----------------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new StoreError('STORE_CLOSED', `store at ${this.storeDir} is closed`);
  }

  protected isClosed(): boolean {
    return this.closed;
  }

  protected keep(record: StoreRecord, encoded: Uint8Array): StoreRecord {
    return withEncodedBody(record, encoded);
  }

  protected keepSnapshotRecord(record: StoreRecord): StoreRecord {
    // Bodies are copied: the caller may reuse its buffers (a network frame) once this returns.
    return record.kind === 'enqueue' ? { ...record, body: Buffer.from(record.body) } : record;
  }

  protected checkWritable(): void {
    if (this.closing || this.closed) throw new StoreError('STORE_CLOSED', `store at ${this.storeDir} is closed`);
    if (this.readOnly) throw new StoreError('STORE_READ_ONLY', `store at ${this.storeDir} was opened read-only`);
  }

  protected enqueue(m: Mutation): void {
    this.pending.push(m);
    this.kick();
  }

  /** Starts a batch if none is running. The batch takes its mutations only when lmdb-js runs
   * its transaction callback (after a hop to the write thread), so every commit made until then
   * joins it: that wait is the group-commit window, at no added latency. */
  private kick(): void {
    if (this.inflight || this.failing || this.scheduled || this.closed) return;
    if (this.pending.length === 0 && !this.moreToDrop) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.runBatch();
    });
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private runBatch(): void {
    if (this.inflight || this.failing || this.closed) return;
    if (this.pending.length === 0 && (!this.moreToDrop || this.closing)) {
      this.wakeIdle();
      return;
    }
    this.inflight = true;
    const seq = ++this.batchSeq;
    const writer = new LmdbBatchWriter(this.t, this);
    let mutations: Mutation[] = [];
    let moreToDrop = false;
    let txn: Promise<unknown>;
    crashPoint('store.before-commit');
    try {
      txn = this.env.childTransaction(() => {
        mutations = this.takePending();
        const context = {
          allocatedMessageId: this.messageIdCounter,
          floorLsn: this.floorLsn,
          logMaxBytes: this.logMaxBytes,
          truncateBeforeLsn: this.truncateBeforeLsn,
          undo: this.undo,
          undoFloorLsn: this.undoFloorLsn,
          // Twice the entries this batch adds: a log over its bound shrinks, however it is fed.
          dropBudget: this.closing ? 0 : Math.max(this.dropPerBatchMax, 2 * logEntriesIn(mutations)),
        };
        const applied = applyBatch(writer, mutations, context);
        moreToDrop = applied.moreToDrop;
        // Inside the write transaction: a kill here takes nothing back; the backup truncates
        // again when it rejoins.
        if (applied.tookBack) crashPoint('ha.backup.mid-truncate');
        writer.finish();
      });
    } catch (err) {
      txn = Promise.reject(err);
    }
    txn.then(
      () => this.batchCommitted(seq, mutations, writer, moreToDrop),
      (err: unknown) => this.batchFailed(mutations, err),
    );
  }

  private batchCommitted(seq: number, mutations: readonly Mutation[], writer: LmdbBatchWriter, moreToDrop: boolean): void {
    writer.publish(this);
    this.batchesCommitted++;
    this.noteFull(false, this.logger, this.storeDir);
    crashPoint('store.after-commit-before-flush');
    // Captured now, before the next batch queues its writes: lmdb-js's `flushed` then means
    // "this transaction is on disk".
    const flushed: Promise<void> =
      this.sync === 'fsync'
        ? new Promise<void>((resolve, reject) => {
            this.env.flushed.then(() => resolve(), reject);
          })
        : Promise.resolve();
    const durableLsn = this.committedMeta.lastLsn;
    const durable = Promise.all([this.durableChain, flushed]).then(
      () => {
        crashPoint('store.after-flush-before-settle');
        for (const m of mutations) m.ticket.durable.resolve();
        notifyDurable(this.durableListeners, durableLsn, this.logger);
      },
      (err: unknown) => {
        const e = new StoreError('STORE_IO', `store at ${this.storeDir}: flush failed: ${String(err)}`, { cause: err });
        for (const m of mutations) m.ticket.fail(e);
      },
    );
    this.durableChain = durable;
    const entries = committedEntries(mutations);
    this.entriesCommitted += entries.length;
    if (entries.length > 0) {
      for (const listener of this.listeners) {
        try {
          listener(entries);
        } catch (err) {
          this.logger.error({ err }, 'onCommitted listener threw');
        }
      }
    }
    for (const m of mutations) m.ticket.committed.resolve();
    this.moreToDrop = moreToDrop;
    if (!moreToDrop) {
      const done = this.truncateWaiters.filter((w) => w.afterBatch <= seq);
      this.truncateWaiters = this.truncateWaiters.filter((w) => w.afterBatch > seq);
      if (done.length > 0) void durable.then(() => done.forEach((w) => w.deferred.resolve()));
    }
    this.inflight = false;
    if (this.pending.length > 0 || (moreToDrop && !this.closing)) this.runBatch();
    else this.wakeIdle();
  }

  private batchFailed(mutations: readonly Mutation[], err: unknown): void {
    // Everything queued behind the failed batch holds LSNs that would now leave a gap: it fails
    // too, and the next commit reuses LSNs from the last committed one.
    this.failing = true;
    const failed = [...mutations, ...this.takePending()];
    this.projection.reset(this.projectionSource());
    this.giveBackLsns(this.committedMeta.lastLsn, this.logger);
    void classifyCommitFailure(err, mutations, this.storeDir).then((error) => {
      this.logger.error({ err: error, store: this.storeDir, mutations: failed.length }, 'store commit failed');
      this.noteFull(isStoreError(error, 'STORE_FULL'), this.logger, this.storeDir);
      for (const m of failed) m.ticket.fail(error);
      this.failing = false;
      this.inflight = false;
      if (this.pending.length > 0) this.kick();
      else this.wakeIdle();
    });
  }
}
