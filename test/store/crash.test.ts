// kill -9 at random moments (DESIGN.md §5 "nothing lost"): a child process commits records in a
// loop and prints each one whose `durable` promise resolved; the parent kills it with SIGKILL
// at a seeded random moment, reopens the store (taking over the dead child's lock), runs
// verify, and checks that every record reported durable is in the log with the right content
// and that the tables agree. The store carries over from kill to kill, so recovery of a store
// that was itself recovered is exercised too. Replay a failure with CRASH_SEED=<printed seed>;
// CRASH_KILLS raises the number of kills.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../../src/core/random.js';
import { openLmdbStore, verifyStore, type LogEntry } from '../../store/index.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { crashBody } from './crash-body.js';

const writer = join(dirname(fileURLToPath(import.meta.url)), 'crash-writer.js');

interface Reported {
  lsn: number;
  e?: [string, number, number, number];
  d?: [string, number, number];
}

/** Runs the writer and kills it `killAfterMs` after it started, or after it said it was ready
 * (startup time varies with machine load; counting from ready keeps most kills mid-write). */
async function runAndKill(dataDir: string, seed: number, killAfterMs: number, from: 'spawn' | 'ready'): Promise<{ reported: Reported[]; signal: string | null; ready: boolean }> {
  const child = spawn(process.execPath, [writer, dataDir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const reported: Reported[] = [];
  let ready = false;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let timer: NodeJS.Timeout | undefined;
  const kill = (): void => {
    timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    const o = JSON.parse(line) as Reported & { ready?: boolean };
    if (o.ready) {
      ready = true;
      if (from === 'ready') kill();
    } else reported.push(o);
  });
  if (from === 'spawn') kill();
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  assert.equal(code, null, `the writer exited by itself (code ${code}): ${stderr}`);
  return { reported, signal, ready };
}

test('SIGKILL at random moments never loses a durable record and never breaks an invariant', { timeout: 180_000 }, async () => {
  const seed = Number(process.env['CRASH_SEED'] ?? Date.now() % 1_000_000);
  const kills = Number(process.env['CRASH_KILLS'] ?? 30);
  console.error(`crash test seed=${seed} kills=${kills} (CRASH_SEED=${seed} to replay)`);
  const random = seededRandom(seed);
  const dataDir = makeTmpDir('store-crash');
  const ledger = new Map<number, Reported>();
  let killedWhileWriting = 0;
  for (let round = 0; round < kills; round++) {
    // One kill in four counts from the start (it may land while the process starts or opens
    // the store); the others land 0-200 ms into writing.
    const from = random.bool(0.25) ? 'spawn' : 'ready';
    const killAfterMs = from === 'spawn' ? random.int(5, 150) : random.int(0, 200);
    const run = await runAndKill(dataDir, random.int(0, 2 ** 30), killAfterMs, from);
    assert.equal(run.signal, 'SIGKILL');
    if (run.reported.length > 0) killedWhileWriting++;
    for (const r of run.reported) ledger.set(r.lsn, r);

    const store = openLmdbStore({ dataDir });
    try {
      const where = `seed=${seed} round ${round} (killed ${killAfterMs} ms after ${from}, ${run.reported.length} records reported durable)`;
      assert.deepEqual(verifyStore(store), [], `verify after ${where}`);
      const lastLsn = store.meta().lastLsn;
      const mine = run.reported.map((r) => r.lsn);
      if (mine.length > 0) assert.ok(Math.max(...mine) <= lastLsn, `a durable LSN is beyond the recovered log end ${lastLsn}: ${where}`);
      // Every record ever reported durable is in the log exactly as committed.
      const log = new Map<number, LogEntry>();
      for await (const e of store.readLog(1)) log.set(e.lsn, e);
      for (const [lsn, r] of ledger) {
        const e = log.get(lsn);
        assert.ok(e, `durable LSN ${lsn} is missing after ${where}`);
        if (r.e) {
          const [queue, position, messageId, bytes] = r.e;
          assert.equal(e.record.kind, 'enqueue', `LSN ${lsn}`);
          if (e.record.kind !== 'enqueue') continue;
          assert.deepEqual([e.record.messageId, e.record.targets], [messageId, [{ queue, position }]], `LSN ${lsn}`);
          assert.ok(Buffer.from(e.record.body).equals(crashBody(messageId, bytes)), `body of LSN ${lsn}`);
        } else if (r.d) {
          const [queue, position, messageId] = r.d;
          assert.deepEqual(e.record, { kind: 'dequeue', queue, position, messageId, cause: 'consumed' }, `LSN ${lsn}`);
          assert.equal(store.readQueue(queue, position - 1, 1)[0]?.position === position, false, `dequeued entry ${queue}:${position} is back after ${where}`);
        }
      }
    } finally {
      await store.close();
    }
  }
  console.error(`crash test: ${kills} kills, ${killedWhileWriting} while writing, ${ledger.size} durable records checked`);
  assert.ok(killedWhileWriting >= kills / 3, `most kills should land while writing (${killedWhileWriting} of ${kills})`);
});
