// `qpid-ha drill` (issue 17) on a real cluster run by real qpid-ha-manager processes on a real
// etcd: two kill -9 drills with --restart, whose JSON must give every phase in order (fault ->
// detection -> promotion -> active, and the probe's first accepted message after the promotion)
// and lose nothing; then one without --restart, the test restarting the killed broker as its
// supervisor would. The drill signals only a pid its broker.json names on this host: with the
// primary's broker.json gone it refuses and the primary lives on. Bad options exit 2 naming the
// option. DRILL_LONG=1 runs ten kill drills and two of each other fault (a few minutes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { managedClusters } from '../helpers/managers.js';
import { readEndpoint } from '../../src/management/endpoint.js';
import type { DrillReport } from '../../tools/lib/drill.js';

const LONG = process.env['DRILL_LONG'] === '1';
const files = managedClusters();
/** Processes the drill started again (--restart): detached, they outlive it and the test. */
const restartedPids: number[] = [];

/** Whether `pid` runs (a zombie, dead but not yet collected by its parent, does not). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

test(`qpid-ha drill: ${LONG ? 'kill x10, stop x2, manager-kill x2, host-loss x2' : 'kill x2'} with --restart, the phases in order, nothing lost; it refuses a pid broker.json does not name`, async () => {
  const { cluster: c, managers: m } = await files.start({ size: 3, heartbeatS: 0.5, backupTimeoutS: 2 }, { ttlS: 2 });
  m.startAll();
  const leader = await m.waitForActiveLeader();
  for (let j = 0; j < 3; j++) if (j !== leader) await c.waitForState(j, 'ready');
  const drill = (args: readonly string[]) => c.tool('qpid-ha', ['drill', '-b', `127.0.0.1:${c.ports[0]}`, '--etcd', m.etcd.url, '--cluster', m.clusterName, ...args]);
  try {
    // Bad options: exit 2, naming the option.
    const [badFault, badCount, noEtcd] = await Promise.all([drill(['--fault', 'explode']), drill(['--fault', 'kill', '--count', '0']), c.tool('qpid-ha', ['drill', '-b', `127.0.0.1:${c.ports[0]}`, '--fault', 'kill'])]);
    assert.equal(badFault.code, 2);
    assert.match(badFault.stderr, /--fault: expected kill, stop, manager-kill, host-loss, got "explode"/);
    assert.equal(badCount.code, 2);
    assert.match(badCount.stderr, /--count/);
    assert.equal(noEtcd.code, 2);
    assert.match(noEtcd.stderr, /--etcd: required/);

    // Without its broker.json the primary's pid is not vouched for: refused, nothing signalled.
    const primaryDir = c.dataDirs[leader] as string;
    renameSync(join(primaryDir, 'broker.json'), join(primaryDir, 'broker.json.hidden'));
    const refused = await drill(['--fault', 'kill', '--timeout', '20']);
    renameSync(join(primaryDir, 'broker.json.hidden'), join(primaryDir, 'broker.json'));
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /broker\.json on this host is missing: refusing to signal it/);
    assert.equal((await c.status(leader)).state, 'active', 'the primary was not touched');

    const plan: [string, number][] = LONG ? [['kill', 10], ['stop', 2], ['manager-kill', 2], ['host-loss', 2]] : [['kill', 2]];
    for (const [fault, count] of plan) {
      const result = await drill(['--fault', fault, '--count', String(count), '--restart', '--json', '--timeout', '60']);
      const report = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as DrillReport;
      for (const r of report.restarted ?? []) restartedPids.push(r.pid);
      assert.equal(result.code, 0, `drill --fault ${fault} failed: ${result.stderr}\n${result.stdout}`);
      assert.equal(report.fault, fault);
      assert.equal(report.drills.length, count);
      for (const d of report.drills) {
        assert.notEqual(d.from, d.to, 'a new primary');
        assert.ok(d.detectionMs >= 0 && d.detectionMs <= d.promotionMs, `detection (${d.detectionMs} ms) before promotion (${d.promotionMs} ms)`);
        assert.ok(d.promotionMs <= d.activeMs, `promotion (${d.promotionMs} ms) before active (${d.activeMs} ms)`);
        assert.ok(d.promotionMs <= d.firstAcceptedMs, `promotion (${d.promotionMs} ms) before the first accepted message (${d.firstAcceptedMs} ms)`);
      }
      // Each drill killed (and --restart started again) the primary of its time.
      assert.equal(report.restarted.filter((r) => r.what === 'broker').length, count);
      assert.ok(report.accepted > 0);
      assert.equal(report.lost, 0, `lost ${report.lost} of ${report.accepted}: ${report.lostExamples.join(', ')}`);
      console.error(`qpid-ha drill --fault ${fault} x${count}: medians ${JSON.stringify(report.medians)}, accepted ${report.accepted}, lost ${report.lost}`);
    }

    // Without --restart the drill restarts nothing: the broker it kills is its supervisor's to
    // restart. Here the test is that supervisor: it restarts a broker whose broker.json names a
    // dead pid, and the drill waits for the cluster to be whole again before it reports.
    const restarting = new Set<number>();
    const supervisor = setInterval(() => {
      for (let i = 0; i < c.dataDirs.length; i++) {
        const endpoint = readEndpoint(c.dataDirs[i] as string);
        if (restarting.has(i) || !endpoint || running(endpoint.pid)) continue;
        restarting.add(i);
        // A failed start is tried again on the next tick (the drill reports if the cluster never heals).
        void c.startBroker(i).catch(() => {}).finally(() => restarting.delete(i));
      }
    }, 100);
    try {
      const result = await drill(['--fault', 'kill', '--count', '1', '--json', '--timeout', '60']);
      assert.equal(result.code, 0, `drill without --restart failed: ${result.stderr}\n${result.stdout}`);
      const report = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as DrillReport;
      assert.deepEqual(report.restarted, [], 'the drill restarted nothing itself');
      assert.equal(report.drills.length, 1);
      assert.equal(report.lost, 0);
    } finally {
      clearInterval(supervisor);
    }
  } finally {
    // What the drill started again runs detached, outside the test's process group: managers
    // first (so that none reacts), then any broker a data dir's broker.json names.
    for (const pid of restartedPids) killQuietly(pid);
    for (const dir of c.dataDirs) {
      const endpoint = readEndpoint(dir);
      if (endpoint && !c.brokers.some((b) => b?.child.pid === endpoint.pid)) killQuietly(endpoint.pid);
    }
  }
});

