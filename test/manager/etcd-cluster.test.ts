// A 3-member etcd under the managers (issue 17): kill -9 the etcd member that is raft leader and
// the primary broker at the same moment. The two surviving members elect a leader, the managers'
// etcd client moves to them, the dead primary's manager releases the key, a ready backup is
// promoted, and nothing accepted is lost. Longer than the default suite allows (3 etcd members,
// an etcd election): MANAGER_LONG=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { managedClusters } from '../helpers/managers.js';
import { lostOf, ProbeProducer } from '../helpers/probe-producer.js';
import { waitFor } from '../helpers/broker-process.js';

const enabled = process.env['MANAGER_LONG'] === '1';
const files = managedClusters({ enabled, etcdMembers: 3 });

const TTL_S = 2;

test('3-member etcd: kill -9 of the etcd leader and the primary broker together, a failover still happens and nothing is lost', { skip: !enabled && 'set MANAGER_LONG=1' }, async () => {
  const { cluster: c, managers: m } = await files.start({ size: 3, heartbeatS: 0.5, backupTimeoutS: 2 }, { ttlS: TTL_S });
  const etcd = files.etcdCluster();
  m.startAll();
  const primary = await m.waitForActiveLeader();
  for (let j = 0; j < 3; j++) if (j !== primary) await c.waitForState(j, 'ready');
  const producer = await ProbeProducer.start(c.url, 'probe');
  let leader: number;
  try {
    await waitFor(() => producer.acceptedAt.size >= 50, 'messages accepted', 20_000);
    const etcdLeader = await etcd.leader();
    const reconnects = producer.reconnects;
    const killedAt = Date.now();
    await Promise.all([etcd.kill(etcdLeader), c.kill(primary)]);
    leader = await m.waitForActiveLeader(30_000, primary);
    const acceptedAt = await producer.firstAcceptAfter(killedAt, 30_000, reconnects);
    const newEtcdLeader = await etcd.leader();
    assert.notEqual(newEtcdLeader, etcdLeader);
    console.log(`etcd leader e${etcdLeader} and primary b${primary} killed: b${leader} active, next accepted message ${acceptedAt - killedAt} ms after (etcd leader now e${newEtcdLeader})`);
    await waitFor(() => producer.acceptedAt.size > 0 && Date.now() - acceptedAt > 500, 'traffic on the new primary');
  } finally {
    await producer.stop();
  }
  assert.notEqual(leader, primary);
  const { lost, accepted } = await lostOf(producer, c.ports[leader] as number, 'probe');
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${accepted} accepted messages lost`);
});
