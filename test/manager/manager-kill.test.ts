// When the primary's manager dies (kill -9), nobody renews the primary's serving lease: the
// primary stops settling producers at its deadline, before its leader key expires in etcd; then
// a backup's manager takes the key after the ttl and promotes its broker, and nothing accepted
// is lost. Then pause: with automatic actions paused, killing the primary promotes nobody until
// an operator resumes. Real etcd, brokers and managers (issue 17).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { managedClusters, wholeManagedCluster } from '../helpers/managers.js';
import { lostOf } from '../helpers/probe-producer.js';
import { waitFor } from '../helpers/broker-process.js';

const files = managedClusters();

const TTL_S = 2;

test('kill -9 of the primary\'s manager: the primary stops settling at its deadline, a backup takes over after the ttl; then pause stops promotion', async () => {
  const { cluster: c, managers: m, leader: first, producer } = await wholeManagedCluster(files, TTL_S);
  let leader: number;
  try {
    const reconnects = producer.reconnects;
    const killedAt = Date.now();
    await m.kill(first);
    // The primary's deadline passes (about ttl - margin after the last renewal).
    const expiredAt = await waitFor(async () => ((await c.status(first).catch(() => null))?.lease?.expired ? Date.now() : null), 'the old primary\'s lease to expire', 10_000, 20);
    assert.ok(expiredAt - killedAt < TTL_S * 1000, `the lease expired ${expiredAt - killedAt} ms after the manager died, not before the ttl`);
    leader = await m.waitForActiveLeader(20_000, first);
    const activeAt = Date.now();
    assert.ok(activeAt - killedAt >= TTL_S * 1000 - 150, `a new primary ${activeAt - killedAt} ms after the manager died: before its key could expire`);
    // Nothing was settled by the old primary once its deadline had passed (allowing for the
    // status poll's round trip); the probe's next accept came from the new primary.
    const lateOnOld = producer.acceptedOver(reconnects).filter((t) => t > expiredAt + 100).length;
    assert.ok(producer.acceptedOver(reconnects).length > 0);
    assert.equal(lateOnOld, 0, `${lateOnOld} messages accepted after the old primary's lease expired`);
    await producer.firstAcceptAfter(activeAt, 30_000, reconnects);
    // The old primary, fenced by the higher epoch, stops.
    await waitFor(() => c.broker(first).child.exitCode !== null || c.broker(first).child.signalCode !== null, 'the fenced primary to stop', 20_000);
    c.brokers[first] = null;
  } finally {
    await producer.stop();
  }
  const { lost, accepted } = await lostOf(producer, c.ports[leader] as number, 'probe');
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${accepted} accepted messages lost`);

  // Paused: a dead primary is not replaced.
  const paused = await m.tool(['pause']);
  assert.equal(paused.code, 0, paused.stderr);
  await waitFor(async () => (await m.view()).paused, 'the pause to be visible');
  const failoversBefore = (await m.view()).failovers.length;
  await c.kill(leader);
  await new Promise((r) => setTimeout(r, 2 * TTL_S * 1000));
  const view = await m.view();
  assert.equal(view.leader, null);
  assert.equal(view.failovers.length, failoversBefore, 'no promotion while paused');
  const survivor = [0, 1, 2].find((j) => j !== leader && j !== first) as number;
  assert.equal((await c.status(survivor)).state, 'ready');
  assert.ok(view.members.some((e) => e.decision?.reason === 'no leader, and automatic actions are paused'), JSON.stringify(view.members.map((e) => e.decision)));
  const status = await m.tool(['status']);
  assert.match(status.stdout, /^leader: \(none\) \(PAUSED: no automatic actions\)/);
  // Resumed: the election runs.
  assert.equal((await m.tool(['resume'])).code, 0);
  const next = await m.waitForActiveLeader(20_000, leader);
  assert.notEqual(next, leader);
});
