// Verifies a stopped store in a child process (verify-child.ts), so that a C-level abort on a
// damaged page becomes a report ("reading the store killed the reader: the store is corrupt")
// instead of killing the caller: `qpid-store verify` and `qpidd --store-verify-on-start`. The
// caller holds the data dir's lock; the child opens the store read-only under it. Never for a
// live store: a second process must not open a live environment (FACTS.md) — a broker verifies
// its own store in-process (verifyStoreYielding).

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreError } from './errors.js';
import type { VerifyLevel } from './recovery.js';
import type { VerifyProgress, Violation } from './verify.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'verify-child.js');
const STDERR_KEPT_CHARS = 2000;

export interface ChildVerifyOptions {
  readonly onProgress?: (p: VerifyProgress) => void;
  /** Rows between progress reports (default 10,000). */
  readonly progressEvery?: number;
}

/** The violations of the store at dataDir (one 'unreadable' violation when reading it killed
 * the child). Throws StoreError for what is not the store's fault (no store, cannot spawn). */
export function verifyInChild(dataDir: string, level: Exclude<VerifyLevel, 'none'>, options: ChildVerifyOptions = {}): Promise<Violation[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dataDir, level, String(options.progressEvery ?? 10_000)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let last: VerifyProgress | null = null;
    let answer: { violations?: Violation[]; error?: { code: string; message: string } } | null = null;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      let newline: number;
      while ((newline = stdout.indexOf('\n')) >= 0) {
        const line = stdout.slice(0, newline);
        stdout = stdout.slice(newline + 1);
        try {
          const parsed = JSON.parse(line) as { progress?: VerifyProgress; violations?: Violation[]; error?: { code: string; message: string } };
          if (parsed.progress) {
            last = parsed.progress;
            if (parsed.progress.done > 0) options.onProgress?.(parsed.progress);
          } else answer = parsed;
        } catch {
          // Not ours (a native library printing): kept with stderr for the report.
          stderr += `${line}\n`;
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEPT_CHARS);
    });
    child.once('error', (err) => reject(new StoreError('STORE_IO', `cannot start the verify process: ${err.message}`, { cause: err })));
    child.once('close', (code, signal) => {
      const got = answer as typeof answer;
      if (got?.violations) return resolve(got.violations);
      if (got?.error) return reject(new StoreError(got.error.code as never, got.error.message));
      const where = last === null ? 'while opening it' : `in the ${(last as VerifyProgress).phase} phase, after ${(last as VerifyProgress).done} rows`;
      const how = signal ? `killed by ${signal}` : `exit ${code}`;
      const detail = stderr.trim() === '' ? '' : `: ${stderr.trim().split('\n').slice(-3).join(' / ')}`;
      resolve([{ code: 'unreadable', message: `a page of ${join(dataDir, 'store', 'data.mdb')} is unreadable: reading it ${where} killed the reader (${how})${detail}; the store is corrupt` }]);
    });
  });
}
