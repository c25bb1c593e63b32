// etcd stopped (SIGSTOP) under a running cluster (issue 17): nobody can renew or take the leader
// key, so nobody is promoted and no second broker serves; the primary keeps settling only while
// the serving lease its manager last granted holds, then stops (its producers wait, unsettled).
// etcd continued (SIGCONT): a primary serves again, whichever the managers then agree on, and
// nothing accepted is lost. Real etcd, brokers and managers, the probe producer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { managedClusters } from '../helpers/managers.js';
import { lostOf, ProbeProducer } from '../helpers/probe-producer.js';
import { waitFor } from '../helpers/broker-process.js';

const files = managedClusters();

const TTL_S = 2;

test('etcd stopped: no failover and no split, the primary stops settling when its lease passes; etcd back: serving resumes, nothing lost', async () => {
  const { cluster: c, managers: m } = await files.start({ size: 3, heartbeatS: 0.5, backupTimeoutS: 2 }, { ttlS: TTL_S });
  m.startAll();
  const primary = await m.waitForActiveLeader();
  for (let j = 0; j < 3; j++) if (j !== primary) await c.waitForState(j, 'ready');
  const etcd = files.etcd();
  const producer = await ProbeProducer.start(c.url, 'probe');
  let leader = primary;
  try {
    await producer.firstAcceptAfter(0);
    const stoppedAt = Date.now();
    etcd.child.kill('SIGSTOP');
    let continued = false;
    try {
      // Nothing renews the lease: the primary's deadline passes within the ttl.
      const expiredAt = await waitFor(async () => ((await c.status(primary).catch(() => null))?.lease?.expired ? Date.now() : null), "the primary's serving lease to expire", 10_000, 20);
      assert.ok(expiredAt - stoppedAt < TTL_S * 1000, `the lease expired ${expiredAt - stoppedAt} ms after etcd stopped, not within the ttl`);
      const acceptedBefore = producer.acceptedAt.size;
      // Twice the ttl with etcd stopped: nobody is promoted, no broker settles.
      await new Promise((r) => setTimeout(r, 2 * TTL_S * 1000));
      const late = [...producer.acceptedAt.values()].filter((t) => t > expiredAt + 100).length;
      assert.equal(late, 0, `${late} messages accepted after the primary's lease had passed`);
      assert.ok(acceptedBefore > 0);
      const states = await Promise.all([0, 1, 2].map(async (j) => (await c.status(j)).state));
      assert.deepEqual(states, [0, 1, 2].map((j) => (j === primary ? 'active' : 'ready')), 'no broker promoted while etcd is stopped');
      etcd.child.kill('SIGCONT');
      continued = true;
    } finally {
      if (!continued) etcd.child.kill('SIGCONT');
    }
    const continuedAt = Date.now();
    leader = await m.waitForActiveLeader(20_000);
    const resumedAt = await producer.firstAcceptAfter(continuedAt, 30_000);
    console.log(`etcd stopped ${continuedAt - stoppedAt} ms; serving again ${resumedAt - continuedAt} ms after SIGCONT, on ${leader === primary ? 'the same primary' : `a new primary (b${leader})`}`);
    // One primary serves.
    const primaries = (await Promise.all([0, 1, 2].map((j) => c.status(j).catch(() => null)))).filter((s) => s?.state === 'active' || s?.state === 'recovering');
    assert.equal(primaries.length, 1, `primaries after etcd came back: ${primaries.map((s) => s?.name).join(', ')}`);
    await waitFor(() => producer.acceptedAt.size > 0 && Date.now() - resumedAt > 300, 'more traffic');
  } finally {
    // A failed assertion while etcd was stopped leaves sends unsettled: do not wait for ever.
    await producer.stop(15_000);
  }
  assert.deepEqual(producer.failures, []);
  const { lost, accepted } = await lostOf(producer, c.ports[leader] as number, 'probe');
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${accepted} accepted messages lost`);
});
