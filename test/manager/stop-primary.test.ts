// SIGSTOP of the primary for twice the ttl under qpid-ha-manager (issue 17): its manager cannot
// renew its serving lease, another broker is promoted once the lease has surely passed, and when
// the old primary is continued it settles nothing more (the extensions held up in its socket
// arrive after its deadline and are refused), is fenced by the new epoch, and rejoins as a
// backup; nothing accepted is lost. Longer than the default suite allows: MANAGER_LONG=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { managedClusters } from '../helpers/managers.js';
import { lostOf, ProbeProducer } from '../helpers/probe-producer.js';
import { waitFor } from '../helpers/broker-process.js';

const enabled = process.env['MANAGER_LONG'] === '1';
const TTL_S = 2;

const files = managedClusters({ enabled });

test('SIGSTOP of the primary for 2 x ttl: a backup takes over; continued, the old primary settles nothing, is fenced and rejoins; nothing lost', { skip: !enabled && 'set MANAGER_LONG=1' }, async () => {
  const { cluster: c, managers: m } = await files.start({ size: 3, heartbeatS: 0.5, backupTimeoutS: 2 }, { ttlS: TTL_S });
  m.startAll();
  const first = await m.waitForActiveLeader();
  for (let j = 0; j < 3; j++) if (j !== first) await c.waitForState(j, 'ready');
  const producer = await ProbeProducer.start(c.url, 'probe');
  let leader: number;
  try {
    await waitFor(() => producer.acceptedAt.size >= 50, 'messages accepted', 20_000);
    const reconnects = producer.reconnects;
    await c.kill(first, 'SIGSTOP');
    const stoppedAt = Date.now();
    leader = await m.waitForActiveLeader(20_000, first);
    await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + 2 * TTL_S * 1000 - Date.now())));
    const continuedAt = Date.now();
    c.broker(first).kill('SIGCONT');
    await waitFor(() => c.broker(first).child.exitCode !== null || c.broker(first).child.signalCode !== null, 'the old primary to be fenced and stop', 20_000);
    const late = producer.acceptedOver(reconnects).filter((t) => t > continuedAt);
    assert.deepEqual(late, [], 'the old primary settled messages after it was continued');
    await producer.firstAcceptAfter(continuedAt, 30_000, reconnects);
    c.brokers[first] = null;
    await c.startBroker(first);
    await c.waitForState(first, 'ready', 30_000);
  } finally {
    await producer.stop();
  }
  const { lost, accepted } = await lostOf(producer, c.ports[leader] as number, 'probe');
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${accepted} accepted messages lost`);
});
