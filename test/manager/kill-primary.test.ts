// Automatic failover by qpid-ha-manager (issue 17) on a real etcd, real brokers and real manager
// processes; nothing here promotes by hand. A fresh cluster elects a primary and the others
// become ready; then kill -9 of the primary, three times in a row with
// the killed broker restarted each time: a new primary each time, and every message the probe
// producer (the project's failover client) had accepted is on the last primary. Prints the
// median time from the kill to the next accepted message. With MANAGER_LONG=1, then a switchover
// under load: no producer error, nothing lost. MANAGER_KILLS=10 runs ten kills.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { managedClusters } from '../helpers/managers.js';
import { lostOf, ProbeProducer } from '../helpers/probe-producer.js';
import { waitFor } from '../helpers/broker-process.js';

const KILLS = Number(process.env['MANAGER_KILLS'] ?? 3);
const SWITCHOVER = process.env['MANAGER_LONG'] === '1';

const files = managedClusters();

const mark = (what: string, since: number): void => void (process.env['MANAGER_DEBUG'] && console.error(what, Date.now() - since));

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

test(`a fresh cluster elects a primary; kill -9 of the primary ${KILLS} times: a new primary each time${SWITCHOVER ? "; a switchover" : ""}; nothing accepted lost`, async () => {
  // The default --link-maintenance-interval (2 s): the managers' primary hint, not the backups' own
  // retry, is what gets the surviving backup to a new primary quickly.
  const { cluster: c, managers: m } = await files.start({ size: 3, heartbeatS: 0.5, maintenanceS: 2 });
  m.startAll();
  // A fresh cluster: every broker joining with an empty store; the managers elect one.
  let leader = await m.waitForActiveLeader();
  for (let j = 0; j < 3; j++) if (j !== leader) await c.waitForState(j, 'ready');
  const fresh = await waitFor(async () => {
    const v = await m.view();
    return v.members.length === 3 && v.members.every((e) => e.broker.state === (e.name === c.name(leader) ? 'active' : 'ready')) ? v : null;
  }, 'every member to report', 10_000);
  assert.equal(fresh.leader, c.name(leader));
  assert.equal(fresh.failovers.length, 1, 'one promotion');
  const text = await m.tool(['status']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^leader: ${c.name(leader)}\n`));
  assert.match(text.stdout, new RegExp(`${c.name(leader)} active epoch \\d+ lsn \\d+ lag 0 manager .*\\(leading\\)\n    last decision: leading: the broker is active`));
  // The leader's manager keeps renewing its broker's serving lease.
  const lease = (await c.status(leader)).lease;
  assert.ok(lease && !lease.expired && lease.remainingMs > 500, JSON.stringify(lease));
  const producer = await ProbeProducer.start(c.url, 'probe');
  const gapsMs: number[] = [];
  try {
    await producer.firstAcceptAfter(0);
    for (let k = 0; k < KILLS; k++) {
      const reconnects = producer.reconnects;
      const killedAt = Date.now();
      await c.kill(leader);
      const next = await m.waitForActiveLeader(30_000, leader);
      mark(`b${next} active after killing b${leader}`, killedAt);
      if (process.env['MANAGER_DEBUG']) {
        for (const [j, p] of m.processes.entries()) for (const l of p?.logs ?? []) if (Date.parse(String(l['time'])) >= killedAt) console.error(`mgr b${j}`, Date.parse(String(l['time'])) - killedAt, l['msg'], l['decision'] ?? '', l['reason'] ?? '');
        for (let j = 0; j < 3; j++) if (j !== leader) for (const l of c.broker(j).logs) if (Date.parse(String(l['time'])) >= killedAt) console.error(`b${j}`, Date.parse(String(l['time'])) - killedAt, l['msg'], JSON.stringify(l).slice(0, 200));
      }
      const acceptedAt = await producer.firstAcceptAfter(killedAt, 30_000, reconnects);
      gapsMs.push(acceptedAt - killedAt);
      // The killed broker comes back, beside its manager, and becomes a ready backup.
      await c.startBroker(leader);
      await c.waitForState(leader, 'ready', 30_000);
      for (let j = 0; j < 3; j++) if (j !== next) await c.waitForState(j, 'ready', 30_000);
      mark('all ready again', killedAt);
      const before = producer.acceptedAt.size;
      await producer.firstAcceptAfter(Date.now());
      assert.ok(producer.acceptedAt.size >= before);
      leader = next;
    }
    // A planned move under load (MANAGER_LONG=1: the default suite's time is short): the primary
    // stops settling, the target confirms everything and takes over; the old primary, fenced by
    // the new epoch, stops (a supervisor would restart it as a backup, as the kills above do).
    if (SWITCHOVER) await switchover();
  } finally {
    await producer.stop();
  }
  async function switchover(): Promise<void> {
    const target = (leader + 1) % 3;
    const reconnects = producer.reconnects;
    const moved = await m.tool(['switchover', '--to', c.name(target)]);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, new RegExp(`^${c.name(target)} leads`));
    assert.equal((await c.status(target)).state, 'active');
    await producer.firstAcceptAfter(Date.now(), 30_000, reconnects);
    await waitFor(() => c.broker(leader).child.exitCode !== null || c.broker(leader).child.signalCode !== null, 'the old primary to stop', 20_000);
    c.brokers[leader] = null;
    leader = target;
    assert.deepEqual(producer.failures, [], 'no producer error');
  }
  const view = await m.view();
  assert.equal(view.failovers.length, KILLS + 1 + (SWITCHOVER ? 1 : 0), 'the first election, one failover per kill, the switchover');
  assert.deepEqual(producer.failures, [], 'no producer error');
  const { lost, accepted } = await lostOf(producer, c.ports[leader] as number, 'probe');
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${accepted} accepted messages lost`);
  console.log(JSON.stringify({ scenario: 'manager kill -9 primary', kills: KILLS, accepted, lost: lost.length, killToAcceptedMsMedian: median(gapsMs), killToAcceptedMs: gapsMs }));
});
