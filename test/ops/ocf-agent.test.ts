// The Pacemaker resource agent tools/ocf/qpidd against real brokers (issue 17). First the
// resource-agents package's own conformance checker, ocf-tester, on one broker: it must pass;
// bad parameters are configuration errors. Then (OCF_LONG=1, a minute) the agent's actions as
// Pacemaker would run them on the three nodes of a promotable clone (here three brokers on
// loopback): start x3, monitor codes and promotion scores, promote one
// (monitor 8), demote it (a restart: it comes back a backup), promote another, and the demoted
// broker becomes a ready backup of it. Pacemaker's attribute store is not here: the scores are
// read from a crm_attribute in HA_SBIN_DIR that appends its arguments to a file (the agent calls
// Pacemaker's tool exactly as under Pacemaker; only the receiving end is ours).
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIST, freePort, removeDir, tempDir, waitFor } from '../helpers/broker-process.js';
import { managementRequest } from '../../src/management/client.js';
import type { HaStatus } from '../../src/ha/node.js';

const AGENT = join(DIST, '..', 'tools', 'ocf', 'qpidd');
const OCF_TESTER = '/usr/sbin/ocf-tester';
// The 3-node run takes 25-60 s on the shared machine: beyond the default suite's budget.
const LONG = process.env['OCF_LONG'] === '1';
const canRunTester = existsSync(OCF_TESTER) && process.getuid?.() === 0;
const OCF_CODES = { success: 0, configured: 6, notRunning: 7, promoted: 8 } as const;
// Short link intervals, so that backups find a new primary quickly on a loaded machine.
const BROKER_OPTIONS = '--link-maintenance-interval 0.1 --link-heartbeat-interval 1 --ha-backup-timeout 5 --log-level info';

const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
  for (const dir of dirs) removeDir(dir);
});

