// Issue 13, SASL against real broker processes: which mechanisms each option set offers; SCRAM
// (SHA-256 and SHA-1) with rhea and SCRAM-SHA-256 with Proton Python (where it has Cyrus SASL),
// PLAIN with Proton Python; a wrong password and an
// unknown user close with outcome auth and one log line naming user, mechanism and reason,
// never the password; --auth no accepts any name and records it; one address that keeps
// failing is refused for a while.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { SASL_HEADER } from '../helpers/amqp-encode.js';
import { connect } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { RawPeer } from '../hostile/support.js';
import { PYTHON } from '../interop/programs.js';
import { ManagementClient } from '../../src/management/client.js';
import { clientSaslMechanisms } from '../../src/security/rhea-sasl-client.js';
import { emptyUsersDocument, makeUserRecord, writeUsersFile } from '../../src/security/users-file.js';

const PASSWORD = 'Tr0ub4dor&3-secret';
const dirs: string[] = [];
const brokers: BrokerProcess[] = [];
let usersFile: string;
let strict: BrokerProcess;

function dir(): string {
  const d = tempDir('qpidd-sasl-');
  dirs.push(d);
  return d;
}

async function broker(args: readonly string[]): Promise<BrokerProcess> {
  const b = await startQpidd({ dataDir: dir(), args });
  brokers.push(b);
  return b;
}

before(async () => {
  usersFile = join(dir(), 'users.json');
  const document = emptyUsersDocument();
  writeUsersFile(usersFile, { ...document, users: { alice: makeUserRecord(PASSWORD) } });
  strict = await broker(['--auth', 'yes', '--sasl-users-file', usersFile]);
});

after(async () => {
  for (const b of brokers) await b.stop();
  for (const d of dirs) removeDir(d);
});

async function offered(port: number): Promise<string[]> {
  const peer = await RawPeer.connect(port);
  try {
    peer.write(SASL_HEADER);
    const frame = await peer.waitFor((f) => f.name === 'sasl_mechanisms', 'the mechanisms');
    const list = frame.fields['sasl_server_mechanisms'];
    return (Array.isArray(list) ? list : [list]).map(String);
  } finally {
    peer.destroy();
  }
}

function login(port: number, user: string, password: string, mechanism?: string): Promise<unknown> {
  return connect(port, { rhea: { sasl_mechanisms: clientSaslMechanisms(user, password, mechanism) } }).then((c) => c.close());
}

/** The identity the broker logs for a management command sent as `user`. */
async function identitySeenBy(b: BrokerProcess, user: string, password: string): Promise<unknown> {
  const client = await ManagementClient.connect({ transport: 'tcp', host: '127.0.0.1', port: b.port }, { username: user, password });
  try {
    await client.request('add-queue', { name: 'identity-q' });
    await client.request('purge', { queue: 'identity-q' });
  } finally {
    client.close();
  }
  const line = await b.waitForLog((l) => l.msg === 'management command removed messages');
  return (line['requester'] as Record<string, unknown>)['user'];
}

function secretsLeaked(b: BrokerProcess, secret: string): boolean {
  return JSON.stringify(b.logs).includes(secret) || b.stderr().includes(secret);
}

