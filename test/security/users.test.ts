// Issue 13, the users file: qpid-users takes passwords from stdin (never argv) and stores no
// password; the broker refuses to start on a bad file (exit 2, naming the option), reads the
// file again on SIGHUP, and keeps the users it had when the new file is bad. The tools log in
// with -b user@host and QPID_PASSWORD. Secrets are not in --help or error messages.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, TOOL, type BrokerProcess } from '../helpers/broker-process.js';
import { runNode, runQpidd } from '../integration/support.js';
import { clientSaslMechanisms } from '../../src/security/rhea-sasl-client.js';

const dirs: string[] = [];
const brokers: BrokerProcess[] = [];
after(async () => {
  for (const b of brokers) await b.stop();
  for (const d of dirs) removeDir(d);
});

function dir(): string {
  const d = tempDir('qpidd-users-');
  dirs.push(d);
  return d;
}

function users(args: readonly string[], stdin = ''): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [TOOL('qpid-users'), ...args], { input: stdin, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function login(port: number, user: string, password: string): Promise<void> {
  return connect(port, { rhea: { sasl_mechanisms: clientSaslMechanisms(user, password, 'SCRAM-SHA-256') } }).then((c) => c.close());
}

test('qpid-users add, list, passwd, del: passwords from stdin, none stored, none taken from argv', () => {
  const file = join(dir(), 'users.json');
  assert.equal(users(['add', 'alice', '--file', file], 'alice-pass-1\n').code, 0);
  assert.equal(users(['add', 'bob', '--file', file], 'bob-pass-1\n').code, 0);
  assert.equal(users(['list', '--file', file]).stdout, 'alice\nbob\n');
  assert.equal(users(['passwd', 'alice', '--file', file], 'alice-pass-2\n').code, 0);
  assert.equal(users(['del', 'bob', '--file', file]).code, 0);
  assert.deepEqual(JSON.parse(users(['list', '--file', file, '--json']).stdout), ['alice']);
  const text = readFileSync(file, 'utf8');
  for (const secret of ['alice-pass-1', 'alice-pass-2', 'bob-pass-1']) assert.equal(text.includes(secret), false);
  const argv = users(['add', 'carol', 'carol-pass', '--file', file]);
  assert.equal(argv.code, 2);
  assert.match(argv.stderr, /never taken from the command line/);
  assert.equal(users(['add', 'alice', '--file', file], 'x\n').code, 2, 'alice exists');
  assert.equal(users(['del', 'nobody', '--file', file]).code, 2);
  assert.equal(users(['add', 'bad name', '--file', file], 'x\n').code, 2);
  assert.equal(users(['add', 'dave', '--file', file], '\n').code, 2, 'an empty password');
});

test('the broker reads the users file again on SIGHUP; a bad file keeps the users it had', async () => {
  const d = dir();
  const file = join(d, 'users.json');
  users(['add', 'alice', '--file', file], 'alice-pw\n');
  const broker = await startQpidd({ dataDir: join(d, 'data'), args: ['--auth', 'yes', '--sasl-users-file', file] });
  brokers.push(broker);
  await login(broker.port, 'alice', 'alice-pw');
  await assert.rejects(login(broker.port, 'bob', 'bob-pw'));
  users(['add', 'bob', '--file', file], 'bob-pw\n');
  broker.kill('SIGHUP');
  await broker.waitForLog((l) => l.msg === 'users file reloaded' && l['users'] === 2);
  await login(broker.port, 'bob', 'bob-pw');
  writeFileSync(file, '{ not json');
  broker.kill('SIGHUP');
  const refused = await broker.waitForLog((l) => l.msg === 'users file not reloaded; the users loaded before stay in force');
  assert.match(String(refused['err']), /not JSON/);
  await login(broker.port, 'bob', 'bob-pw');
  assert.equal(JSON.stringify(broker.logs).includes('bob-pw'), false);
});

test('a bad users file refuses startup with exit 2 naming --sasl-users-file', async () => {
  const d = dir();
  const file = join(d, 'users.json');
  writeFileSync(file, JSON.stringify({ format: 'qpidd-ts-users/1', users: { alice: { scrypt: 1 } } }));
  const r = await runQpidd(['--data-dir', join(d, 'data'), '--port', '0', '--auth', 'yes', '--sasl-users-file', file]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--sasl-users-file .*users\.json: users\.alice\.scrypt/);
  const missing = await runQpidd(['--data-dir', join(d, 'data'), '--port', '0', '--sasl-users-file', join(d, 'nope.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--sasl-users-file .*cannot read/);
});

test('tools log in with -b user@host and QPID_PASSWORD; without credentials they are refused', async () => {
  const d = dir();
  const file = join(d, 'users.json');
  users(['add', 'admin', '--file', file], 'admin-pw\n');
  const broker = await startQpidd({ dataDir: join(d, 'data'), args: ['--auth', 'yes', '--sasl-users-file', file] });
  brokers.push(broker);
  const ok = await runNode(TOOL('qpid-config'), ['-b', `admin@127.0.0.1:${broker.port}`, 'add', 'queue', 'tool-q'], { env: { QPID_PASSWORD: 'admin-pw' } });
  assert.equal(ok.code, 0, ok.stderr);
  const inUrl = await runNode(TOOL('qpid-stat'), ['-b', `admin/admin-pw@127.0.0.1:${broker.port}`, '-q', '--json']);
  assert.equal(inUrl.code, 0, inUrl.stderr);
  assert.match(inUrl.stdout, /tool-q/);
  const anonymous = await runNode(TOOL('qpid-config'), ['-b', `127.0.0.1:${broker.port}`, 'queues']);
  assert.equal(anonymous.code, 1);
  const wrong = await runNode(TOOL('qpid-ha'), ['-b', `admin@127.0.0.1:${broker.port}`, 'status'], { env: { QPID_PASSWORD: 'wrong-pw-zz' } });
  assert.equal(wrong.code, 1);
  assert.equal(wrong.stderr.includes('wrong-pw-zz'), false);
  assert.equal(JSON.stringify(broker.logs).includes('wrong-pw-zz'), false);
});

test('secrets are not in --help or in the error for a bad option beside them', async () => {
  const help = await runQpidd(['--ha-password', 'hunter2-secret', '--help']);
  assert.equal(help.code, 0);
  assert.equal(help.stdout.includes('hunter2-secret'), false);
  const bad = await runQpidd(['--ha-username', 'u', '--ha-password', 'hunter2-secret', '--max-sessions-per-connection', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--max-sessions-per-connection/);
  assert.equal(bad.stderr.includes('hunter2-secret'), false);
});
