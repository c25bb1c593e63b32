// Total failure under qpid-ha-manager (issue 17): every broker and manager killed. When only the
// broker that died first comes back, its manager does not promote it: the record the last
// leader wrote to etcd is ahead of its store (it cannot know what it missed; etcd can). When the
// last primary comes back too, its store is the most recent and it is promoted, the first one
// rejoins as a backup, and nothing accepted is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { managedClusters } from '../helpers/managers.js';
import { lostOf, ProbeProducer } from '../helpers/probe-producer.js';
import { waitFor } from '../helpers/broker-process.js';

const files = managedClusters();

const TTL_S = 2;

test('after a total failure the broker that died first is not promoted; the most recent store is', async () => {
  const { cluster: c, managers: m } = await files.start({ size: 3, heartbeatS: 0.5, backupTimeoutS: 2 }, { ttlS: TTL_S, totalFailureWaitS: 1 });
  m.startAll();
  const primary = await m.waitForActiveLeader();
  for (let j = 0; j < 3; j++) if (j !== primary) await c.waitForState(j, 'ready');
  const firstDead = (primary + 1) % 3;
  const other = (primary + 2) % 3;
  const producer = await ProbeProducer.start(c.url, 'probe');
  try {
    await waitFor(() => producer.acceptedAt.size >= 50, 'messages accepted by the whole cluster', 20_000);
    // The first to die: a backup and its manager (the host is gone).
    await m.kill(firstDead);
    await c.kill(firstDead);
    const behind = (await waitFor(async () => (await m.view()).members.find((e) => e.name === c.name(firstDead)) ?? null, 'its last report')).broker.lastLsn;
    const acceptedBefore = producer.acceptedAt.size;
    await waitFor(() => producer.acceptedAt.size >= acceptedBefore + 100, 'messages accepted after it died', 20_000);
    await waitFor(async () => ((await m.view()).record?.lsn ?? 0) > behind + 50, 'the record in etcd to pass the dead broker\'s store', 10_000);
  } finally {
    await producer.stop();
  }
  // Everything else dies.
  await m.kill(primary);
  await m.kill(other);
  await c.kill(primary);
  await c.kill(other);
  await waitFor(async () => (await m.view()).leader === null, 'the leader key to expire', 10_000);

  // Only the first to die comes back: not promoted.
  await c.startBroker(firstDead);
  m.start(firstDead);
  const refusal = await waitFor(
    async () => (await m.view()).members.find((e) => e.name === c.name(firstDead) && e.decision?.decision === 'not promoting')?.decision ?? null,
    'its manager to decide',
    15_000,
  );
  assert.match(refusal.reason, /below the record in etcd/);
  // Well past the total-failure wait and the ttl: still joining.
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal((await c.status(firstDead)).state, 'joining');
  assert.equal((await m.view()).leader, null);

  // The last primary comes back: its store is the most recent, it is promoted.
  await c.startBroker(primary);
  m.start(primary);
  const leader = await m.waitForActiveLeader(30_000);
  assert.equal(leader, primary);
  await c.waitForState(firstDead, 'ready', 30_000);
  const { lost, accepted } = await lostOf(producer, c.ports[primary] as number, 'probe');
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${accepted} accepted messages lost`);
});
