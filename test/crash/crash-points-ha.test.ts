// Issue 16: each HA crash point, placed on a real two-broker cluster (--crash-at on the broker
// that must die there), then the cluster manager's move (promote the ready backup, or restart and
// promote); the clients fail over by themselves, and qpid-check-history over their histories
// proves the durability contract (DESIGN.md §5) across the kill and the failover.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, test } from 'node:test';
import { Cluster } from '../helpers/cluster.js';
import { removeDir, tempDir, waitFor } from '../helpers/broker-process.js';
import { assertNothingLost, CRASH_ARGS, diedAt, receive, runTool, send } from './crash-point-support.js';

const clusters: Cluster[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of clusters) await c.stop();
  for (const d of dirs) removeDir(d);
});

const COUNT = 300;

/** A cluster of two: b0 promoted and active, b1 a ready backup; `crashAt` armed on broker i. */
async function cluster(crashAt: { broker: number; point: string } | null): Promise<{ c: Cluster; dir: string; url: string }> {
  const c = await Cluster.start({ size: 2, heartbeatS: 1, backupTimeoutS: 2 });
  clusters.push(c);
  if (crashAt) {
    await c.kill(crashAt.broker);
    await c.startBroker(crashAt.broker, CRASH_ARGS(crashAt.point));
  }
  await c.promoteAndWait(0);
  const dir = tempDir('qpidd-crashpoint-ha-');
  dirs.push(dir);
  return { c, dir, url: c.url };
}

test('crash point ha.primary.after-ship-before-confirm: the primary dies with records shipped and unconfirmed; the backup is promoted; nothing accepted is lost', { timeout: 240_000 }, async () => {
  const { c, dir, url } = await cluster({ broker: 0, point: 'ha.primary.after-ship-before-confirm:30' });
  const sending = send(url, 'ha', COUNT, dir);
  await diedAt(c.broker(0), 'ha.primary.after-ship-before-confirm');
  c.brokers[0] = null;
  await c.promote(1);
  await c.waitForState(1, 'active');
  const sent = await sending;
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  assert.equal((await receive(url, 'ha', COUNT, dir)).code, 0);
  await assertNothingLost(dir, ['p1.history.jsonl', 'c1.history.jsonl'], COUNT);
});

test('crash point ha.backup.after-apply-before-confirm: the backup dies with records applied and unconfirmed; it restarts and catches up; after the primary is killed and it is promoted nothing is lost', { timeout: 240_000 }, async () => {
  const { c, dir, url } = await cluster({ broker: 1, point: 'ha.backup.after-apply-before-confirm:30' });
  const sending = send(url, 'ha', COUNT, dir);
  await diedAt(c.broker(1), 'ha.backup.after-apply-before-confirm');
  c.brokers[1] = null;
  // Producers are not held up by the dead backup: it leaves the gate.
  const sent = await sending;
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  await c.startBroker(1);
  await c.waitForState(1, 'ready', 60_000);
  await c.waitForReplication(0);
  await c.kill(0);
  await c.promote(1);
  await c.waitForState(1, 'active');
  assert.equal((await receive(url, 'ha', COUNT, dir)).code, 0);
  await assertNothingLost(dir, ['p1.history.jsonl', 'c1.history.jsonl'], COUNT);
});

test('crash point ha.backup.mid-snapshot: a backup dies halfway through its snapshot; its store says so; restarted, it resyncs, and promoted it holds everything', { timeout: 240_000 }, async () => {
  const { c, dir, url } = await cluster(null);
  const sent = await send(url, 'ha', COUNT, dir, { capacity: 100 });
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  // b1 comes back as a replacement with an empty data dir, the point armed: a store that still
  // held its log would catch up incrementally; an empty one takes a snapshot, and dies in it.
  await c.kill(1);
  removeDir(c.dataDirs[1]!);
  mkdirSync(c.dataDirs[1]!);
  const b1 = await c.startBroker(1, CRASH_ARGS('ha.backup.mid-snapshot'));
  await diedAt(b1, 'ha.backup.mid-snapshot');
  c.brokers[1] = null;
  const inspect = await runTool('qpid-store', ['inspect', '--data-dir', c.dataDirs[1]!, '--json']);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.equal((JSON.parse(inspect.stdout) as { meta: { snapshotIncomplete: boolean } }).meta.snapshotIncomplete, true);
  await c.startBroker(1);
  await c.waitForState(1, 'ready', 60_000);
  await c.waitForReplication(0);
  await c.kill(0);
  await c.promote(1);
  await c.waitForState(1, 'active');
  assert.equal((await receive(url, 'ha', COUNT, dir)).code, 0);
  await assertNothingLost(dir, ['p1.history.jsonl', 'c1.history.jsonl'], COUNT);
});

