// Issue 19: every startup failure that comes from an option exits 2 and names the option, with
// no errno dump and no crash: a map size the machine cannot reserve or the disk cannot hold, a
// data dir on /proc (it used to spin at 100% CPU, deaf to SIGTERM) or that is a file, an
// interface that is not on this machine, a port in use, a heartbeat too short to work, and a
// name too long to copy into every log line. Each spawns the real qpidd.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { runQpidd, type ToolResult } from './support.js';

const dirs: string[] = [];
const brokers: BrokerProcess[] = [];
function dir(): string {
  const d = tempDir('qpidd-bounds-');
  dirs.push(d);
  return d;
}
after(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
  for (const d of dirs) removeDir(d);
});

/** Exit 2, no signal, the option named in stderr (as --option, or as the config file's key),
 * nothing listening. */
function assertRefused(result: ToolResult, option: string, what: string, named = `--${option}`): void {
  assert.equal(result.signal, null, `${what}: died of ${result.signal}`);
  assert.equal(result.code, 2, `${what}: exit code (stderr: ${result.stderr})`);
  assert.ok(result.stderr.includes(named), `${what}: stderr names ${named}: ${result.stderr}`);
  assert.ok(!result.stdout.includes('"msg":"listening"'), `${what}: nothing listened`);
}

test('--store-map-size beyond a sane address-space reservation, or beyond the disk, exits 2', async () => {
  assertRefused(await runQpidd(['--data-dir', dir(), '--port', '0', '--store-map-size', '100000G']), 'store-map-size', '100000G');
  const d = dir();
  const fs = statfsSync(d);
  const diskBytes = Number(fs.blocks) * Number(fs.bsize);
  const twiceGiB = Math.ceil((2 * diskBytes) / 1024 ** 3);
  if (twiceGiB <= 16384) {
    const r = await runQpidd(['--data-dir', d, '--port', '0', '--store-map-size', `${twiceGiB}G`]);
    assertRefused(r, 'store-map-size', 'twice the disk');
    assert.match(r.stderr, /larger than the filesystem holding the data dir/);
  }
});

test('--data-dir on /proc exits 2 at once instead of spinning; a file, or a path under one, exits 2', async () => {
  const started = Date.now();
  const proc = await runQpidd(['--data-dir', '/proc/self/x', '--port', '0'], { timeoutMs: 10_000 });
  assertRefused(proc, 'data-dir', '/proc/self/x');
  assert.ok(Date.now() - started < 10_000);
  assert.match(proc.stderr, /kernel pseudo-filesystem/);
  const file = join(dir(), 'a-file');
  writeFileSync(file, 'not a directory');
  for (const path of [file, join(file, 'below')]) {
    const r = await runQpidd(['--data-dir', path, '--port', '0']);
    assertRefused(r, 'data-dir', path);
    assert.match(r.stderr, /is a file, not a directory/);
    assert.ok(!/EEXIST|ENOTDIR: /.test(r.stderr), `no raw errno text: ${r.stderr}`);
  }
});

test('an --interface not on this machine, or a host name that does not resolve, exits 2 naming it', async () => {
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): on no machine.
  for (const iface of ['192.0.2.1', 'no-such-host.invalid']) {
    const r = await runQpidd(['--data-dir', dir(), '--port', '0', '--interface', iface]);
    assertRefused(r, 'interface', iface);
    assert.ok(r.stderr.includes(iface));
  }
});

test('a --port or --http-port in use exits 2 naming it', async () => {
  const first = await startQpidd({ dataDir: dir(), args: ['--http-port', '0'] });
  brokers.push(first);
  assertRefused(await runQpidd(['--data-dir', dir(), '--port', String(first.port)]), 'port', 'AMQP port in use');
  const r = await runQpidd(['--data-dir', dir(), '--port', '0', '--http-port', String(first.port)]);
  assertRefused(r, 'http-port', 'HTTP port in use');
});

test('a heartbeat below 100 ms and a --name over 255 bytes exit 2; a 5 MB name is not echoed whole', async () => {
  assertRefused(await runQpidd(['--data-dir', dir(), '--port', '0', '--link-heartbeat-interval', '1ms']), 'link-heartbeat-interval', '1 ms heartbeat');
  assertRefused(await runQpidd(['--data-dir', dir(), '--port', '0', '--link-maintenance-interval', '0.01']), 'link-maintenance-interval', '10 ms maintenance');
  // argv and the environment cap one string at 128 KiB: a 5 MB value comes from a config file.
  const d = dir();
  const conf = join(d, 'qpidd.conf');
  writeFileSync(conf, `name=${'n'.repeat(5 * 1024 * 1024)}\n`);
  const r = await runQpidd(['--config', conf, '--data-dir', d, '--port', '0']);
  assertRefused(r, 'name', '5 MB name', `${conf}:1: invalid value`);
  assert.match(r.stderr, / for name: expected a broker name of at most 255 bytes/);
  assert.ok(r.stderr.length < 1000, `stderr is ${r.stderr.length} bytes`);
});
