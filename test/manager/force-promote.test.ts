// `qpid-ha-manager force-promote BROKER` after a total failure where only the broker that died
// first comes back (issue 17): its manager will not promote it (the record the last leader wrote
// to etcd is ahead of its store, total-failure.test.ts), and an operator who gives up on the
// others forces it. The tool says what will be lost, the etcd record's LSN against the store's,
// before promoting; the broker serves (once another broker is back as its backup: min-backups),
// its manager adopts it (the leader key names it), and what is lost is what the record said
// could be: messages accepted after that broker died.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { managedClusters } from '../helpers/managers.js';
import { lostOf, ProbeProducer } from '../helpers/probe-producer.js';
import { waitFor } from '../helpers/broker-process.js';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const files = managedClusters();

const TTL_S = 2;

test('force-promote of the broker that died first: it says what is lost (record LSN against the store), then promotes it, and its manager adopts it', async () => {
  const { cluster: c, managers: m } = await files.start({ size: 3, heartbeatS: 0.5, backupTimeoutS: 2 }, { ttlS: TTL_S, totalFailureWaitS: 1 });
  m.startAll();
  const primary = await m.waitForActiveLeader();
  for (let j = 0; j < 3; j++) if (j !== primary) await c.waitForState(j, 'ready');
  const firstDead = (primary + 1) % 3;
  const other = (primary + 2) % 3;
  const producer = await ProbeProducer.start(c.url, 'probe');
  let acceptedWhileFirstDeadLived: number;
  try {
    await waitFor(() => producer.acceptedAt.size >= 50, 'messages accepted by the whole cluster', 20_000);
    await m.kill(firstDead);
    await c.kill(firstDead);
    acceptedWhileFirstDeadLived = producer.acceptedAt.size;
    // Where its store ends, read from the store itself: its last report in etcd can be a second
    // old (figures are republished every second), and a record past that stale figure need not
    // be past the store (CI, once: record LSN 102, store LSN 102).
    const behind = storeEnd(c.dataDirs[firstDead] as string);
    await waitFor(() => producer.acceptedAt.size >= acceptedWhileFirstDeadLived + 100, 'messages accepted after it died', 20_000);
    await waitFor(async () => ((await m.view()).record?.lsn ?? 0) > behind + 50, "the record in etcd to pass the dead broker's store", 10_000);
  } finally {
    await producer.stop(15_000);
  }
  await m.kill(primary);
  await m.kill(other);
  await c.kill(primary);
  await c.kill(other);
  await waitFor(async () => (await m.view()).leader === null, 'the leader key to expire', 10_000);

  await c.startBroker(firstDead);
  m.start(firstDead);
  await waitFor(async () => (await m.view()).members.find((e) => e.name === c.name(firstDead) && e.decision?.decision === 'not promoting') ?? null, 'its manager to refuse', 15_000);
  const record = (await m.view()).record as { epoch: number; lsn: number };
  const store = (await c.status(firstDead)).lastLsn;
  assert.ok(record.lsn > store, `record LSN ${record.lsn}, store LSN ${store}`);

  const forced = await m.tool(['force-promote', c.name(firstDead)]);
  assert.equal(forced.code, 0, forced.stderr);
  // What will be lost, in the record's terms and the store's.
  assert.match(forced.stderr, new RegExp(`record in etcd says the cluster reached epoch ${record.epoch} LSN ${record.lsn}`));
  assert.match(forced.stderr, new RegExp(`store ends at epoch \\d+ LSN ${store}: up to ${record.lsn - store} log records accepted after are lost`));
  // Killed, it left the primary's gate, and the record names the gate without it.
  assert.match(forced.stderr, new RegExp(`${c.name(firstDead)} is outside the ack gate the record names for epoch ${record.epoch} \\(primary ${c.name(primary)}, backups ${c.name(other)}\\)`));
  assert.match(forced.stdout, new RegExp(`^${c.name(firstDead)}: (recovering|active) \\(epoch \\d+\\)`));

  // Its manager adopts it: the leader key names it and it keeps serving past the forced lease.
  const leader = await m.waitForActiveLeader(15_000);
  assert.equal(leader, firstDead);
  // It settles once --ha-min-backups (1) is met: another broker comes back and, its store ahead
  // of the forced one's, resyncs from it (what the tool warned would be lost).
  await c.startBroker(other);
  m.start(other);
  await c.waitForState(other, 'ready', 30_000);
  const after = await ProbeProducer.start(c.url, 'probe-after');
  try {
    const since = Date.now();
    await after.firstAcceptAfter(since, 15_000);
    await new Promise((r) => setTimeout(r, TTL_S * 1000 + 500));
    await after.firstAcceptAfter(Date.now() - 200, 5_000);
  } finally {
    await after.stop(15_000);
  }
  // What was lost is what it said could be: only messages accepted after it had died.
  const { lost } = await lostOf(producer, c.ports[firstDead] as number, 'probe');
  assert.ok(lost.length > 0, 'messages accepted after the forced broker died are gone');
  const lostEarly = lost.filter((sn) => sn < acceptedWhileFirstDeadLived - 25);
  assert.deepEqual(lostEarly.slice(0, 10), [], 'nothing the forced broker had confirmed is lost');
});

/** The last LSN of a stopped broker's store, as `qpid-store inspect` reads it. */
function storeEnd(dataDir: string): number {
  const tool = fileURLToPath(new URL('../../tools/qpid-store.js', import.meta.url));
  const out = execFileSync(process.execPath, [tool, 'inspect', '--data-dir', dataDir, '--json'], { encoding: 'utf8' });
  return (JSON.parse(out) as { meta: { lastLsn: number } }).meta.lastLsn;
}