test('crash point ha.backup.mid-truncate: an old primary rejoining dies while taking back its unsettled tail; its store is as before; restarted, it takes the tail back, and promoted it holds everything', { timeout: 240_000 }, async () => {
  // --ha-min-backups 1: with b1 gone b0 commits what it is sent but settles none of it, so its
  // tail past b1's end was never settled, as DESIGN.md §4 says a divergent end always is. Both
  // go down, so b1's promotion is after a total failure: --ha-total-failure-resync incremental
  // lets b0 keep its matching prefix (and take its tail back) instead of wiping.
  const c = await Cluster.start({ size: 2, heartbeatS: 1, backupTimeoutS: 2, extraArgs: ['--ha-min-backups', '1', '--ha-total-failure-resync', 'incremental'] });
  clusters.push(c);
  await c.promoteAndWait(0);
  const dir = tempDir('qpidd-crashpoint-ha-');
  dirs.push(dir);
  const first = await send(c.url, 'ha', 100, dir, { id: 'p1' });
  assert.equal(first.code, 0, first.stdout + first.stderr);
  await c.waitForReplication(0);
  const b1End = (await c.status(1)).lastLsn;
  await c.kill(1);
  const sending = send(c.url, 'ha', 50, dir, { id: 'p2' });
  await waitFor(async () => (await c.status(0)).lastLsn > b1End + 5, 'b0 to commit a tail b1 never saw', 30_000);
  await c.kill(0);
  const tailEnd = await storeLastLsn(c.dataDirs[0]!);
  assert.ok(tailEnd > b1End, `b0's store ends at ${tailEnd}, past b1's ${b1End}`);
  // The manager restarts b1 and promotes it (all are down: it recovers from its own store).
  await c.startBroker(1);
  await c.promote(1);
  const b0 = await c.startBroker(0, CRASH_ARGS('ha.backup.mid-truncate'));
  await diedAt(b0, 'ha.backup.mid-truncate');
  c.brokers[0] = null;
  // The truncation was one write transaction, killed before its commit: nothing was taken back.
  assert.equal(await storeLastLsn(c.dataDirs[0]!), tailEnd);
  const verified = await runTool('qpid-store', ['verify', '--data-dir', c.dataDirs[0]!]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  await c.startBroker(0);
  await c.waitForState(0, 'ready', 60_000);
  const took = c.broker(0).logs.find((l) => l.msg === 'took back the divergent end of the log (never settled)');
  assert.equal(took?.['divergence'], b1End, JSON.stringify(took ?? null));
  const sent = await sending;
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  await c.waitForReplication(1);
  await c.kill(1);
  await c.promote(0);
  await c.waitForState(0, 'active');
  assert.equal((await receive(c.url, 'ha', 150, dir)).code, 0);
  await assertNothingLost(dir, ['p1.history.jsonl', 'p2.history.jsonl', 'c1.history.jsonl'], 150);
});

/** The last LSN of a stopped broker's store, as qpid-store inspect reads it. */
async function storeLastLsn(dataDir: string): Promise<number> {
  const inspect = await runTool('qpid-store', ['inspect', '--data-dir', dataDir, '--json']);
  assert.equal(inspect.code, 0, inspect.stderr);
  return (JSON.parse(inspect.stdout) as { meta: { lastLsn: number } }).meta.lastLsn;
}

for (const point of ['ha.promote.after-epoch-write', 'ha.promote.before-active']) {
  test(`crash point ${point}: the backup being promoted dies there; restarted and promoted again it holds every accepted message`, { timeout: 240_000 }, async () => {
    const { c, dir, url } = await cluster({ broker: 1, point });
    const sent = await send(url, 'ha', COUNT, dir, { capacity: 100 });
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    await c.waitForReplication(0);
    await c.kill(0);
    // The cluster manager promotes the ready backup; it dies on the way to active.
    const promoting = c.promote(1).catch((err: unknown) => err);
    await diedAt(c.broker(1), point);
    c.brokers[1] = null;
    await promoting;
    // Every broker down: the manager restarts it, and promotes it (it has the most recent store).
    await c.startBroker(1);
    await c.promote(1);
    await c.waitForState(1, 'active');
    assert.equal((await receive(url, 'ha', COUNT, dir)).code, 0);
    await assertNothingLost(dir, ['p1.history.jsonl', 'c1.history.jsonl'], COUNT);
  });
}
