// What a failed group commit becomes for the producers waiting on it. LMDB reports a full disk
// in several ways (ENOSPC, MDB_MAP_FULL, or EIO from a short write), so the free space decides.
import { statfsSync } from 'node:fs';
import { AssertionFailure } from '../src/core/assert.js';
import { committedEntries, type Mutation } from './batch.js';
import { isStoreError, StoreError } from './errors.js';
import { entryLastLsn } from './record.js';

/** Free space below which a failed commit is reported as a full disk (STORE_FULL): LMDB turns
 * a short write into EIO, so the errno alone cannot tell. */
const FULL_DISK_FREE_BYTES = 16 * 1024 * 1024;
const MDB_MAP_FULL = -30792;

/** Turns a failed LMDB transaction into the error callers see: STORE_FULL when the disk or the
 * map is full, STORE_IO otherwise (a StoreError or a broken assertion passes through). */
export async function classifyCommitFailure(err: unknown, mutations: readonly Mutation[], storeDir: string): Promise<unknown> {
  if (isStoreError(err) || err instanceof AssertionFailure) return err;
  let cause: unknown = err;
  const commitError = (err as { commitError?: Promise<unknown> } | null)?.commitError;
  if (commitError && typeof commitError.then === 'function') cause = await commitError.then(() => err, (e: unknown) => e);
  const code = (cause as { code?: unknown } | null)?.code;
  let freeBytes = Number.POSITIVE_INFINITY;
  try {
    const s = statfsSync(storeDir);
    freeBytes = Number(s.bavail) * Number(s.bsize);
  } catch {
    // Unknown free space: classify by the error code alone.
  }
  const lsns = committedEntries(mutations);
  const what = lsns.length > 0 ? `commit of LSNs ${lsns[0]!.lsn}..${entryLastLsn(lsns[lsns.length - 1]!)}` : 'commit';
  const full = code === 'ENOSPC' || code === 28 || code === MDB_MAP_FULL || code === 'EDQUOT' || code === 'EFBIG' || freeBytes < FULL_DISK_FREE_BYTES;
  if (full) {
    return new StoreError('STORE_FULL', `store at ${storeDir} is full (${freeBytes === Number.POSITIVE_INFINITY ? 'free space unknown' : `${freeBytes} bytes free`}): ${what} failed and changed nothing`, { cause });
  }
  return new StoreError('STORE_IO', `store at ${storeDir}: ${what} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}
