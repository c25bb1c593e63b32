// `--store-reserve-bytes` (issue 16): a file of that many bytes kept in the data dir while the
// disk has room, and given back the moment it has none, so that a full disk never keeps the
// store from opening or the first commits after a failure (the consumers' dequeues, which free
// space) from succeeding. Kept again once commits succeed with room to spare. LMDB reuses pages a
// dequeue frees, so after the first few commits a draining store needs no new space at all.

import { closeSync, existsSync, openSync, statfsSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { StoreLogger } from './logger.js';

const CHUNK_BYTES = 64 * 1024;

export class SpaceReserve {
  readonly path: string;

  constructor(
    dataDir: string,
    private readonly bytes: number,
    private readonly logger: StoreLogger,
  ) {
    this.path = join(dataDir, 'reserve');
  }

  private freeBytes(): number {
    try {
      const s = statfsSync(this.path.slice(0, this.path.lastIndexOf('/')) || '/');
      return Number(s.bavail) * Number(s.bsize);
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  private held(): boolean {
    try {
      return existsSync(this.path) && statSync(this.path).size >= this.bytes;
    } catch {
      return false;
    }
  }

  /** Before the store opens: on a disk with less free space than the reserve, give it back
   * (the open and the first commits may need a few pages); otherwise make sure it is kept. */
  beforeOpen(): void {
    if (this.bytes === 0) return;
    if (this.freeBytes() < this.bytes) this.release('the disk is full at start');
    else this.keep();
  }

  /** Gives the reserve back to the filesystem. */
  release(reason: string): void {
    if (!existsSync(this.path)) return;
    try {
      unlinkSync(this.path);
      this.logger.warn({ reserve: this.path, bytes: this.bytes, reason }, 'store full: released the space reserve');
    } catch (err) {
      this.logger.error({ reserve: this.path, err: (err as Error).message }, 'could not release the space reserve');
    }
  }

  /** Keeps the reserve again if there is room for it and as much again beside it. */
  keep(): void {
    if (this.bytes === 0 || this.held()) return;
    if (this.freeBytes() < 2 * this.bytes) return;
    let fd: number | null = null;
    try {
      fd = openSync(this.path, 'w');
      const zeros = Buffer.alloc(Math.min(CHUNK_BYTES, this.bytes));
      for (let written = 0; written < this.bytes; ) {
        const n = writeSync(fd, zeros, 0, Math.min(zeros.length, this.bytes - written));
        written += n;
      }
      closeSync(fd);
      fd = null;
      this.logger.info({ reserve: this.path, bytes: this.bytes }, 'space reserve kept');
    } catch (err) {
      if (fd !== null) closeSync(fd);
      try {
        unlinkSync(this.path);
      } catch {
        // Nothing written.
      }
      this.logger.warn({ reserve: this.path, err: (err as Error).message }, 'could not keep the space reserve');
    }
  }
}
