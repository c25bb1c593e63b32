// A committed transaction reaches backups as one unit (issue 12): its records are one store
// commit opened by a txn record, and a log frame is never cut inside one (src/ha/units.ts), so a
// backup applies all of it in one commit or none of it. With --ha-log-batch 16 a transaction of
// 100 dequeues and 100 enqueues (Proton Python, test/interop/proton_tx_batch.py) would span a
// dozen frames; the primary is killed with SIGKILL at a seeded random moment of it, the backup
// promoted, and its store must hold all of the transaction or none, and all of it whenever the
// client heard the commit settled (a discharge is settled only once every ready backup has the
// commit). TXN_FAILOVER_RUNS=N repeats it N times (default 1; TXN_FAILOVER_SEED=S replays).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { seededRandom } from '../../src/core/random.js';
import { Cluster } from '../helpers/cluster.js';
import { send } from '../crash/crash-point-support.js';
import { interopScript, requireProtonPython, startPython, type Program } from '../interop/programs.js';
import { tempDir, removeDir } from '../helpers/broker-process.js';

const runs = Number(process.env['TXN_FAILOVER_RUNS'] ?? '1');
if (!Number.isInteger(runs) || runs < 1) throw new Error(`TXN_FAILOVER_RUNS must be a positive integer, not ${process.env['TXN_FAILOVER_RUNS']}`);
const seed = process.env['TXN_FAILOVER_SEED'] !== undefined ? Number(process.env['TXN_FAILOVER_SEED']) : Math.floor(Math.random() * 2 ** 31);
const N = 100;

const clusters: Cluster[] = [];
const clients: Program[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of clients) c.signal('SIGKILL');
  for (const c of clusters) await c.stop();
  for (const d of dirs) removeDir(d);
});

test(`kill the primary during a 100-enqueue, 100-dequeue transaction: the promoted backup has all of it or none (seed=${seed})`, { timeout: 60_000 + runs * 60_000 }, async () => {
  requireProtonPython();
  const random = seededRandom(seed);
  const outcomes: string[] = [];
  for (let run = 0; run < runs; run++) {
    const cluster = await Cluster.start({ size: 2, extraArgs: ['--ha-log-batch', '16'] });
    clusters.push(cluster);
    await cluster.promoteAndWait(0);
    for (const name of ['q1', 'q2', 'q3']) await cluster.manage(0, 'add-queue', { name, durable: true });
    const dir = tempDir('qpidd-txn-failover-');
    dirs.push(dir);
    const primary = `127.0.0.1:${cluster.ports[0]}`;
    const preload = await send(primary, 'q1', N, dir);
    assert.equal(preload.code, 0, `qpid-send: ${preload.stderr}`);
    await cluster.waitForReplication(0);
    const client = startPython(interopScript('proton_tx_batch.py'), [primary, 'q1', 'q2', 'q3', String(N)]);
    clients.push(client);
    await client.waitForLine(/^declared$/, 30_000);
    const delayMs = random.int(0, 900);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    const heardCommit = client.lines().includes('committed');
    await cluster.kill(0);
    await cluster.promote(1);
    await cluster.waitForState(1, 'active');
    const queues = (await cluster.summary(1)).queues;
    const count = (name: string): number => queues.find((q) => q.name === name)?.count ?? -1;
    const held = { q1: count('q1'), q2: count('q2'), q3: count('q3') };
    const what = `run ${run} (seed=${seed}, primary killed ${delayMs} ms after the declare): the promoted backup holds ${JSON.stringify(held)}`;
    const none = held.q1 === N && held.q2 === 0 && held.q3 === 0;
    const all = held.q1 === 0 && held.q2 === N / 2 && held.q3 === N / 2;
    assert.ok(none || all, `not all or nothing: ${what}`);
    if (heardCommit) assert.ok(all, `the client heard its commit settled, so the backup must have all of it: ${what}`);
    outcomes.push(`${delayMs}ms:${all ? 'all' : 'none'}${heardCommit ? '(settled)' : ''}`);
    await client.finish(30_000).catch(() => undefined);
    await cluster.stop();
  }
  console.log(`txn failover runs (seed=${seed}): ${outcomes.join(' ')}`);
});
