// Expected failures of the store, each with a stable code. Callers (the broker, the tools)
// branch on `code`, never on message text; the text names what is wrong for the operator.
// A broken invariant inside the store is not a StoreError: it is an assertion and crashes.

export type StoreErrorCode =
  | 'STORE_LOCKED' // another live process holds <data-dir>/lock
  | 'STORE_IN_USE' // a read-only open of a store another live process has open for writing
  | 'STORE_NEWER_FORMAT' // written by a newer format version than this code understands
  | 'STORE_OLDER_FORMAT' // written by an older format (1: no checksums) that this code refuses
  | 'STORE_CORRUPT' // a record or table entry failed validation, or tables disagree with the log
  | 'STORE_FULL' // the disk or the LMDB map is full; the commit failed and changed nothing
  | 'STORE_IO' // any other I/O failure during a commit or open
  | 'STORE_CLOSED' // the store was closed (or crashed) before the operation completed
  | 'STORE_NOT_FOUND' // no store at the data dir (read-only tools only)
  | 'STORE_LSN_GAP' // replicated records do not continue the local log
  | 'STORE_LOG_TRUNCATED' // readLog asked for entries the retention policy already dropped
  | 'STORE_UNDO_MISSING' // truncateAfter past entries that have no undo (copied, or pruned): resync
  | 'STORE_READ_ONLY'; // a mutation was attempted on a store opened read-only

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}
