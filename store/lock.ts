// The data dir's lock file (DESIGN.md §2): `<data-dir>/lock` holds the pid of the broker that
// has the store open for writing. It is created atomically with its content (written to a
// private temporary file, then hard-linked into place, which fails if the lock exists), so a
// reader never sees an empty lock file from a live owner. A lock whose pid is dead is stale and
// is taken over, with a warning. A second opener fails with STORE_LOCKED and touches nothing.

import { closeSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from './errors.js';
import type { StoreLogger } from './logger.js';

/** Lock files this process holds: a second open in the same process is refused too. */
const heldByThisProcess = new Set<string>();

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else; it is alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(path: string): number | null | 'missing' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

function lockedError(path: string, pid: number): StoreError {
  return new StoreError('STORE_LOCKED', `Cannot lock ${path}: held by pid ${pid}`);
}

/** The pid of the live process other than this one that holds `<dataDir>/lock`, or null. */
export function liveLockHolder(dataDir: string): number | null {
  const path = join(dataDir, 'lock');
  if (heldByThisProcess.has(path)) return null;
  const pid = readPid(path);
  return typeof pid === 'number' && pid !== process.pid && pidAlive(pid) ? pid : null;
}

/** Takes `<dataDir>/lock` or throws STORE_LOCKED. */
export function lockDataDir(dataDir: string, logger: StoreLogger): DataDirLock {
  const path = join(dataDir, 'lock');
  if (heldByThisProcess.has(path)) throw lockedError(path, process.pid);
  const temp = join(dataDir, `.lock.${process.pid}.${Date.now()}`);
  const fd = openSync(temp, 'wx', 0o644);
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    // Two attempts: the second after removing a stale lock.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(temp, path);
        heldByThisProcess.add(path);
        return {
          path,
          release() {
            if (!heldByThisProcess.delete(path)) return;
            try {
              if (readPid(path) === process.pid) unlinkSync(path);
            } catch {
              // Already gone: nothing to release.
            }
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const pid = readPid(path);
      if (pid === 'missing') continue;
      // A pid equal to ours that this process does not hold is a previous life of a container's
      // pid 1 (or a reused pid): stale.
      if (pid !== null && pid !== process.pid && pidAlive(pid)) throw lockedError(path, pid);
      logger.warn({ lock: path, stalePid: pid }, 'taking over a stale store lock');
      try {
        unlinkSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    const pid = readPid(path);
    throw lockedError(path, typeof pid === 'number' ? pid : 0);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // Best effort.
    }
  }
}
