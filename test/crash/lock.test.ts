// Issue 16: the data dir's lock is a real lock (an flock held for the broker's life), not a file
// naming a pid. Real qpidd processes: deleting <data-dir>/lock while a broker runs does not admit
// a second one; a lock file naming a dead pid, or a live unrelated one (a reused pid), never
// blocks startup; two brokers started at the same instant on one data dir: exactly one runs.
// LOCK_ROUNDS=N runs N simultaneous-start rounds (default 3; the target is 100).
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startQpidd, tempDir, removeDir, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { assertServes } from '../integration/support.js';

const rounds = Number(process.env['LOCK_ROUNDS'] ?? '3');
const dirs: string[] = [];
const brokers: BrokerProcess[] = [];
after(() => {
  for (const b of brokers) b.kill('SIGKILL');
  for (const d of dirs) removeDir(d);
});

function dataDir(): string {
  const dir = tempDir('qpidd-lock-');
  dirs.push(dir);
  return dir;
}

async function start(dir: string, expectFailure = false): Promise<BrokerProcess> {
  const b = await startQpidd({ dataDir: dir, expectFailure, timeoutMs: 60_000 });
  brokers.push(b);
  return b;
}

/** A broker that must not run: it exits 1 with STORE_LOCKED and never listens. */
async function refused(dir: string, holderPid: number): Promise<void> {
  const second = await start(dir, true);
  const exit = await second.exited;
  assert.equal(exit.code, 1, second.stderr());
  assert.match(second.stderr(), /STORE_LOCKED/);
  assert.ok(second.stderr().includes(`held by pid ${holderPid}`) || second.stderr().includes('held by another process'), second.stderr());
  assert.equal(second.logs.some((l) => l.msg === 'listening'), false);
}

test('deleting the lock file while a broker runs does not admit a second broker', async () => {
  const dir = dataDir();
  const first = await start(dir);
  rmSync(join(dir, 'lock'));
  await refused(dir, first.child.pid!);
  // The first keeps serving, and its lock is as good as before.
  await assertServes(first.port);
  await refused(dir, first.child.pid!);
  assert.equal((await first.stop()).code, 0);
});

test('a lock file naming a dead pid, or a live unrelated process (a reused pid), never blocks startup', async () => {
  const dir = dataDir();
  const first = await start(dir);
  first.kill('SIGKILL');
  await first.exited;
  // The killed broker's pid is still in the file: stale.
  assert.ok(existsSync(join(dir, 'lock')));
  const second = await start(dir);
  await assertServes(second.port);
  second.kill('SIGKILL');
  await second.exited;
  // A pid that is alive but is not a broker (this test process, pid 1).
  for (const pid of [process.pid, 1]) {
    writeFileSync(join(dir, 'lock'), `${pid}\n`);
    const b = await start(dir);
    await assertServes(b.port);
    assert.ok(b.logs.some((l) => l.msg === 'taking over a stale store lock' && l['stalePid'] === pid), 'the stale pid is reported');
    assert.equal((await b.stop()).code, 0);
  }
});

test(`two brokers started at the same instant on one data dir: exactly one runs (${rounds} rounds)`, { timeout: Math.max(300_000, rounds * 20_000) }, async () => {
  for (let round = 0; round < rounds; round++) {
    const dir = dataDir();
    const pair = await Promise.all([start(dir, true), start(dir, true)]);
    // Each either listens or exits; wait until both have decided.
    const outcome = async (b: BrokerProcess): Promise<'runs' | 'refused'> =>
      waitFor(() => (b.logs.some((l) => l.msg === 'listening') ? 'runs' : b.child.exitCode !== null || b.child.signalCode !== null ? 'refused' : null), 'the broker to listen or exit', 60_000, 20);
    const outcomes = await Promise.all(pair.map(outcome));
    assert.deepEqual([...outcomes].sort(), ['refused', 'runs'], `round ${round}: ${outcomes.join(', ')}; stderr: ${pair.map((b) => b.stderr()).join(' | ')}`);
    const loser = pair[outcomes.indexOf('refused')]!;
    assert.equal(loser.child.exitCode, 1, loser.stderr());
    assert.match(loser.stderr(), /STORE_LOCKED/);
    const winner = pair[outcomes.indexOf('runs')]!;
    assert.equal((await winner.stop()).code, 0);
    removeDir(dir);
  }
});
