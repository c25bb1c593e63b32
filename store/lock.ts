// The data dir's lock (DESIGN.md §2, issue 16): an exclusive flock(2) held for the broker's (or
// tool's) whole life, released by the kernel when the process exits however it exits. The lock
// is taken on the data dir itself, not on a file in it: a lock on a file is defeated by deleting
// the file (the next opener creates a new file and locks that), while the directory cannot go
// away without the store in it. `<data-dir>/lock` only carries the holder's pid for messages
// ("Cannot lock <dir>/lock: held by pid N"); a stale or reused pid in it never decides anything.
//
// Node has no flock. flock(1) from util-linux (Debian: required priority) locks a descriptor it
// inherits: `flock -x -n 3` with our open directory as its fd 3 locks our open file description,
// and the lock stays with that description (ours) after flock(1) exits. One short-lived child per
// lock taken; nothing stays running beside the broker.

import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StoreError } from './errors.js';
import type { StoreLogger } from './logger.js';

/** Data dirs whose lock this process holds (a read-only open in the holder's own process is safe:
 * it shares the environment). */
const heldByThisProcess = new Set<string>();

export interface DataDirLock {
  /** `<data-dir>/lock`: the file that names the holder. */
  readonly path: string;
  release(): void;
}

/** What `<data-dir>/lock` says: a pid, or null when it is missing, empty or garbled. */
export function lockFilePid(dataDir: string): number | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'lock'), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

function lockedError(dataDir: string): StoreError {
  const pid = lockFilePid(dataDir);
  // The winner of a simultaneous start may not have written its pid yet.
  return new StoreError('STORE_LOCKED', `Cannot lock ${join(dataDir, 'lock')}: held by ${pid === null ? 'another process (its pid is not written yet)' : `pid ${pid}`}`);
}

/** flock(LOCK_EX | LOCK_NB) on `fd`: true if taken, false if another description holds it. */
function tryFlock(fd: number, dataDir: string): boolean {
  const r = spawnSync('flock', ['--exclusive', '--nonblock', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd], timeout: 30_000 });
  if (r.error) {
    throw new StoreError('STORE_IO', `cannot lock ${dataDir}: running flock(1) failed (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}); the broker needs util-linux's flock`, { cause: r.error });
  }
  if (r.status === 0) return true;
  if (r.status === 1) return false;
  throw new StoreError('STORE_IO', `cannot lock ${dataDir}: flock(1) exited ${r.status ?? r.signal}: ${String(r.stderr).trim()}`);
}

function openDir(dataDir: string): number {
  try {
    return openSync(dataDir, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw err;
    throw new StoreError('STORE_IO', `cannot open the data dir ${dataDir} to lock it: ${(err as Error).message}`, { cause: err });
  }
}

/** Whether another process holds the data dir's lock now (a probe: the lock is taken and let go
 * at once when free). The holder's pid, or 0 when the lock is held but names no pid; null when
 * nobody else holds it (or this process does). */
export function liveLockHolder(dataDir: string): number | null {
  if (heldByThisProcess.has(resolve(dataDir))) return null;
  let fd: number;
  try {
    fd = openDir(dataDir);
  } catch {
    return null; // no data dir: nobody holds it
  }
  try {
    return tryFlock(fd, dataDir) ? null : (lockFilePid(dataDir) ?? 0);
  } finally {
    closeSync(fd); // releases the probe's lock, if it took it
  }
}

/** Takes the data dir's lock for as long as the returned lock is not released (or the process
 * lives), or throws STORE_LOCKED naming the holder. */
export function lockDataDir(dataDir: string, logger: StoreLogger): DataDirLock {
  const path = join(dataDir, 'lock');
  const key = resolve(dataDir);
  if (heldByThisProcess.has(key)) throw new StoreError('STORE_LOCKED', `Cannot lock ${path}: held by pid ${process.pid}`);
  const fd = openDir(dataDir);
  let locked = false;
  try {
    locked = tryFlock(fd, dataDir);
  } finally {
    if (!locked) closeSync(fd);
  }
  if (!locked) throw lockedError(dataDir);
  heldByThisProcess.add(key);
  const previous = lockFilePid(dataDir);
  if (previous !== null && previous !== process.pid) logger.warn({ lock: path, stalePid: previous }, 'taking over a stale store lock');
  try {
    writeFileSync(path, `${process.pid}\n`);
  } catch (err) {
    // The pid is for messages only; a full disk must not stop the broker from starting.
    logger.warn({ lock: path, err: (err as Error).message }, 'could not write the pid into the lock file (the lock is held all the same)');
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      // The file first, while the lock still keeps anyone else from writing theirs.
      try {
        if (lockFilePid(dataDir) === process.pid) unlinkSync(path);
      } catch {
        // Already gone: nothing to tidy.
      }
      heldByThisProcess.delete(key);
      closeSync(fd);
    },
  };
}
