// The liveness rule (issue 15): both backups leave the ack gate and are caught mid catch-up
// when the primary dies, so each store is behind what it heard, and no broker would be
// promotable without --force under the safety rule alone. With --ha-min-backups 1 (the default
// of 3 brokers) the backup with the highest LSN holds every settled message: with every backup
// answering, promote accepts it and refuses the other, naming the better one. And before that,
// with the whole cluster down and only the lower one back, it refuses alone, naming the gap
// (a store that knows it is behind: nothing else is reachable, but its data dir remembers).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { drain } from '../helpers/amqp.js';
import type { Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/broker-process.js';
import { loadedCluster } from '../helpers/left-gate.js';

let cluster: Cluster | null = null;
after(async () => {
  await cluster?.stop();
});

test('both backups out of the gate and behind when the primary dies: alone after a total failure the lower is refused naming the gap; with both back the higher is promoted without --force, the lower refused naming it; nothing accepted lost', async () => {
  const load = await loadedCluster();
  cluster = load.cluster;
  const c = cluster;
  const conn = load.connection;
  try {
    // b2 leaves first, far behind; the primary settles with b1 alone meanwhile.
    await load.leaveBehind(2, 20_000);
    // Then b1: with no backup in the gate the primary settles nothing more, but stores what
    // its producer's credit lets in. Large messages make that backlog take b1 a while to copy
    // (half a second rather than milliseconds), so that it is stopped mid catch-up. The window
    // in flight is what the backlog will be: it is made of large messages first.
    load.setBody('y'.repeat(64 * 1024));
    const large = load.accepted();
    await waitFor(() => load.accepted() >= large + 600 || null, 'large messages accepted', 60_000);
    // The stop races the copy (the log line that says it began can arrive after it ended):
    // if the primary heard b1 confirm all of it, b1 is let go and stopped again.
    for (let attempt = 1; ; attempt++) {
      const hello = await load.leaveBehind(1, 0);
      await new Promise((r) => setTimeout(r, 300));
      const confirmed = (await c.status(0)).members.find((m) => m.name === 'b1')?.confirmedLsn ?? 0;
      if (confirmed < hello) break;
      assert.ok(attempt < 4, `b1 finished its catch-up before it could be stopped, ${attempt} times`);
      c.broker(1).kill('SIGCONT');
      await c.waitForState(1, 'ready', 30_000);
    }
  } finally {
    load.stopLoad();
  }
  const primary = await c.status(0);
  await c.kill(0);
  await conn.close().catch(() => {});
  c.broker(1).kill('SIGCONT');
  c.broker(2).kill('SIGCONT');
  await c.waitForState(1, 'joining', 30_000);
  await c.waitForState(2, 'joining', 30_000);
  const [b1, b2] = [await c.status(1), await c.status(2)];
  console.log(`# primary at LSN ${primary.lastLsn}; b1 ${b1.lastLsn} heard ${JSON.stringify(b1.heard)}; b2 ${b2.lastLsn} heard ${JSON.stringify(b2.heard)}; accepted ${load.accepted()}`);
  for (const b of [b1, b2]) assert.ok(b.heard && b.heard.lsn > b.lastLsn, `${b.name} is behind what it heard: ${JSON.stringify(b.heard)} against ${b.lastLsn}`);
  assert.ok(b1.lastLsn > b2.lastLsn);

  // The whole cluster fails, and only b2 comes back: nothing else answers, yet its promotion is
  // refused, naming the gap and the backup that did not answer (not the silent primary),
  // because what it heard is recorded in its data dir.
  await c.kill(1);
  await c.kill(2);
  await c.startBroker(2);
  const alone = await c.status(2);
  assert.ok(alone.heard && alone.heard.lsn > alone.lastLsn, `the restarted b2 remembers the primary position it heard: ${JSON.stringify(alone.heard)} against ${alone.lastLsn}`);
  const query = await c.tool('qpid-ha', ['-b', `127.0.0.1:${c.ports[2]}`, 'query']);
  assert.match(query.stdout, /heard: the primary of epoch \d+ at LSN \d+ \(this store ends at \d+: behind/);
  const refusedAlone = await c.tool('qpid-ha', ['--cluster-manager', '-b', `127.0.0.1:${c.ports[2]}`, 'promote']);
  assert.notEqual(refusedAlone.code, 0, 'promotion refused');
  assert.match(refusedAlone.stderr, new RegExp(`this store ends at LSN ${alone.lastLsn.toLocaleString('en-US')}; the primary of epoch ${alone.heard.epoch} had reached ${alone.heard.lsn.toLocaleString('en-US')}`));
  assert.match(refusedAlone.stderr, new RegExp(`127\\.0\\.0\\.1:${c.ports[1]} did not answer`), 'the silent backup is named');
  assert.doesNotMatch(refusedAlone.stderr, new RegExp(`127\\.0\\.0\\.1:${c.ports[0]} did not answer`), 'the silent primary is not');
  assert.equal((await c.status(2)).state, 'joining');

  // b1 comes back too: every backup answers, the lower is refused naming the higher, and the
  // higher is promoted without --force, holding every accepted message.
  await c.startBroker(1);
  const refused = await c.tool('qpid-ha', ['--cluster-manager', '-b', `127.0.0.1:${c.ports[2]}`, 'promote']);
  assert.notEqual(refused.code, 0, 'the lower is refused');
  assert.match(refused.stderr, new RegExp(`${b1.name} \\(127\\.0\\.0\\.1:${c.ports[1]}\\) holds more \\(epoch \\d+, LSN ${b1.lastLsn.toLocaleString('en-US')}\\): promote it instead`));
  const promoted = await c.tool('qpid-ha', ['--cluster-manager', '-b', `127.0.0.1:${c.ports[1]}`, 'promote']);
  assert.equal(promoted.code, 0, `the higher is promoted without --force: ${promoted.stderr}`);
  assert.match(promoted.stdout + promoted.stderr, /every backup answered and none holds more/);
  await c.waitForState(1, 'active', 30_000);
  const got = await drain(c.ports[1] as number, 'orders', 1000);
  assert.ok(got.length >= load.accepted(), `every accepted message is on ${b1.name}: ${got.length} of ${load.accepted()}`);
});
