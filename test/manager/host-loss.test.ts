// A host lost (issue 17): the primary's manager and broker are killed together, so nobody gives
// the leader key back. The backups' managers, whose brokers lost their primary, watch the key's
// etcd lease and revoke it once it has surely expired (src/manager/lease-expiry.ts), instead of
// waiting for etcd's next sweep. The key must never go before it could have expired: a new
// leader no sooner than the ttl after the last renewal; and nothing accepted is lost. Real etcd,
// brokers and managers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { managedClusters, wholeManagedCluster } from '../helpers/managers.js';
import { lostOf } from '../helpers/probe-producer.js';
import { waitFor } from '../helpers/broker-process.js';

const files = managedClusters();
const TTL_S = 2;
const CHECK_INTERVAL_MS = 100;

test('host loss: the key goes once its lease has expired, never sooner, a backup takes over, and nothing accepted is lost', async () => {
  const { cluster: c, managers: m, leader: first, producer } = await wholeManagedCluster(files, TTL_S);
  let leader: number;
  try {
    const reconnects = producer.reconnects;
    // The host goes: its manager first (no renewal, no release), then its broker.
    const killedAt = Date.now();
    await m.kill(first);
    await c.kill(first);
    const goneAt = await waitFor(async () => ((await m.view()).leader !== c.name(first) ? Date.now() : null), 'the old leader key to go', 10_000, 10);
    // Its last keep-alive was at most a check interval before the kill (plus the kill's own time).
    assert.ok(goneAt - killedAt >= TTL_S * 1000 - CHECK_INTERVAL_MS - 50, `the key went ${goneAt - killedAt} ms after the host was lost: before its lease could expire`);
    leader = await m.waitForActiveLeader(20_000, first);
    await producer.firstAcceptAfter(killedAt, 30_000, reconnects);
  } finally {
    await producer.stop();
  }
  const { lost, accepted } = await lostOf(producer, c.ports[leader] as number, 'probe');
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${accepted} accepted messages lost`);
  // etcd's own sweep (every 500 ms) may get there first: then no manager needed to revoke.
  const revoked = m.processes.some((p) => p?.logs.some((l) => String(l['msg']).startsWith("the leader's etcd lease has expired")));
  console.log(`host loss: the key was ${revoked ? 'revoked by a backup\'s manager' : 'swept by etcd'}`);
});
