// How the broker opens LMDB, and what it reads before and right after: the environment's
// options (each one a decision about durability or layout, with its reason), the check of the
// meta pages before LMDB trusts them, and the small catalog tables loaded whole at open.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { QueueRow } from './apply.js';
import { StoreError } from './errors.js';
import { decodeBindingRow, decodeExchangeRow, decodeQueueRow } from './layout.js';
import { bindingCacheKey, type Db } from './lmdb-env.js';
import { META_HEAD_BYTES, metaPagesProblem } from './lmdb-meta-pages.js';
import type { BindRecord, ExchangeDeclareRecord } from './record.js';
import type { SyncPolicy } from './store.js';

/** The options lmdb-js's open() gets for a broker's store directory. */
export function lmdbEnvOptions(storeDir: string, readOnly: boolean, sync: SyncPolicy, mapSizeBytes: number): Record<string, unknown> {
  return {
    path: storeDir,
    readOnly,
    // Nine tables; LMDB reserves a slot per possible table.
    maxDbs: 16,
    // Each broker plus a few tools reading at the same time.
    maxReaders: 126,
    mapSize: mapSizeBytes,
    // The OS page size: a 1 KiB message and its key fit on one page.
    pageSize: 4096,
    // fsync: commit (visible) before flush, the flush overlapping the next transaction;
    // 'durable' waits for the flush. Read-only openers never sync.
    overlappingSync: !readOnly && sync === 'fsync',
    noSync: !readOnly && sync === 'none',
    // Meta pages are synced with the data: a crash can never leave a meta ahead of its data.
    noMetaSync: false,
    // Child transactions (batch rollback) need the write map off; it also keeps a stray
    // pointer from scribbling on the file.
    useWritemap: false,
    // Zero fresh pages so freed data never leaks into unused parts of the file.
    noMemInit: false,
    noReadAhead: false,
    remapChunks: false,
    // Bodies are opaque AMQP bytes; compression would cost the write path more than it saves.
    compression: false,
    // Every value is our own binary layout; keys use lmdb's ordered-binary (numbers and
    // [string, number] arrays sort naturally).
    encoding: 'binary',
    keyEncoding: 'ordered-binary',
    cache: false,
    // We form batches ourselves (group commit), and with event-turn batching a failed commit
    // leaves an internal promise rejected with nobody to handle it.
    eventTurnBatching: false,
    commitDelay: 0,
    // After a process crash, use the latest committed transaction (the page cache has it);
    // after an OS crash lmdb-js falls back to the latest flushed one by itself.
    safeRestore: false,
    separateFlushed: false,
    trackMetrics: false,
  };
}

/** Refuses a file whose LMDB meta pages are not a sound pair (lmdb-meta-pages.ts) before LMDB
 * opens it. (Damage deeper in the tree is what checksums and `qpid-store verify` are for.) */
export function checkMetaPages(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return; // no file yet: LMDB creates it
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, META_HEAD_BYTES));
    readSync(fd, head, 0, head.length, 0);
    const problem = metaPagesProblem(head, size);
    if (problem !== null) throw new StoreError('STORE_CORRUPT', `store file ${file} is corrupt: ${problem}`);
  } finally {
    closeSync(fd);
  }
}

/** Reads the queues table (small: one row per queue) into a map. */
export function loadQueues(db: Db): Map<string, QueueRow> {
  const out = new Map<string, QueueRow>();
  for (const { key, value } of db.getRange({})) {
    if (typeof key !== 'string') throw new StoreError('STORE_CORRUPT', `queues table has a malformed key ${JSON.stringify(key)}`);
    out.set(key, decodeQueueRow(value, key));
  }
  return out;
}

export function loadExchanges(db: Db): Map<string, ExchangeDeclareRecord> {
  const out = new Map<string, ExchangeDeclareRecord>();
  for (const { key, value } of db.getRange({})) {
    const r = decodeExchangeRow(value, key);
    out.set(r.exchange, r);
  }
  return out;
}

export function loadBindings(db: Db): Map<string, BindRecord> {
  const out = new Map<string, BindRecord>();
  for (const { key, value } of db.getRange({})) {
    const r = decodeBindingRow(value, key);
    out.set(bindingCacheKey(r.exchange, r.queue, r.key), r);
  }
  return out;
}

