// The small surface of lmdb-js the LMDB store uses (its bundled types are loose), and the tables
// of one environment. Shared by lmdb-store.ts, its batch writer and its scan.

export interface Db {
  getBinary(key: unknown, options?: { transaction?: unknown }): Buffer | undefined;
  getBinaryFast(key: unknown, options?: { transaction?: unknown }): Buffer | undefined;
  getRange(options: { start?: unknown; end?: unknown; limit?: number; reverse?: boolean; transaction?: unknown }): Iterable<{ key: unknown; value: Buffer }>;
  getKeys(options: { start?: unknown; end?: unknown; limit?: number; transaction?: unknown }): Iterable<unknown>;
  putSync(key: unknown, value: Uint8Array, options?: { append?: boolean }): boolean;
  removeSync(key: unknown): boolean;
  clearSync(): void;
  getStats(): { entryCount: number };
}

export interface Env extends Db {
  openDB(options: Record<string, unknown>): Db | undefined;
  childTransaction(callback: () => void): Promise<unknown>;
  transactionSync(callback: () => void): unknown;
  useReadTransaction(): { done(): void };
  readonly flushed: PromiseLike<unknown>;
  close(): Promise<void>;
}

export interface Tables {
  meta: Db;
  log: Db;
  queues: Db;
  exchanges: Db;
  bindings: Db;
  messages: Db;
  enqueues: Db;
  /** [queue, position] -> a message taken off its queue because it failed its checksum. */
  quarantine: Db;
  /** Undo batches by their first LSN (undo.ts), JSON. */
  undo: Db;
  /** [queue, slot] -> the message-id that slot of the queue's dedup window holds (format 3). */
  dedup: Db;
}

export const TABLE_NAMES = ['meta', 'log', 'queues', 'exchanges', 'bindings', 'messages', 'enqueues', 'quarantine', 'undo', 'dedup'] as const;

/** A table a format 2 store opened read-only does not have yet: empty. */
export const EMPTY_TABLE: Db = {
  getBinary: () => undefined,
  getBinaryFast: () => undefined,
  getRange: () => [],
  getKeys: () => [],
  putSync: () => {
    throw new Error('the empty stand-in table cannot be written');
  },
  removeSync: () => false,
  clearSync: () => {},
  getStats: () => ({ entryCount: 0 }),
};

/** lmdb-js's getBinaryFast returns a shared buffer whose byteLength is the whole scratch area
 * (only `length` is the value's): cut it down to a proper view, valid until the next read. */
export function fast(db: Db, key: unknown, options?: { transaction?: unknown }): Buffer | undefined {
  const row = db.getBinaryFast(key, options);
  return row === undefined ? undefined : row.subarray(0, row.length);
}

export function bindingCacheKey(exchange: string, queue: string, key: string): string {
  return JSON.stringify([exchange, queue, key]);
}

export function problemOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
