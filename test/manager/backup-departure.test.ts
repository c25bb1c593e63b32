// A ready backup that leaves the primary's ack gate under qpid-ha-manager (issue 15's
// partitioned primary, issue 17's record): the primary settles nothing that backup lacks until
// etcd records a gate without it, so an election that may only reach that backup cannot make it
// primary and lose what the others settled (the simulator found the loss, etcd seeds 3891 and
// 4881). Here the backup is stopped (SIGSTOP) until the primary drops it: `qpid-ha status` shows
// the departure waiting, the record in etcd then names the gate without it, the producer goes
// on, and once continued and caught up the backup is in the recorded gate again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { managedClusters } from '../helpers/managers.js';
import { lostOf, ProbeProducer } from '../helpers/probe-producer.js';
import { waitFor } from '../helpers/broker-process.js';

const files = managedClusters();

test('a ready backup dropped from the gate: etcd records the gate without it before the primary settles past it; nothing accepted lost', async () => {
  const { cluster: c, managers: m } = await files.start({ size: 3, heartbeatS: 0.5, extraArgs: ['--ha-confirm-timeout', '1'] });
  m.startAll();
  const leader = await m.waitForActiveLeader();
  const backups = [0, 1, 2].filter((j) => j !== leader);
  for (const j of backups) await c.waitForState(j, 'ready');
  const [stopped, staying] = backups as [number, number];
  const both = [c.name(stopped), c.name(staying)].sort();
  await waitFor(async () => ((await m.view()).record?.gate?.join(',') === both.join(',') ? true : null), 'the record to name both backups', 15_000);

  const producer = await ProbeProducer.start(c.url, 'probe');
  try {
    await waitFor(() => producer.acceptedAt.size >= 100, 'messages accepted', 20_000);
    await c.kill(stopped, 'SIGSTOP');
    const stoppedAt = Date.now();
    // The primary drops it (no confirmation within --ha-confirm-timeout), and counts the departure.
    const gate = await waitFor(async () => {
      const g = (await c.status(leader)).gate;
      return g && (g.generation ?? 0) >= 1 ? g : null;
    }, 'the primary to drop the stopped backup', 20_000);
    assert.equal(gate.backups, 1);
    const record = await waitFor(async () => {
      const r = (await m.view()).record;
      return r && (r.generation ?? 0) >= 1 ? r : null;
    }, 'the record of the departure in etcd', 10_000);
    assert.deepEqual(record.gate, [c.name(staying)], 'the recorded gate names only the backup that stayed');
    assert.equal(record.primary, c.name(leader));
    await waitFor(async () => ((await c.status(leader)).gate?.unrecorded?.length === 0 ? true : null), 'the primary to hear that etcd records it', 10_000);
    // The producer goes on with the backup that stayed.
    const droppedAt = Date.now();
    await producer.firstAcceptAfter(droppedAt, 10_000);
    console.log(`# backup stopped -> dropped and recorded -> producer accepted again: ${droppedAt - stoppedAt} ms`);

    c.broker(stopped).kill('SIGCONT');
    await c.waitForState(stopped, 'ready', 30_000);
    await waitFor(async () => ((await m.view()).record?.gate?.join(',') === both.join(',') ? true : null), 'the record to name both backups again', 15_000);
  } finally {
    await producer.stop();
  }
  const { lost, accepted } = await lostOf(producer, c.ports[leader] as number, 'probe');
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${accepted} accepted messages lost`);
});
