// The store's only entry point (STYLE.md module map): the contract, both implementations, the
// codec, verification and inspection. Nothing else in store/ is imported from outside.

export * from './record.js';
export * from './store.js';
export * from './errors.js';
export { historyConflict, historyUpTo, latestEpoch, withEpochStart, EPOCH_HISTORY_MAX, type EpochStart } from './epoch-history.js';
export type { StoreLogger } from './logger.js';
export { silentLogger } from './logger.js';
export {
  decodeLogEntries,
  decodeRecord,
  decodeRecords,
  encodedRecordBytes,
  encodeLogEntries,
  encodeRecord,
  encodeRecords,
  RECORD_FORMAT_VERSION,
} from './codec.js';
export { BUILT_IN_EXCHANGES, DEDUP_ID_BYTES_MAX, NAME_BYTES_MAX, type DedupRow } from './apply.js';
export { DEFAULT_LOG_MAX_BYTES, DEFAULT_MAP_SIZE_BYTES, LmdbStore, openLmdbStore, type LmdbStoreOptions } from './lmdb-store.js';
export { MemoryDisk, MemoryStore, openMemoryStore, type MemoryStoreOptions } from './memory-store.js';
export type { Scannable, StoreScan } from './scan.js';
export { takeFrame } from './records-frame.js';
export { verifyQuick, verifyStore, verifyStoreYielding, verifyDataDir, type Violation, type VerifyProgress } from './verify.js';
export { verifyInChild } from './verify-process.js';
export { LOST_LISTED_MAX, withLost, type LostMessage, type QuarantinedMessage, type RecoveryReport, type VerifyLevel } from './recovery.js';
export { CHECKSUMS_BUILT_IN } from './checksum-build.js';
export {
  answerInspect,
  inspectSummary,
  listLog,
  listMessages,
  NoSuchQueueError,
  VIOLATIONS_SHOWN_MAX,
  type InspectAnswer,
  type InspectRequest,
  type StoreSummary,
  type SummaryList,
  type MessageListing,
  type LogListing,
} from './inspect.js';
export { liveLockHolder, lockDataDir, lockFilePid, type DataDirLock } from './lock.js';
export { DirectoryError, makeDirectories, missingDirectories } from './directories.js';
export { SpaceReserve } from './reserve.js';
export { diffStores, historyDivergence, type DiffQueue, type DiffVerdict, type QueueDifference, type StoreDiff, type StoreView } from './diff.js';
