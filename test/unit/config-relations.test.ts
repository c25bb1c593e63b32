// Relations between options, checked after merging (STYLE.md 6): each violation is a RELATION
// error whose message gives the reason and where each involved value came from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, redactConfig, type LoadConfigResult } from '../../src/config/index.js';

function load(argv: readonly string[], env: Record<string, string> = {}): LoadConfigResult {
  return loadConfig({ argv, env, cwd: '/srv/qpid', homeDir: '/home/tester' });
}

function expectRelation(argv: readonly string[], pattern: RegExp, option: string, env: Record<string, string> = {}): ConfigError {
  let caught: unknown;
  try {
    load(argv, env);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a RELATION error for ${argv.join(' ')}`);
  assert.equal(caught.code, 'BAD_CONFIG');
  assert.equal(caught.kind, 'RELATION');
  assert.equal(caught.exitCode, 2);
  assert.equal(caught.option, option);
  assert.match(caught.message, pattern);
  return caught;
}

test('ha-cluster=yes requires ha-brokers-url, because backups find the primary through it', () => {
  const err = expectRelation(
    ['--ha-cluster', 'yes'],
    /^ha-cluster is yes but ha-brokers-url is not set: backups could not find the primary \[ha-cluster: command line, ha-brokers-url: not set\]$/,
    'ha-cluster',
  );
  assert.deepEqual(err.source, { kind: 'cli' });
  expectRelation([], /\[ha-cluster: QPIDD_HA_CLUSTER/, 'ha-cluster', { QPIDD_HA_CLUSTER: 'yes' });
  assert.equal(load(['--ha-cluster', 'yes', '--ha-brokers-url', 'a,b,c']).kind, 'config');
  assert.equal(load(['--ha-queue-replication', 'yes']).kind, 'config'); // queue replication alone needs no cluster URL
});

test('connection-idle-timeout and handshake-timeout are one limit: giving both is refused, naming them', () => {
  expectRelation(['--connection-idle-timeout', '5', '--handshake-timeout', '6'], /^connection-idle-timeout and handshake-timeout are two names of one limit: give one of them \[connection-idle-timeout: command line, handshake-timeout: command line\]$/, 'connection-idle-timeout');
  const one = load(['--connection-idle-timeout', '5']);
  assert.ok(one.kind === 'config');
  assert.equal(one.config.handshakeTimeoutMs, 5000);
});

test('max-unsettled-per-link and max-unsettled are one limit: giving both is refused, naming them', () => {
  expectRelation(['--max-unsettled-per-link', '5', '--max-unsettled', '6'], /^max-unsettled-per-link and max-unsettled are two names of one limit: give one of them \[max-unsettled-per-link: command line, max-unsettled: command line\]$/, 'max-unsettled-per-link');
});

test('http-port must differ from port when both are non-zero', () => {
  expectRelation(['--http-port', '5672'], /^http-port 5672 equals port 5672: .*cannot bind the same port \[http-port: command line, port: default\]$/, 'http-port');
  expectRelation(['--port', '8000'], /^http-port 8000 equals port 8000: .*\[http-port: QPIDD_HTTP_PORT, port: command line\]$/, 'http-port', { QPIDD_HTTP_PORT: '8000' });
  // Port 0 means "pick a free port": two zeros get two different ports.
  const both = load(['--port', '0', '--http-port', '0']);
  assert.ok(both.kind === 'config');
  assert.equal(both.config.httpPort, 0);
  assert.equal(load(['--http-port', '8080']).kind, 'config');
});

test('max-message-size must not exceed store-map-size: such a message could never be stored', () => {
  expectRelation(['--max-message-size', '1G', '--store-map-size', '512M'], /^max-message-size 1G exceeds store-map-size 512M: .*never stored/, 'max-message-size');
  assert.equal(load(['--max-message-size', '1G', '--store-map-size', '1G']).kind, 'config'); // equal is allowed
});

test('link intervals below 100 ms are refused by their schema: they would be a busy loop or drop every backup', () => {
  for (const [option, text] of [['link-maintenance-interval', '0'], ['link-maintenance-interval', '99ms'], ['link-heartbeat-interval', '0s'], ['link-heartbeat-interval', '1ms']] as const) {
    let caught: unknown;
    try {
      load([`--${option}`, text]);
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof ConfigError && caught.kind === 'BAD_VALUE' && caught.option === option, `--${option} ${text}: ${String(caught)}`);
    assert.match(caught.message, /expected at least 0\.1s \(100 ms\)/);
  }
  const floor = load(['--link-maintenance-interval', '100ms', '--link-heartbeat-interval', '0.1']);
  assert.ok(floor.kind === 'config');
  assert.deepEqual([floor.config.ha.linkMaintenanceIntervalMs, floor.config.ha.linkHeartbeatIntervalMs], [100, 100]);
});

test('HA credentials: a password needs a user, and an explicit PLAIN needs a user', () => {
  expectRelation(['--ha-password', 'x'], /^ha-password is set but ha-username is not/, 'ha-password');
  expectRelation(['--ha-mechanism', 'plain'], /^ha-mechanism is PLAIN but ha-username is not set/, 'ha-mechanism');
  const anonymous = load([]);
  assert.ok(anonymous.kind === 'config');
  assert.equal(anonymous.config.ha.mechanism, 'ANONYMOUS');
  const explicit = load(['--ha-username', 'bob', '--ha-mechanism', 'ANONYMOUS']);
  assert.ok(explicit.kind === 'config');
  assert.equal(explicit.config.ha.mechanism, 'ANONYMOUS');
});

test('every violated relation is reported at once, one per line', () => {
  const err = expectRelation(['--ha-cluster', 'yes', '--http-port', '5672', '--ha-password', 'x'], /ha-cluster is yes/, 'ha-cluster');
  const lines = err.message.split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[1] as string, /^http-port 5672 equals port 5672/);
  assert.match(lines[2] as string, /^ha-password is set but ha-username is not/);
});

test('redactConfig hides passwords, including those inside URLs, and leaves the original intact', () => {
  const result = load([
    '--ha-cluster=yes',
    '--ha-brokers-url=amqp:bob/secret@node1,node2',
    '--ha-public-url=alice/pw@vip',
    '--ha-username=bob',
    '--ha-password=secret',
  ]);
  assert.ok(result.kind === 'config');
  const redacted = redactConfig(result.config);
  assert.equal(redacted.ha.password, '***');
  assert.equal(redacted.ha.brokersUrlText, 'amqp:bob/***@node1,node2');
  assert.equal(redacted.ha.brokersUrl?.password, '***');
  assert.equal(redacted.ha.publicUrlText, 'alice/***@vip');
  assert.ok(!JSON.stringify(redacted).includes('secret'));
  assert.ok(!JSON.stringify(redacted).includes('"pw"'));
  assert.equal(result.config.ha.password, 'secret');
  assert.equal(result.config.ha.brokersUrl?.password, 'secret');
});

test('flow thresholds: resume above stop is refused, naming both', () => {
  expectRelation(['--default-flow-resume-threshold', '90'], /^default-flow-resume-threshold 90 is above default-flow-stop-threshold 80: a queue would stop and resume at once/, 'default-flow-resume-threshold');
  assert.equal(load(['--default-flow-stop-threshold', '0', '--default-flow-resume-threshold', '90']).kind, 'config', 'no default flow control: the resume threshold is moot');
});

test('shipping limits: the live backlog must hold a frame', () => {
  expectRelation(['--ha-live-pending-entries', '100', '--ha-log-batch', '512'], /^ha-live-pending-entries 100 is below ha-log-batch 512/, 'ha-live-pending-entries');
  assert.equal(load(['--ha-live-pending-entries', '512', '--ha-log-batch', '512']).kind, 'config');
});

test('TLS options: a certificate needs its key and the reverse; listeners need a certificate; client auth needs authorities; encryption needs the TLS port', () => {
  const cert = ['--ssl-cert-file', 'c.pem'];
  const key = ['--ssl-key-file', 'k.pem'];
  expectRelation(cert, /^ssl-cert-file is set but ssl-key-file is not/, 'ssl-cert-file');
  expectRelation(key, /^ssl-key-file is set but ssl-cert-file is not/, 'ssl-key-file');
  expectRelation(['--ssl-port', '5671'], /^ssl-port is set but ssl-cert-file is not/, 'ssl-port');
  expectRelation(['--ssl-port', '5672', ...cert, ...key], /^ssl-port 5672 equals port or http-port/, 'ssl-port');
  expectRelation(['--ssl-port', '5671', ...cert, ...key, '--ssl-require-client-auth', 'yes'], /^ssl-require-client-auth is yes but ssl-ca-file is not set/, 'ssl-require-client-auth');
  expectRelation(['--require-encryption', 'yes'], /^require-encryption is yes but ssl-port is not set/, 'require-encryption');
  expectRelation(['--http-ssl', 'yes', '--http-port', '8080'], /^http-ssl is yes but ssl-cert-file is not set/, 'http-ssl');
  expectRelation(['--http-ssl', 'yes', ...cert, ...key], /^http-ssl is yes but http-port is not set/, 'http-ssl');
  const ok = load(['--ssl-port', '5671', ...cert, ...key, '--ssl-ca-file', 'ca.pem', '--ssl-require-client-auth', 'yes', '--require-encryption', 'yes']);
  assert.equal(ok.kind, 'config');
});
