// loadConfig end to end over its three sources: every option from the command line, QPIDD_*
// variables and a real qpidd.conf; precedence; each kind of error with its code and the option,
// value and source it names; relations; and --help generated from the option table.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ConfigError,
  envVariableFor,
  loadConfig,
  OPTION_NAMES,
  type BrokerConfig,
  type ConfigErrorKind,
  type LoadConfigResult,
  type OptionName,
} from '../../src/config/index.js';

const HOME = '/home/tester';
const CWD = '/srv/qpid';
const tmp = mkdtempSync(join(tmpdir(), 'qpidd-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let fileCount = 0;
function writeConf(lines: readonly string[], eol = '\n'): string {
  const path = join(tmp, `qpidd-${++fileCount}.conf`);
  writeFileSync(path, lines.join(eol));
  return path;
}

function load(argv: readonly string[] = [], env: Record<string, string> = {}): LoadConfigResult {
  return loadConfig({ argv, env, cwd: CWD, homeDir: HOME });
}

function configOf(result: LoadConfigResult): BrokerConfig {
  assert.equal(result.kind, 'config');
  return (result as Extract<LoadConfigResult, { kind: 'config' }>).config;
}

function expectError(fn: () => unknown, kind: ConfigErrorKind, pattern: RegExp): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError ${kind}, got ${String(caught)}`);
  assert.equal(caught.code, 'BAD_CONFIG');
  assert.equal(caught.exitCode, 2);
  assert.equal(caught.kind, kind, caught.message);
  assert.match(caught.message, pattern);
  return caught;
}

// One sample value per option, with the config field it lands in. `with` holds companion options
// a relation needs (given through the same source).
interface Sample {
  readonly name: OptionName;
  readonly text: string;
  readonly read: (c: BrokerConfig) => unknown;
  readonly expected: unknown;
  readonly with?: Readonly<Partial<Record<OptionName, string>>>;
}

const SAMPLES: readonly Sample[] = [
  { name: 'data-dir', text: 'var/qpidd', read: (c) => c.dataDir, expected: resolve(CWD, 'var/qpidd') },
  { name: 'port', text: '6000', read: (c) => c.port, expected: 6000 },
  { name: 'interface', text: '0.0.0.0', read: (c) => c.interface, expected: '0.0.0.0' },
  { name: 'name', text: 'broker-one', read: (c) => c.name, expected: 'broker-one' },
  { name: 'log-level', text: 'debug', read: (c) => c.logLevel, expected: 'debug' },
  { name: 'auth', text: 'no', read: (c) => c.auth, expected: false },
  { name: 'realm', text: 'EXAMPLE', read: (c) => c.realm, expected: 'EXAMPLE' },
  { name: 'allow-anonymous', text: 'yes', read: (c) => c.allowAnonymous, expected: true },
  { name: 'allow-plain-without-tls', text: 'yes', read: (c) => c.allowPlainWithoutTls, expected: true },
  { name: 'sasl-users-file', text: 'etc/users.json', read: (c) => c.saslUsersFile, expected: resolve(CWD, 'etc/users.json') },
  { name: 'acl-file', text: 'etc/qpidd.acl', read: (c) => c.aclFile, expected: resolve(CWD, 'etc/qpidd.acl') },
  { name: 'ssl-port', text: '5671', read: (c) => c.tls.port, expected: 5671, with: { 'ssl-cert-file': 'c.pem', 'ssl-key-file': 'k.pem' } },
  { name: 'ssl-cert-file', text: 'etc/cert.pem', read: (c) => c.tls.certFile, expected: resolve(CWD, 'etc/cert.pem'), with: { 'ssl-key-file': 'k.pem' } },
  { name: 'ssl-key-file', text: 'etc/key.pem', read: (c) => c.tls.keyFile, expected: resolve(CWD, 'etc/key.pem'), with: { 'ssl-cert-file': 'c.pem' } },
  { name: 'ssl-ca-file', text: 'etc/ca.pem', read: (c) => c.tls.caFile, expected: resolve(CWD, 'etc/ca.pem') },
  { name: 'ssl-require-client-auth', text: 'yes', read: (c) => c.tls.requireClientAuth, expected: true, with: { 'ssl-ca-file': 'ca.pem', 'ssl-port': '5671', 'ssl-cert-file': 'c.pem', 'ssl-key-file': 'k.pem' } },
  { name: 'require-encryption', text: 'yes', read: (c) => c.tls.requireEncryption, expected: true, with: { 'ssl-port': '5671', 'ssl-cert-file': 'c.pem', 'ssl-key-file': 'k.pem' } },
  { name: 'max-sessions-per-connection', text: '8', read: (c) => c.maxSessionsPerConnection, expected: 8 },
  { name: 'max-links-per-session', text: '9', read: (c) => c.maxLinksPerSession, expected: 9 },
  { name: 'max-connections-per-user', text: '3', read: (c) => c.maxConnectionsPerUser, expected: 3 },
  { name: 'max-connections', text: '7', read: (c) => c.maxConnections, expected: 7 },
  { name: 'default-queue-limit', text: '0', read: (c) => c.defaultQueueLimitBytes, expected: 0 },
  { name: 'default-flow-stop-threshold', text: '90', read: (c) => c.flowStopPercent, expected: 90 },
  { name: 'default-flow-resume-threshold', text: '60', read: (c) => c.flowResumePercent, expected: 60 },
  { name: 'max-message-size', text: '1M', read: (c) => c.maxMessageSizeBytes, expected: 1024 ** 2 },
  { name: 'store-sync', text: 'none', read: (c) => c.storeSync, expected: 'none' },
  { name: 'store-log-max-bytes', text: '2G', read: (c) => c.storeLogMaxBytes, expected: 2 * 1024 ** 3 },
  { name: 'store-map-size', text: '1G', read: (c) => c.storeMapSizeBytes, expected: 1024 ** 3 },
  { name: 'store-verify-on-start', text: 'full', read: (c) => c.storeVerifyOnStart, expected: 'full' },
  { name: 'store-reserve-bytes', text: '0', read: (c) => c.storeReserveBytes, expected: 0 },
  { name: 'enable-crash-points', text: 'yes', read: (c) => c.crashPlan.size, expected: 0 },
  {
    name: 'crash-at',
    text: 'store.before-commit:3,ha.promote.before-active',
    read: (c) => [...c.crashPlan],
    expected: [
      ['store.before-commit', 3],
      ['ha.promote.before-active', 1],
    ],
    with: { 'enable-crash-points': 'yes' },
  },
  { name: 'http-port', text: '8080', read: (c) => c.httpPort, expected: 8080 },
  { name: 'http-ssl', text: 'yes', read: (c) => c.httpSsl, expected: true, with: { 'http-port': '8080', 'ssl-cert-file': 'c.pem', 'ssl-key-file': 'k.pem' } },
  { name: 'http-metrics-auth', text: 'yes', read: (c) => c.httpMetricsAuth, expected: true },
  { name: 'max-unsettled', text: '5', read: (c) => c.maxUnsettled, expected: 5 },
  { name: 'max-unsettled-per-link', text: '7', read: (c) => c.maxUnsettled, expected: 7 },
  { name: 'max-frame-size', text: '512', read: (c) => c.maxFrameSizeBytes, expected: 512 },
  { name: 'queue-patterns', text: 'ex.*|orders', read: (c) => c.queuePatterns, expected: /^(?:ex.*|orders)$/u },
  { name: 'topic-patterns', text: 'news[.].+', read: (c) => c.topicPatterns, expected: /^(?:news[.].+)$/u },
  { name: 'max-decode-depth', text: '20', read: (c) => c.maxDecodeDepth, expected: 20 },
  { name: 'max-transaction-operations', text: '500', read: (c) => c.maxTransactionOperations, expected: 500 },
  { name: 'max-transaction-age', text: '90', read: (c) => c.maxTransactionAgeMs, expected: 90_000 },
  { name: 'max-connection-buffer', text: '64M', read: (c) => c.maxConnectionBufferBytes, expected: 64 * 1024 ** 2 },
  { name: 'handshake-timeout', text: '2.5', read: (c) => c.handshakeTimeoutMs, expected: 2500 },
  { name: 'connection-idle-timeout', text: '3', read: (c) => c.handshakeTimeoutMs, expected: 3000 },
  { name: 'max-pending-handshakes', text: '64', read: (c) => c.maxPendingHandshakes, expected: 64 },
  {
    name: 'ha-cluster',
    text: 'yes',
    read: (c) => c.ha.cluster,
    expected: true,
    with: { 'ha-brokers-url': 'node1,node2' },
  },
  { name: 'ha-queue-replication', text: 'true', read: (c) => c.ha.queueReplication, expected: true },
  {
    name: 'ha-brokers-url',
    text: 'amqp:tcp:node1:5673,ssl:node2',
    read: (c) => [c.ha.brokersUrl, c.ha.brokersUrlText],
    expected: [
      {
        addresses: [
          { transport: 'tcp', host: 'node1', port: 5673 },
          { transport: 'ssl', host: 'node2', port: 5671 },
        ],
      },
      'amqp:tcp:node1:5673,ssl:node2',
    ],
  },
  {
    name: 'ha-public-url',
    text: '10.0.0.9:5672',
    read: (c) => [c.ha.publicUrl, c.ha.publicUrlText],
    expected: [{ addresses: [{ transport: 'tcp', host: '10.0.0.9', port: 5672 }] }, '10.0.0.9:5672'],
  },
  { name: 'ha-replicate', text: 'all', read: (c) => c.ha.replicate, expected: 'all' },
  { name: 'ha-username', text: 'bob', read: (c) => [c.ha.username, c.ha.mechanism], expected: ['bob', 'ANY'] },
  { name: 'ha-password', text: 's3cret#1', read: (c) => c.ha.password, expected: 's3cret#1', with: { 'ha-username': 'bob' } },
  { name: 'ha-mechanism', text: 'scram-sha-256', read: (c) => c.ha.mechanism, expected: 'SCRAM-SHA-256', with: { 'ha-username': 'bob' } },
  { name: 'ha-client-redirect', text: 'yes', read: (c) => c.ha.clientRedirect, expected: true },
  { name: 'ha-min-backups', text: '2', read: (c) => c.ha.minBackups, expected: 2 },
  { name: 'ha-total-failure-resync', text: 'incremental', read: (c) => c.ha.totalFailureResync, expected: 'incremental' },
  { name: 'ha-confirm-timeout', text: '1.5', read: (c) => c.ha.confirmTimeoutMs, expected: 1500 },
  { name: 'ha-catchup-stall-timeout', text: '2.5', read: (c) => c.ha.catchUpStallTimeoutMs, expected: 2500 },
  { name: 'ha-catchup-share', text: '0.5', read: (c) => c.ha.catchUpShare, expected: 0.5 },
  { name: 'ha-frame-window', text: '64', read: (c) => c.ha.frameWindow, expected: 64 },
  { name: 'ha-log-batch', text: '100', read: (c) => c.ha.shipping.logBatchEntries, expected: 100 },
  { name: 'ha-catchup-frames-per-turn', text: '3', read: (c) => c.ha.shipping.catchUpFramesPerTurn, expected: 3 },
  { name: 'ha-snapshot-batch', text: '100', read: (c) => c.ha.shipping.snapshotBatchRecords, expected: 100 },
  { name: 'ha-live-pending-entries', text: '1000', read: (c) => c.ha.shipping.livePendingEntriesMax, expected: 1000 },
  { name: 'ha-live-pending-bytes', text: '16M', read: (c) => c.ha.shipping.livePendingBytesMax, expected: 16 * 1024 ** 2 },
  { name: 'ha-backup-timeout', text: '250ms', read: (c) => c.ha.backupTimeoutMs, expected: 250 },
  { name: 'link-maintenance-interval', text: '0.1', read: (c) => c.ha.linkMaintenanceIntervalMs, expected: 100 },
  { name: 'link-heartbeat-interval', text: '100000us', read: (c) => c.ha.linkHeartbeatIntervalMs, expected: 100 },
];

function settingsOf(sample: Sample): [OptionName, string][] {
  return [[sample.name, sample.text], ...(Object.entries(sample.with ?? {}) as [OptionName, string][])];
}

test('every option except --config has a sample (a new option must be added here)', () => {
  const sampled = new Set(SAMPLES.map((s) => s.name));
  assert.deepEqual(
    OPTION_NAMES.filter((name) => name !== 'config' && !sampled.has(name)),
    [],
  );
});

test('every option is read from the command line, in both --name value and --name=value forms', () => {
  for (const sample of SAMPLES) {
    const spaced = settingsOf(sample).flatMap(([name, text]) => [`--${name}`, text]);
    assert.deepEqual(sample.read(configOf(load(spaced))), sample.expected, `--${sample.name} ${sample.text}`);
    const joined = settingsOf(sample).map(([name, text]) => `--${name}=${text}`);
    const result = load(joined);
    assert.deepEqual(sample.read(configOf(result)), sample.expected, `--${sample.name}=${sample.text}`);
    assert.deepEqual(result.kind === 'config' && result.sources[sample.name], { kind: 'cli' });
  }
});

test('every option is read from its QPIDD_* environment variable', () => {
  for (const sample of SAMPLES) {
    const env = Object.fromEntries(settingsOf(sample).map(([name, text]) => [envVariableFor(name), text]));
    const result = load([], env);
    assert.deepEqual(sample.read(configOf(result)), sample.expected, `${envVariableFor(sample.name)}=${sample.text}`);
    assert.deepEqual(result.kind === 'config' && result.sources[sample.name], { kind: 'env', variable: envVariableFor(sample.name) });
  }
  assert.equal(envVariableFor('data-dir'), 'QPIDD_DATA_DIR');
  assert.equal(envVariableFor('ha-cluster'), 'QPIDD_HA_CLUSTER');
});

test('every option is read from a real qpidd.conf named by --config', () => {
  for (const sample of SAMPLES) {
    const path = writeConf(settingsOf(sample).map(([name, text]) => `${name}=${text}`));
    const result = load(['--config', path]);
    assert.deepEqual(sample.read(configOf(result)), sample.expected, `${sample.name}=${sample.text} in ${path}`);
    assert.deepEqual(result.kind === 'config' && result.sources[sample.name], { kind: 'file', path, line: 1 });
    assert.equal(configOf(result).configFile, path);
  }
});

test('defaults: every option has its documented value when no source gives it', () => {
  const result = load();
  const config = configOf(result);
  assert.deepEqual(config, {
    dataDir: join(HOME, '.qpidd', 'data'),
    port: 5672,
    interface: '127.0.0.1',
    name: 'qpidd@127.0.0.1:5672',
    logLevel: 'info',
    auth: true,
    realm: 'QPID',
    allowAnonymous: false,
    allowPlainWithoutTls: false,
    saslUsersFile: null,
    aclFile: null,
    tls: { port: null, certFile: null, keyFile: null, caFile: null, requireClientAuth: false, requireEncryption: false },
    maxSessionsPerConnection: 256,
    maxLinksPerSession: 1024,
    maxConnectionsPerUser: 0,
    maxConnections: 500,
    defaultQueueLimitBytes: 104857600,
    flowStopPercent: 80,
    flowResumePercent: 70,
    maxMessageSizeBytes: 10485760,
    storeSync: 'fsync',
    storeLogMaxBytes: 1073741824,
    storeMapSizeBytes: 68719476736,
    storeVerifyOnStart: 'quick',
    storeReserveBytes: 1048576,
    crashPlan: new Map(),
    httpPort: null,
    httpSsl: false,
    httpMetricsAuth: false,
    maxUnsettled: 1000,
    maxFrameSizeBytes: 65536,
    queuePatterns: null,
    topicPatterns: null,
    maxDecodeDepth: 100,
    maxTransactionOperations: 10000,
    maxTransactionAgeMs: 3600000,
    maxConnectionBufferBytes: 10485760 + 1048576,
    handshakeTimeoutMs: 10_000,
    maxPendingHandshakes: 1000,
    configFile: null,
    ha: {
      cluster: false,
      queueReplication: false,
      brokersUrl: null,
      brokersUrlText: null,
      publicUrl: null,
      publicUrlText: null,
      replicate: 'none',
      username: null,
      password: null,
      mechanism: 'ANONYMOUS',
      backupTimeoutMs: 10_000,
      linkMaintenanceIntervalMs: 2000,
      linkHeartbeatIntervalMs: 120_000,
      clientRedirect: false,
      confirmTimeoutMs: 5000,
      catchUpStallTimeoutMs: 10000,
      catchUpShare: 0.25,
      frameWindow: 32,
      shipping: { snapshotBatchRecords: 256, logBatchEntries: 512, catchUpFramesPerTurn: 8, livePendingEntriesMax: 20000, livePendingBytesMax: 8388608 },
      totalFailureResync: 'wipe',
      minBackups: 0,
    },
  });
  assert.equal(result.kind === 'config' && result.sources['port'].kind, 'default');
  assert.equal(result.kind === 'config' && result.sources['http-port'].kind, 'unset');
});

test('the default name is computed from the interface and port after parsing', () => {
  assert.equal(configOf(load(['--port', '0'])).name, 'qpidd@127.0.0.1:0');
  assert.equal(configOf(load(['--interface', '::1', '--port', '5800'])).name, 'qpidd@[::1]:5800');
  assert.equal(configOf(load(['--interface', 'broker.example.com'])).name, 'qpidd@broker.example.com:5672');
});

test('precedence: command line over environment over config file over default, per option', () => {
  const path = writeConf(['port=1111', 'max-connections=11', 'log-level=warn']);
  const env = { QPIDD_CONFIG: path, QPIDD_PORT: '2222', QPIDD_MAX_CONNECTIONS: '22' };
  const all = load(['--port', '3333'], env);
  const config = configOf(all);
  assert.equal(config.port, 3333); // cli beats env and file
  assert.equal(config.maxConnections, 22); // env beats file
  assert.equal(config.logLevel, 'warn'); // file beats default
  assert.equal(config.maxUnsettled, 1000); // default
  assert.ok(all.kind === 'config');
  assert.deepEqual(all.sources['port'], { kind: 'cli' });
  assert.deepEqual(all.sources['max-connections'], { kind: 'env', variable: 'QPIDD_MAX_CONNECTIONS' });
  assert.deepEqual(all.sources['log-level'], { kind: 'file', path, line: 3 });
  assert.deepEqual(all.sources['max-unsettled'], { kind: 'default' });
  assert.equal(configOf(load([], env)).port, 2222);
  assert.equal(configOf(load([], { QPIDD_CONFIG: path })).port, 1111);
  assert.equal(configOf(load()).port, 5672);
});

test('--config on the command line overrides QPIDD_CONFIG, and a relative path is resolved against cwd', () => {
  const fromEnv = writeConf(['port=1111']);
  const fromCli = writeConf(['port=2222']);
  assert.equal(configOf(load(['--config', fromCli], { QPIDD_CONFIG: fromEnv })).port, 2222);
  const relative = loadConfig({ argv: ['--config', `qpidd-${fileCount}.conf`], env: {}, cwd: tmp, homeDir: HOME });
  assert.equal(configOf(relative).port, 2222);
  assert.equal(configOf(relative).configFile, fromCli);
});

test('a value given in a lower source is still validated when a higher one overrides it', () => {
  const path = writeConf(['port=nope']);
  expectError(() => load(['--port', '1', '--config', path]), 'BAD_VALUE', /qpidd-\d+\.conf:1: invalid value "nope" for port/);
  expectError(() => load(['--port', '1'], { QPIDD_PORT: 'nope' }), 'BAD_VALUE', /^QPIDD_PORT="nope"/);
});

test('unknown QPIDD_* variables are warnings, not errors; other variables are not looked at', () => {
  const result = load([], { QPIDD_FOO: '1', QPIDD_PROT: '5', PATH: '/bin', HOME: '/x' });
  assert.ok(result.kind === 'config');
  assert.equal(result.warnings.length, 2);
  assert.match(result.warnings[0] as string, /QPIDD_FOO/);
  assert.match(result.warnings[1] as string, /QPIDD_PROT.*did you mean QPIDD_PORT/);
  assert.equal(result.config.port, 5672);
  // Only the exact spelling names an option: lower case or doubled underscores are not ours.
  const odd = load([], { qpidd_port: '1', QPIDD_HA__CLUSTER: 'yes' });
  assert.ok(odd.kind === 'config');
  assert.equal(odd.config.port, 5672);
  assert.equal(odd.warnings.length, 1);
});

test('booleans take yes|no, true|false and 1|0 in any case', () => {
  for (const [text, value] of [['yes', true], ['YES', true], ['true', true], ['1', true], ['no', false], ['False', false], ['0', false]] as const) {
    assert.equal(configOf(load(['--auth', text])).auth, value, text);
  }
  expectError(() => load(['--auth', 'maybe']), 'BAD_VALUE', /^invalid value "maybe" for --auth: expected yes or no/);
});

test('--help and --version win over anything else on the command line', () => {
  for (const argv of [['--help'], ['-h'], ['--port', 'x', '--help'], ['--foo', '-h'], ['--version', '--help']]) {
    const result = load(argv);
    assert.equal(result.kind, 'help', argv.join(' '));
  }
  for (const argv of [['--version'], ['-v'], ['--bogus', '--version']]) {
    const result = load(argv);
    assert.equal(result.kind, 'version', argv.join(' '));
    assert.match(result.kind === 'version' ? result.text : '', /^qpidd \(qpidd-ts\) \d+\.\d+\.\d+/);
  }
  const custom = loadConfig({ argv: ['--version'], env: {}, cwd: CWD, homeDir: HOME, version: '9.9.9' });
  assert.equal(custom.kind === 'version' && custom.text, 'qpidd (qpidd-ts) 9.9.9\n');
  // A value that happens to be "-h" is a value, not a request for help.
  assert.equal(load(['--ha-username', 'bob', '--ha-password', '-h']).kind, 'config');
});

test('command-line errors: unknown option, missing value, bad value, duplicate, stray argument', () => {
  let err = expectError(() => load(['--foo', '1']), 'UNKNOWN_OPTION', /^unknown option --foo$/);
  assert.deepEqual(err.source, { kind: 'cli' });
  expectError(() => load(['--prot', '1']), 'UNKNOWN_OPTION', /^unknown option --prot \(did you mean --port\?\)$/);
  expectError(() => load(['-p', '1']), 'UNEXPECTED_ARGUMENT', /"-p"/);
  err = expectError(() => load(['--port']), 'MISSING_VALUE', /^missing value for --port: expected N$/);
  assert.equal(err.option, 'port');
  expectError(() => load(['--data-dir', '--port', '1']), 'MISSING_VALUE', /missing value for --data-dir: expected DIR/);
  err = expectError(() => load(['--port', 'abc']), 'BAD_VALUE', /^invalid value "abc" for --port: expected an integer 0-65535$/);
  assert.equal(err.option, 'port');
  assert.equal(err.value, 'abc');
  expectError(() => load(['--port=70000']), 'BAD_VALUE', /^invalid value "70000" for --port: expected an integer 0-65535$/);
  expectError(() => load(['--port=']), 'BAD_VALUE', /^invalid value "" for --port/);
  expectError(() => load(['--port', '1', '--port', '2']), 'DUPLICATE_OPTION', /--port given more than once \("1" and "2"\)/);
  expectError(() => load(['extra']), 'UNEXPECTED_ARGUMENT', /unexpected argument "extra"/);
  expectError(() => load(['--', '--port', '1']), 'UNEXPECTED_ARGUMENT', /unexpected argument "--"/);
});

test('bad values of every kind name the option, the value and the reason', () => {
  const cases: [string[], RegExp][] = [
    [['--log-level', 'loud'], /invalid value "loud" for --log-level: expected one of trace, debug, info, warn, error, fatal/],
    [['--store-sync', 'sometimes'], /for --store-sync: expected one of fsync, none/],
    [['--ha-replicate', 'most'], /for --ha-replicate: expected one of none, configuration, all/],
    [['--max-message-size', '1.5M'], /invalid value "1.5M" for --max-message-size: expected a non-negative integer, optionally with a K, M or G suffix/],
    [['--store-map-size', '64K'], /for --store-map-size: expected at least 1M/],
    [['--max-connections', '0'], /for --max-connections: expected an integer 1-/],
    [['--max-frame-size', '100'], /for --max-frame-size: expected an integer 512-16777216/],
    [['--interface', 'not a host'], /for --interface: expected an IP address or host name/],
    [['--ha-backup-timeout', '-1'], /invalid value "-1" for --ha-backup-timeout: expected a non-negative number of seconds.*cannot be negative/],
    [['--link-heartbeat-interval', 'abc'], /invalid value "abc" for --link-heartbeat-interval: expected a non-negative number of seconds/],
    [['--link-maintenance-interval', '10m'], /for --link-maintenance-interval: expected/],
    [['--ha-backup-timeout', '3000000'], /for --ha-backup-timeout: expected at most/],
    [['--ha-mechanism', 'NOT A MECH'], /for --ha-mechanism: expected a SASL mechanism name/],
    [['--name', ''], /for --name: expected a broker name/],
    [['--queue-patterns', 'orders('], /for --queue-patterns: not a regular expression/],
    [['--ha-client-redirect', 'sometimes'], /for --ha-client-redirect: expected yes or no/],
  ];
  for (const [argv, pattern] of cases) expectError(() => load(argv), 'BAD_VALUE', pattern);
});

// Issue 19: every option has bounds the machine can honour.
test('bounds the machine can honour: map size, intervals, name, paths, counts', () => {
  const cases: [string[], RegExp][] = [
    [['--store-map-size', '100000G'], /for --store-map-size: expected at most 16384G \(17592186044416 bytes\): the map is reserved as address space/],
    [['--link-heartbeat-interval', '1ms'], /for --link-heartbeat-interval: expected at least 0\.1s \(100 ms\)/],
    [['--link-maintenance-interval', '0'], /for --link-maintenance-interval: expected at least 0\.1s \(100 ms\)/],
    [['--max-message-size', '2G'], /for --max-message-size: expected at most 1G/],
    [['--max-connections', '2147483647'], /for --max-connections: expected an integer 1-1048576/],
    [['--max-unsettled', '2000000'], /for --max-unsettled: expected an integer 1-1000000/],
    [['--data-dir', `/${'d'.repeat(4095)}`], /for --data-dir: expected a directory path of at most 4095 bytes/],
    [['--ha-username', 'u'.repeat(256)], /for --ha-username: expected a user name of at most 255 bytes/],
    [['--ha-brokers-url', `${'h'.repeat(5000)}:5672`], /for --ha-brokers-url: expected a Qpid URL of at most 4096 characters/],
    [['--interface', `${'a'.repeat(254)}`], /for --interface: expected an IP address or host name \(at most 253 characters\)/],
  ];
  for (const [argv, pattern] of cases) expectError(() => load(argv), 'BAD_VALUE', pattern);
  assert.equal(configOf(load(['--store-map-size', '16384G'])).storeMapSizeBytes, 16 * 1024 ** 4);
  assert.equal(configOf(load(['--name', 'n'.repeat(255)])).name.length, 255);
});

test('--name is capped at 255 bytes of UTF-8, and a long value is not echoed whole', () => {
  const err = expectError(() => load(['--name', 'x'.repeat(5 * 1024 * 1024)]), 'BAD_VALUE', /for --name: expected a broker name of at most 255 bytes/);
  assert.ok(err.message.length < 400, `the message is ${err.message.length} characters long`);
  assert.match(err.message, /\.\.\. \(5242880 bytes\)/);
  // 128 two-byte characters are 256 bytes.
  expectError(() => load(['--name', 'é'.repeat(128)]), 'BAD_VALUE', /at most 255 bytes/);
  assert.equal(configOf(load(['--name', 'é'.repeat(127)])).name, 'é'.repeat(127));
});

test('bad Qpid URLs name the option and the offending part of the URL', () => {
  let err = expectError(
    () => load(['--ha-brokers-url', 'node1:5672,node2:abc']),
    'BAD_VALUE',
    /^invalid value "node1:5672,node2:abc" for --ha-brokers-url: .*port "abc" is not a number \("node2:abc"\)/,
  );
  assert.equal(err.option, 'ha-brokers-url');
  err = expectError(() => load([], { QPIDD_HA_PUBLIC_URL: 'rdma:vip' }), 'BAD_VALUE', /^QPIDD_HA_PUBLIC_URL="rdma:vip": invalid value for --ha-public-url: .*unsupported transport "rdma"/);
  assert.deepEqual(err.source, { kind: 'env', variable: 'QPIDD_HA_PUBLIC_URL' });
  expectError(() => load(['--ha-brokers-url', 'a,,b']), 'BAD_VALUE', /--ha-brokers-url: .*empty address between commas/);
});

test('environment errors name the variable and its value', () => {
  const err = expectError(() => load([], { QPIDD_PORT: 'x' }), 'BAD_VALUE', /^QPIDD_PORT="x": invalid value for --port: expected an integer 0-65535$/);
  assert.deepEqual(err.source, { kind: 'env', variable: 'QPIDD_PORT' });
  expectError(() => load([], { QPIDD_HA_CLUSTER: 'perhaps' }), 'BAD_VALUE', /^QPIDD_HA_CLUSTER="perhaps": invalid value for --ha-cluster/);
});

test('config-file errors name the file and line: not key=value, unknown key, bad value, duplicate', () => {
  const padding = Array.from({ length: 11 }, (_, i) => (i % 2 === 0 ? '# comment' : ''));
  let path = writeConf([...padding, 'prot=5672']);
  let err = expectError(() => load(['--config', path]), 'UNKNOWN_OPTION', new RegExp(`^${escape(path)}:12: unknown option "prot" \\(did you mean "port"\\?\\)$`));
  assert.deepEqual(err.source, { kind: 'file', path, line: 12 });
  path = writeConf(['port=1', 'just some words']);
  expectError(() => load(['--config', path]), 'BAD_LINE', new RegExp(`^${escape(path)}:2: expected key=value, found "just some words"$`));
  path = writeConf(['=5672']);
  expectError(() => load(['--config', path]), 'BAD_LINE', /:1: expected key=value/);
  path = writeConf(['', 'port = abc']);
  err = expectError(() => load(['--config', path]), 'BAD_VALUE', new RegExp(`^${escape(path)}:2: invalid value "abc" for port: expected an integer 0-65535$`));
  assert.equal(err.option, 'port');
  path = writeConf(['port=1', 'auth=no', 'port=2']);
  expectError(() => load(['--config', path]), 'DUPLICATE_OPTION', /:3: port already set on line 1/);
  path = writeConf(['config=/etc/other.conf']);
  expectError(() => load(['--config', path]), 'BAD_LINE', /:1: config cannot be set inside a config file/);
  path = writeConf(['--port=1']);
  expectError(() => load(['--config', path]), 'UNKNOWN_OPTION', /:1: unknown option "--port" \(did you mean "port"\?\)/);
});

test('an unreadable config file is named, with the option that named it', () => {
  const missing = join(tmp, 'does-not-exist.conf');
  let err = expectError(() => load(['--config', missing]), 'UNREADABLE_FILE', new RegExp(`^cannot read config file ${escape(missing)} \\(from --config\\): ENOENT`));
  assert.equal(err.value, missing);
  err = expectError(() => load([], { QPIDD_CONFIG: tmp }), 'UNREADABLE_FILE', new RegExp(`^cannot read config file ${escape(tmp)} \\(from QPIDD_CONFIG\\): EISDIR`));
  assert.deepEqual(err.source, { kind: 'env', variable: 'QPIDD_CONFIG' });
});

test('a qpidd.conf with comments, blank lines, CRLF and padding reads as written', () => {
  const path = writeConf(
    [
      '# qpidd.conf for broker one',
      '',
      '   port = 5800   ',
      'data-dir=/var/lib/qpidd # trailing comment after whitespace',
      '\tha-cluster=yes',
      'ha-brokers-url=amqp:node1:5672,node2:5672',
      'ha-username=replicator',
      'ha-password=p#ss word', // "#" not after whitespace stays; inner spaces stay
      'link-maintenance-interval=500ms',
      '   # indented comment',
      'max-message-size=4M#not-a-comment',
      '',
    ],
    '\r\n',
  );
  expectError(() => load(['--config', path]), 'BAD_VALUE', /:11: invalid value "4M#not-a-comment" for max-message-size/);
  writeFileSync(path, ['\uFEFFport = 5800', 'data-dir=/var/lib/qpidd # trailing', 'ha-cluster=yes', 'ha-brokers-url=node1,node2', 'ha-username=replicator', 'ha-password=p#ss word', 'link-maintenance-interval=500ms', ''].join('\r\n'));
  const config = configOf(load(['--config', path]));
  assert.equal(config.port, 5800);
  assert.equal(config.dataDir, '/var/lib/qpidd');
  assert.equal(config.ha.cluster, true);
  assert.equal(config.ha.brokersUrl?.addresses.length, 2);
  assert.equal(config.ha.password, 'p#ss word');
  assert.equal(config.ha.mechanism, 'ANY');
  assert.equal(config.ha.linkMaintenanceIntervalMs, 500);
});

test('secrets are never echoed in error messages', () => {
  let err = expectError(() => load(['--ha-password', 'hunter2', '--ha-password', 'hunter3']), 'DUPLICATE_OPTION', /\*\*\*/);
  assert.ok(!err.message.includes('hunter'), err.message);
  const path = writeConf(['ha-password=']);
  err = expectError(() => load(['--config', path]), 'BAD_VALUE', /invalid value "\*\*\*" for ha-password/);
  assert.equal(err.value, '***');
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
