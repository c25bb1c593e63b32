// The interoperability suite's run time (issue 11: printed, under 3 minutes). node:test runs each
// file in its own process, so each file records its start and end in a small file keyed by the
// test runner's pid; every file prints its own time and the suite's so far, and the file that
// finishes last prints the total, and checks the bound when the suite runs on its own
// (TEST_FILTER=interop: inside the whole `npm test`, other files share the wall clock).
import { after } from 'node:test';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { INTEROP_DIST } from './programs.js';

export const SUITE_MS_MAX = 180_000;

interface Mark {
  readonly file: string;
  readonly event: 'start' | 'end';
  readonly atMs: number;
}

/** The runner's pid and, on Linux, its start time (pids are reused: a heavily loaded machine ran
 * through them within an hour, and a stale ledger made one run look 54 minutes long). */
function runnerId(): string {
  try {
    const stat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
    const startTicks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return `${process.ppid}-${startTicks}`;
  } catch {
    return String(process.ppid);
  }
}

const ledger = join(tmpdir(), `qpidd-interop-suite-${runnerId()}.jsonl`);

function marks(): Mark[] {
  try {
    return readFileSync(ledger, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Mark);
  } catch {
    return [];
  }
}

/** Call once at the top of each interop test file. */
export function timeThisFile(fileUrl: string): void {
  const file = basename(new URL(fileUrl).pathname);
  const startedMs = Date.now();
  appendFileSync(ledger, `${JSON.stringify({ file, event: 'start', atMs: startedMs } satisfies Mark)}\n`);
  after(() => {
    const endedMs = Date.now();
    appendFileSync(ledger, `${JSON.stringify({ file, event: 'end', atMs: endedMs } satisfies Mark)}\n`);
    const all = marks();
    const suiteStartMs = Math.min(...all.filter((m) => m.event === 'start').map((m) => m.atMs));
    const suiteFiles = readdirSync(INTEROP_DIST).filter((n) => n.endsWith('.test.js'));
    const ended = new Set(all.filter((m) => m.event === 'end').map((m) => m.file));
    const last = suiteFiles.every((f) => ended.has(f));
    const suiteS = ((endedMs - suiteStartMs) / 1000).toFixed(1);
    console.log(`[interop] ${file}: ${((endedMs - startedMs) / 1000).toFixed(1)} s; interop suite ${last ? 'total' : 'so far'}: ${suiteS} s (${ended.size} of ${suiteFiles.length} files done)`);
    const alone = (process.env['TEST_FILTER'] ?? '').includes('interop');
    // Not an assertion: a throwing after() hook would keep the file's own after() hooks (which
    // stop its brokers) from running. A non-zero exit fails the file all the same.
    if (last && alone && endedMs - suiteStartMs >= SUITE_MS_MAX) {
      console.error(`[interop] FAIL: the interop suite took ${suiteS} s; issue 11's target is under ${SUITE_MS_MAX / 1000} s`);
      process.exitCode = 1;
    }
  });
}
