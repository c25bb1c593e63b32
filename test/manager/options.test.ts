// qpid-ha-manager's options (src/manager/options.ts): a bad value names its option; the tool
// exits 2 on it, as every tool of the project does, before touching etcd or the broker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ManagerOptionError, parseManagerOptions } from '../../src/manager/options.js';
import { startQpidd, TOOL } from '../helpers/broker-process.js';

const GOOD = { etcd: 'http://127.0.0.1:2379,http://127.0.0.1:2380', cluster: 'orders', broker: '127.0.0.1:5672' };

test('defaults: ttl 3 s, checks every 0.1 s, total-failure wait 30 s; the password from QPID_PASSWORD', () => {
  const o = parseManagerOptions({ ...GOOD, username: 'admin' }, { QPID_PASSWORD: 'pw' });
  assert.deepEqual(o.etcd, ['http://127.0.0.1:2379', 'http://127.0.0.1:2380']);
  assert.equal(o.ttlSeconds, 3);
  assert.equal(o.checkIntervalMs, 100);
  assert.equal(o.totalFailureWaitMs, 30_000);
  assert.equal(o.broker.port, 5672);
  assert.equal(o.password, 'pw');
});

const BAD: readonly [string, Record<string, unknown>, RegExp][] = [
  ['etcd', { ...GOOD, etcd: undefined }, /required/],
  ['etcd', { ...GOOD, etcd: '127.0.0.1:2379' }, /http:\/\/HOST:PORT/],
  ['cluster', { ...GOOD, cluster: 'a/b' }, /letters, digits/],
  ['broker', { ...GOOD, broker: undefined }, /required/],
  ['ttl', { ...GOOD, ttl: '1' }, /at least 2/],
  ['ttl', { ...GOOD, ttl: '2.5' }, /whole number/],
  ['check-interval', { ...GOOD, 'check-interval': 'fast' }, /not a number/],
  ['check-interval', { ...GOOD, ttl: '3', 'check-interval': '1' }, /quarter of --ttl/],
  ['total-failure-wait', { ...GOOD, 'total-failure-wait': '-1' }, /at least 0/],
];

for (const [option, raw, message] of BAD) {
  test(`--${option}: ${message.source}`, () => {
    assert.throws(
      () => parseManagerOptions(raw),
      (err: unknown) => err instanceof ManagerOptionError && err.option === option && message.test(err.message) && err.message.startsWith(`--${option}: `),
    );
  });
}

test('the tool exits 2 naming the bad option', () => {
  const bad = spawnSync(process.execPath, [TOOL('qpid-ha-manager'), '--etcd', 'http://127.0.0.1:1', '--cluster', 'c', '--broker', '127.0.0.1:1', '--ttl', 'soon'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--ttl: "soon" is not a number of seconds/);
});

test('a standalone broker is refused: a manager only manages cluster brokers', async () => {
  const broker = await startQpidd();
  try {
    const run = spawnSync(process.execPath, [TOOL('qpid-ha-manager'), '--etcd', 'http://127.0.0.1:1', '--cluster', 'c', '--broker', `127.0.0.1:${broker.port}`], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /is standalone: start it with --ha-cluster yes/);
  } finally {
    await broker.stop();
  }
});
