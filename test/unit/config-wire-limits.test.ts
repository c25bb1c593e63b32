// The wire limits of issue 19 in the option table: --max-decode-depth, --max-connection-buffer,
// --handshake-timeout and --max-pending-handshakes. Bad values are BAD_VALUE or RELATION errors
// (exit code 2) naming the option; the connection buffer's default follows the message size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, type BrokerConfig, type LoadConfigResult } from '../../src/config/index.js';

function load(argv: readonly string[]): LoadConfigResult {
  return loadConfig({ argv, env: {}, cwd: '/srv/qpid', homeDir: '/home/tester' });
}

function config(argv: readonly string[]): BrokerConfig {
  const result = load(argv);
  assert.equal(result.kind, 'config');
  return (result as Extract<LoadConfigResult, { kind: 'config' }>).config;
}

function refused(argv: readonly string[], kind: 'BAD_VALUE' | 'RELATION', option: string, pattern: RegExp): void {
  let caught: unknown;
  try {
    load(argv);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError for ${argv.join(' ')}`);
  assert.equal(caught.kind, kind, caught.message);
  assert.equal(caught.exitCode, 2);
  assert.equal(caught.option, option);
  assert.match(caught.message, pattern);
}

test('bad values of the wire limits name the option and the reason', () => {
  refused(['--max-decode-depth', '0'], 'BAD_VALUE', 'max-decode-depth', /--max-decode-depth: expected an integer 1-1000/);
  refused(['--max-decode-depth', '1001'], 'BAD_VALUE', 'max-decode-depth', /expected an integer 1-1000/);
  refused(['--max-decode-depth', 'deep'], 'BAD_VALUE', 'max-decode-depth', /expected an integer/);
  refused(['--max-connection-buffer', '100'], 'BAD_VALUE', 'max-connection-buffer', /--max-connection-buffer: expected at least 1K/);
  refused(['--max-connection-buffer', 'lots'], 'BAD_VALUE', 'max-connection-buffer', /--max-connection-buffer: expected a non-negative integer/);
  refused(['--handshake-timeout', '0'], 'BAD_VALUE', 'handshake-timeout', /--handshake-timeout: expected at least 0.1s \(100ms\)/);
  refused(['--handshake-timeout', '50ms'], 'BAD_VALUE', 'handshake-timeout', /expected at least 0.1s/);
  refused(['--handshake-timeout', '3000000'], 'BAD_VALUE', 'handshake-timeout', /expected at most/);
  refused(['--max-pending-handshakes', '0'], 'BAD_VALUE', 'max-pending-handshakes', /--max-pending-handshakes: expected an integer 1-/);
});

test('the connection buffer must hold one message of the largest size', () => {
  refused(['--max-connection-buffer', '1M'], 'RELATION', 'max-connection-buffer', /^max-connection-buffer 1M is less than max-message-size 10M plus max-frame-size 64K: .*never be received \[max-connection-buffer: command line, max-message-size: default, max-frame-size: default\]$/);
  assert.equal(config(['--max-connection-buffer', '11M']).maxConnectionBufferBytes, 11 * 1024 ** 2);
});

test('the connection buffer defaults to max-message-size plus 1 MiB, or plus max-frame-size when larger', () => {
  assert.equal(config([]).maxConnectionBufferBytes, 10 * 1024 ** 2 + 1024 ** 2);
  assert.equal(config(['--max-message-size', '100M']).maxConnectionBufferBytes, 101 * 1024 ** 2);
  assert.equal(config(['--max-frame-size', '4194304']).maxConnectionBufferBytes, 14 * 1024 ** 2);
});

test('defaults: depth 100, a 10 s handshake, 1000 pending handshakes', () => {
  const c = config([]);
  assert.equal(c.maxDecodeDepth, 100);
  assert.equal(c.handshakeTimeoutMs, 10_000);
  assert.equal(c.maxPendingHandshakes, 1000);
});