test('--auth yes (the default) offers SCRAM-SHA-256 and SCRAM-SHA-1 only; PLAIN and ANONYMOUS need their options; --auth no offers PLAIN and ANONYMOUS', async () => {
  assert.deepEqual(await offered(strict.port), ['SCRAM-SHA-256', 'SCRAM-SHA-1']);
  const permissive = await broker(['--auth', 'yes', '--allow-plain-without-tls', 'yes', '--allow-anonymous', 'yes']);
  assert.deepEqual(await offered(permissive.port), ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN', 'ANONYMOUS']);
  const open = await broker(['--auth', 'no']);
  assert.deepEqual(await offered(open.port), ['PLAIN', 'ANONYMOUS']);
});

test('SCRAM-SHA-256 and SCRAM-SHA-1 with rhea log in; the identity carries the realm', async () => {
  await login(strict.port, 'alice', PASSWORD, 'SCRAM-SHA-256');
  await login(strict.port, 'alice', PASSWORD, 'SCRAM-SHA-1');
  await login(strict.port, 'alice@QPID', PASSWORD, 'SCRAM-SHA-256');
  assert.equal(await identitySeenBy(strict, 'alice', PASSWORD), 'alice@QPID');
});

test('a wrong password and an unknown user get outcome auth, each logged once with user, mechanism and reason, never the password', async () => {
  await assert.rejects(login(strict.port, 'alice', 'not-the-password-xyz', 'SCRAM-SHA-256'));
  await assert.rejects(login(strict.port, 'mallory', 'mallory-password-xyz', 'SCRAM-SHA-1'));
  await strict.waitForLog((l) => l.msg === 'authentication failed' && l['user'] === 'mallory');
  const failures = strict.logs.filter((l) => l.msg === 'authentication failed');
  assert.deepEqual(
    failures.map((l) => [l['user'], l['mechanism'], l['reason']]),
    [
      ['alice', 'SCRAM-SHA-256', 'wrong password'],
      ['mallory', 'SCRAM-SHA-1', 'unknown user'],
    ],
  );
  assert.equal(secretsLeaked(strict, 'not-the-password-xyz'), false);
  assert.equal(secretsLeaked(strict, 'mallory-password-xyz'), false);
  assert.equal(secretsLeaked(strict, PASSWORD), false);
});

test('without its options, PLAIN and ANONYMOUS are refused under --auth yes', async () => {
  await assert.rejects(login(strict.port, 'alice', PASSWORD, 'PLAIN'));
  await assert.rejects(connect(strict.port), /disconnected|refused|mechanism/i);
});

const protonScript = `
import sys
from proton.utils import BlockingConnection
try:
    c = BlockingConnection(sys.argv[1], user=sys.argv[2], password=sys.stdin.read(), allowed_mechs=sys.argv[3], allow_insecure_mechs=True, timeout=10)
    c.close()
    print('ok')
except Exception as e:
    print('failed: %s' % e)
`;
const hasProton = spawnSync(PYTHON, ['-c', 'import proton']).status === 0;
// Debian's libqpid-proton-core is built without Cyrus SASL: its clients have only ANONYMOUS,
// PLAIN and EXTERNAL (proton.SASL.extended() is False), so SCRAM runs only where Proton has Cyrus.
const protonHasScram = hasProton && spawnSync(PYTHON, ['-c', 'import proton, sys; sys.exit(0 if proton.SASL.extended() else 1)']).status === 0;

function proton(port: number, mechanism: string, password: string): string {
  return spawnSync(PYTHON, ['-c', protonScript, `127.0.0.1:${port}`, 'alice', mechanism], { input: password, encoding: 'utf8', timeout: 30_000 }).stdout.trim();
}

test('SCRAM-SHA-256 with Proton Python: the right password sends, a wrong one is refused', { skip: !protonHasScram && 'this Proton has no Cyrus SASL (proton.SASL.extended() is False): no SCRAM client' }, () => {
  assert.equal(proton(strict.port, 'SCRAM-SHA-256', PASSWORD), 'ok');
  assert.match(proton(strict.port, 'SCRAM-SHA-256', 'wrong-proton-password'), /^failed/);
  assert.equal(secretsLeaked(strict, 'wrong-proton-password'), false);
});

test('PLAIN with Proton Python where the broker allows it without TLS: the right password sends, a wrong one is refused', { skip: !hasProton && 'python3-qpid-proton is not installed' }, async () => {
  const plain = await broker(['--auth', 'yes', '--sasl-users-file', usersFile, '--allow-plain-without-tls', 'yes']);
  assert.equal(proton(plain.port, 'PLAIN', PASSWORD), 'ok');
  assert.match(proton(plain.port, 'PLAIN', 'wrong-proton-password'), /^failed/);
  await plain.waitForLog((l) => l.msg === 'authentication failed' && l['mechanism'] === 'PLAIN' && l['reason'] === 'wrong password');
  assert.equal(secretsLeaked(plain, 'wrong-proton-password'), false);
  assert.match(proton(strict.port, 'PLAIN', PASSWORD), /^failed/, 'not offered without the option');
});

test('--auth no accepts any name with PLAIN, and records it with the realm', async () => {
  const open = await broker(['--auth', 'no', '--realm', 'EXAMPLE']);
  assert.equal(await identitySeenBy(open, 'bob', 'anything-at-all'), 'bob@EXAMPLE');
  assert.equal(secretsLeaked(open, 'anything-at-all'), false);
});

test('an address that keeps failing is refused at once for a while (sys-temp), even with the right password', async () => {
  const limited = await broker(['--auth', 'yes', '--sasl-users-file', usersFile]);
  for (let i = 0; i < 5; i++) await assert.rejects(login(limited.port, 'alice', `guess-${i}`, 'SCRAM-SHA-256'));
  await limited.waitForLog((l) => l.msg === 'too many failed authentications from one address; refusing its attempts for a while');
  await assert.rejects(login(limited.port, 'alice', PASSWORD, 'SCRAM-SHA-256'), 'the right password, refused: the address is over its limit');
  assert.equal(limited.logs.filter((l) => l.msg === 'authentication failed').length, 5, 'the refused attempt is not a new failure line');
});
