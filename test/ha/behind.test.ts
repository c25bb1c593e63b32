// A store that knows it is behind (issue 15): a backup that left the ack gate (SIGSTOPped past
// --ha-confirm-timeout while producers went on, settled by the other backup alone) hears, when
// it comes back, how far the primary has gone. The cluster then fails entirely before it has
// caught up, and only that backup is restarted: nothing else is reachable, yet its promotion is
// refused, naming the gap and the backup that did not answer, because what it heard is recorded
// in its data dir. --force promotes it. (test/ha/liveness.test.ts: with every backup answering.)
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Cluster } from '../helpers/cluster.js';
import { loadedCluster } from '../helpers/left-gate.js';

let cluster: Cluster | null = null;
after(async () => {
  await cluster?.stop();
});

test('a backup that left the gate and was cut off mid catch-up refuses promotion alone, naming the gap', async () => {
  const load = await loadedCluster();
  cluster = load.cluster;
  const c = cluster;
  const conn = load.connection;
  // b2 stops; the primary drops it from the gate and settles with b1 alone meanwhile. b2 then
  // resumes, hears where the primary is, is stopped again before it has applied the backlog,
  // and the whole cluster dies.
  try {
    await load.leaveBehind(2, 20_000);
  } finally {
    load.stopLoad();
  }
  const primary = await c.status(0);
  await c.kill(0);
  await c.kill(1);
  c.broker(2).kill('SIGCONT');
  await c.kill(2);
  await conn.close().catch(() => {});

  await c.startBroker(2);
  const status = await c.status(2);
  assert.ok(status.heard, 'the restarted backup remembers the primary position it heard');
  assert.ok(status.heard.lsn > status.lastLsn, `heard LSN ${status.heard.lsn} beyond its store's ${status.lastLsn} (the primary was at ${primary.lastLsn})`);
  const query = await c.tool('qpid-ha', ['-b', `127.0.0.1:${c.ports[2]}`, 'query']);
  assert.match(query.stdout, /heard: the primary of epoch \d+ at LSN \d+ \(this store ends at \d+: behind/);

  const refused = await c.tool('qpid-ha', ['--cluster-manager', '-b', `127.0.0.1:${c.ports[2]}`, 'promote']);
  assert.notEqual(refused.code, 0, 'promotion refused');
  assert.match(refused.stderr, new RegExp(`this store ends at LSN ${status.lastLsn.toLocaleString('en-US')}; the primary of epoch ${status.heard.epoch} had reached ${status.heard.lsn.toLocaleString('en-US')}`));
  assert.equal((await c.status(2)).state, 'joining');
  assert.match(refused.stderr, new RegExp(`127\\.0\\.0\\.1:${c.ports[1]} did not answer`), 'the silent backup is named; the silent primary is not');
  assert.doesNotMatch(refused.stderr, new RegExp(`127\\.0\\.0\\.1:${c.ports[0]} did not answer`));

  await c.promote(2, { force: true });
  await c.waitForState(2, 'active', 30_000);
});