function run(command: string, args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, [...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Kills whatever broker the agent left running in a data dir (a failed test must not leave one). */
function killLeftover(dataDir: string): void {
  try {
    const pid = Number(readFileSync(join(dataDir, 'qpidd-ocf.pid'), 'utf8'));
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // no pid file, or the process is gone
  }
}

// Side by side: they mostly wait for brokers and tools to start and stop.
describe('the OCF agent', { concurrency: 2 }, () => {
  test('ocf-tester passes the agent against a real broker', { skip: canRunTester ? false : 'needs /usr/sbin/ocf-tester and root' }, async () => {
    const dataDir = tempDir('qpidd-ocf-');
    dirs.push(dataDir);
    cleanups.push(async () => killLeftover(dataDir));
    const port = await freePort();
    // ocf-tester runs meta-data as user nobody, who may not reach a checkout under /root: then
    // it tests a copy of the agent in a directory nobody can read, told where the broker is.
    let agent = AGENT;
    const extra: string[] = [];
    if (spawnSync('su', ['nobody', '-s', '/bin/sh', '-c', `test -r '${AGENT}'`]).status !== 0) {
      const copyDir = tempDir('qpidd-ocf-agent-');
      dirs.push(copyDir);
      chmodSync(copyDir, 0o755);
      agent = join(copyDir, 'qpidd');
      copyFileSync(AGENT, agent);
      chmodSync(agent, 0o755);
      extra.push('-o', `binary=${join(DIST, 'tools', 'qpidd.js')}`);
    }
    const result = await run(OCF_TESTER, ['-n', 'qpidd-test', '-o', `data_dir=${dataDir}`, '-o', `port=${port}`, '-o', `ha_brokers_url=127.0.0.1:${port}`, '-o', `options=${BROKER_OPTIONS}`, ...extra, agent], { OCF_ROOT: '/usr/lib/ocf' });
    assert.equal(result.code, 0, `ocf-tester failed:\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /passed all tests/);
  });

  test('bad configuration: validate-all and start refuse with OCF_ERR_CONFIGURED, naming what is wrong', async () => {
    const dataDir = tempDir('qpidd-ocf-');
    dirs.push(dataDir);
    cleanups.push(async () => killLeftover(dataDir));
    const port = await freePort();
    const agent = (action: string, extra: Record<string, string>) => run(AGENT, [action], { OCF_ROOT: '/usr/lib/ocf', OCF_RESOURCE_INSTANCE: 'qpidd-bad', OCF_RESKEY_CRM_meta_timeout: '20000', OCF_RESKEY_data_dir: dataDir, OCF_RESKEY_port: String(port), OCF_RESKEY_ha_brokers_url: `127.0.0.1:${port}`, ...extra });
    const [missing, badPort, badOption] = await Promise.all([agent('validate-all', { OCF_RESKEY_ha_brokers_url: '' }), agent('validate-all', { OCF_RESKEY_port: 'x' }), agent('start', { OCF_RESKEY_options: '--no-such-option 1' })]);
    assert.equal(missing.code, OCF_CODES.configured);
    assert.match(missing.stderr, /ha_brokers_url is required/);
    assert.equal(badPort.code, OCF_CODES.configured);
    assert.match(badPort.stderr, /port must be an integer/);
    assert.equal(badOption.code, OCF_CODES.configured, `a bad qpidd option is a configuration error: ${badOption.stderr}`);
    assert.match(badOption.stderr, /no-such-option/);
    assert.equal((await agent('monitor', {})).code, OCF_CODES.notRunning);
  });

  test('the agent on a 3-node promotable clone: start, monitor codes and scores, promote, demote to a backup', { skip: LONG ? false : 'set OCF_LONG=1' }, async () => {
    const ports: number[] = [];
    while (ports.length < 3) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const url = ports.map((p) => `127.0.0.1:${p}`).join(',');
    const dataDirs = ports.map(() => tempDir('qpidd-ocf-'));
    dirs.push(...dataDirs);
    // What Pacemaker's crm_attribute would store: one line per call, with the instance it came from.
    const sbin = tempDir('qpidd-ocf-sbin-');
    dirs.push(sbin);
    const scoreLog = join(sbin, 'scores.log');
    writeFileSync(join(sbin, 'crm_attribute'), `#!/bin/sh\necho "$OCF_RESOURCE_INSTANCE $*" >> "${scoreLog}"\n`);
    chmodSync(join(sbin, 'crm_attribute'), 0o755);

    const agent = async (i: number, action: string, extra: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      await run(AGENT, [action], {
        OCF_ROOT: '/usr/lib/ocf',
        OCF_RESOURCE_INSTANCE: `qpidd:${i}`,
        OCF_RESKEY_CRM_meta_timeout: '40000',
        OCF_RESKEY_CRM_meta_interval: '10000',
        OCF_RESKEY_CRM_meta_promotable: 'true',
        OCF_RESKEY_data_dir: dataDirs[i] as string,
        OCF_RESKEY_port: String(ports[i]),
        OCF_RESKEY_name: `b${i}`,
        OCF_RESKEY_ha_brokers_url: url,
        OCF_RESKEY_options: BROKER_OPTIONS,
        HA_SBIN_DIR: sbin,
        ...extra,
      });
    cleanups.push(async () => {
      await Promise.all(ports.map((_, i) => agent(i, 'stop')));
      for (const dir of dataDirs) killLeftover(dir);
    });
    const code = async (i: number, action: string): Promise<number | null> => {
      const r = await agent(i, action);
      return r.code;
    };
    const status = (i: number): Promise<HaStatus> => managementRequest<HaStatus>({ transport: 'tcp', host: '127.0.0.1', port: ports[i] as number }, 'status', {}, { admin: true, timeoutMs: 5000 });
    /** The score broker i's last monitor gave Pacemaker (a number, or 'deleted'). */
    const lastScore = (i: number): number | 'deleted' | null => {
      const lines = existsSync(scoreLog) ? readFileSync(scoreLog, 'utf8').trim().split('\n') : [];
      const mine = lines.filter((l) => l.startsWith(`qpidd:${i} `));
      const last = mine[mine.length - 1];
      if (!last) return null;
      if (/ -D\b/.test(last)) return 'deleted';
      const value = / -v (\d+)/.exec(last);
      return value ? Number(value[1]) : null;
    };

    // A probe before anything runs: not running, on every node.
    assert.deepEqual(await Promise.all(ports.map((_, i) => code(i, 'monitor'))), [7, 7, 7]);
    assert.deepEqual(await Promise.all(ports.map((_, i) => code(i, 'start'))), [0, 0, 0]);
    // All joining, no primary anywhere: every one a candidate, ranked by store (equal here, so by name).
    for (let i = 0; i < 3; i++) assert.equal((await status(i)).state, 'joining');
    assert.deepEqual(await Promise.all(ports.map((_, i) => code(i, 'monitor'))), [0, 0, 0]);
    assert.deepEqual([0, 1, 2].map(lastScore), [100, 90, 80]);

    assert.equal(await code(0, 'promote'), OCF_CODES.success);
    assert.equal(await code(0, 'monitor'), OCF_CODES.promoted);
    const promoted = await status(0);
    assert.equal(promoted.state, 'active');
    assert.equal(lastScore(0), 1000);
    // The other two become ready backups of b0: promotable, below the primary.
    for (const i of [1, 2]) await waitFor(async () => (await status(i)).state === 'ready', `b${i} ready`, 30_000, 100);
    assert.deepEqual(await Promise.all([1, 2].map((i) => code(i, 'monitor'))), [0, 0]);
    for (const i of [1, 2]) {
      const score = lastScore(i);
      assert.ok(typeof score === 'number' && score >= 800 && score < 1000, `b${i}'s score ${String(score)} is a ready backup's`);
    }
    assert.notEqual(lastScore(1), lastScore(2), 'no two backups tie');
    // Promoting the promoted is a no-op.
    assert.equal(await code(0, 'promote'), OCF_CODES.success);
    assert.equal((await status(0)).epoch, promoted.epoch, 'no new epoch');

    // Demote: b0 restarts as a backup (a primary never turns into a backup in place).
    const pidBefore = readFileSync(join(dataDirs[0] as string, 'qpidd-ocf.pid'), 'utf8');
    assert.equal(await code(0, 'demote'), OCF_CODES.success);
    assert.notEqual(readFileSync(join(dataDirs[0] as string, 'qpidd-ocf.pid'), 'utf8'), pidBefore, 'demote restarted the broker');
    assert.equal(await code(0, 'monitor'), OCF_CODES.success);
    assert.ok(['joining', 'catchup', 'ready'].includes((await status(0)).state));
    // Pacemaker promotes the best ready backup next; b0 becomes a ready backup of it.
    assert.equal(await code(1, 'promote'), OCF_CODES.success);
    assert.equal(await code(1, 'monitor'), OCF_CODES.promoted);
    await waitFor(async () => (await status(0)).state === 'ready' && (await status(0)).primary === 'b1', 'b0 a ready backup of b1', 30_000, 100);
    assert.equal(await code(0, 'monitor'), OCF_CODES.success);
    const demotedScore = lastScore(0);
    assert.ok(typeof demotedScore === 'number' && demotedScore < 1000, 'the demoted broker is promotable again, below the primary');

    assert.deepEqual(await Promise.all(ports.map((_, i) => code(i, 'stop'))), [0, 0, 0]);
    assert.deepEqual(await Promise.all(ports.map((_, i) => code(i, 'monitor'))), [7, 7, 7]);
    assert.equal(lastScore(0), 'deleted', 'a stopped broker gives up its score');
  });
});
