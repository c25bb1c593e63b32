// Issue 13, TLS against real broker processes, with certificates made by openssl for the test:
// SCRAM over amqps with rhea; PLAIN refused on the plain port and accepted over TLS; EXTERNAL
// with a client certificate (the identity is its CN, checked through the ACL), and not with a
// certificate from another authority; Proton Python over TLS (PLAIN and EXTERNAL);
// --require-encryption refuses the plain port; --ssl-require-client-auth refuses a client
// without a certificate; bad TLS options exit 2 naming the option; no secret in the logs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, openReceiver, openSender, receiveN, sendAll } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { makeCertificates, type TestCertificates } from '../helpers/certs.js';
import { PYTHON } from '../interop/programs.js';
import { ManagementClient } from '../../src/management/client.js';
import { clientSaslMechanisms } from '../../src/security/rhea-sasl-client.js';
import { emptyUsersDocument, makeUserRecord, writeUsersFile } from '../../src/security/users-file.js';

const PASSWORD = 'tls-Secret-pw-4711';
const dirs: string[] = [];
const brokers: BrokerProcess[] = [];
let certs: TestCertificates;
let usersFile: string;
let aclFile: string;
let main: BrokerProcess;
let mainSsl: number;

function dir(): string {
  const d = tempDir('qpidd-tls-');
  dirs.push(d);
  return d;
}

function tlsArgs(): string[] {
  return ['--ssl-port', '0', '--ssl-cert-file', certs.serverCert, '--ssl-key-file', certs.serverKey, '--ssl-ca-file', certs.caCert];
}

async function broker(args: readonly string[]): Promise<{ broker: BrokerProcess; sslPort: number }> {
  const b = await startQpidd({ dataDir: dir(), args });
  brokers.push(b);
  const listening = await b.waitForLog((l) => l.msg === 'listening');
  return { broker: b, sslPort: Number(listening['sslPort']) };
}

/** rhea options for a TLS connection trusting the test CA, optionally with a client certificate. */
function tls(client?: { cert: string; key: string }): Record<string, unknown> {
  return { transport: 'tls', ca: readFileSync(certs.caCert), ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}) };
}

/** The mechanisms a connection is offered, in order: rhea looks each one up in the client's
 * mechanism map, which here only takes notes (and so has none: the login fails). */
async function offered(port: number, options: Record<string, unknown>): Promise<string[]> {
  const seen: string[] = [];
  const noting = new Proxy({}, { get: (_, name) => void (typeof name === 'string' && seen.push(name)) });
  await assert.rejects(connect(port, { rhea: { ...options, sasl_mechanisms: noting } }));
  return seen;
}

/** Connects and waits for the broker's close right after its open: the refusal's condition. */
async function refusedAtOpen(port: number, options: Record<string, unknown>): Promise<{ condition?: string; description?: string }> {
  const c = await connect(port, { rhea: options });
  const connection = c.connection as unknown as { once(e: string, f: () => void): void; remote?: { close?: { error?: { condition?: string; description?: string } } }; is_remote_open(): boolean };
  const deadline = Date.now() + 10_000;
  while (connection.remote?.close === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await c.close();
  const error = connection.remote?.close?.error;
  return { ...(error?.condition !== undefined ? { condition: String(error.condition) } : {}), ...(error?.description !== undefined ? { description: String(error.description) } : {}) };
}

function secretsLeaked(b: BrokerProcess, secret: string): boolean {
  return JSON.stringify(b.logs).includes(secret) || b.stderr().includes(secret);
}

before(async () => {
  certs = makeCertificates(['carol']);
  dirs.push(certs.dir);
  const d = dir();
  usersFile = join(d, 'users.json');
  writeUsersFile(usersFile, { ...emptyUsersDocument(), users: { alice: makeUserRecord(PASSWORD) } });
  aclFile = join(d, 'qpidd.acl');
  // carol (the certificate's CN) may consume carol-q only: what she can do proves who she is.
  writeFileSync(aclFile, ['acl allow alice@QPID all', 'acl allow carol@QPID access connection', 'acl allow carol@QPID consume queue name=carol-q', 'acl deny all all', ''].join('\n'));
  ({ broker: main, sslPort: mainSsl } = await broker(['--auth', 'yes', '--sasl-users-file', usersFile, '--acl-file', aclFile, ...tlsArgs()]));
  const admin = await ManagementClient.connect({ transport: 'tcp', host: '127.0.0.1', port: main.port }, { username: 'alice', password: PASSWORD });
  try {
    for (const name of ['carol-q', 'other-q', 'tls-q']) await admin.request('add-queue', { name });
  } finally {
    admin.close();
  }
});

after(async () => {
  for (const b of brokers) await b.stop();
  for (const d of dirs) removeDir(d);
});

test('over TLS, PLAIN is offered beside SCRAM, and EXTERNAL first when the client has a certificate of our CA; the plain port offers SCRAM only', async () => {
  assert.deepEqual(await offered(main.port, {}), ['SCRAM-SHA-256', 'SCRAM-SHA-1']);
  assert.deepEqual(await offered(mainSsl, tls()), ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
  assert.deepEqual(await offered(mainSsl, tls(certs.client('carol'))), ['EXTERNAL', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
  assert.deepEqual(await offered(mainSsl, tls({ cert: certs.strangerCert, key: certs.strangerKey })), ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'], 'a certificate of another authority proves nothing');
});

test('SCRAM-SHA-256 with rhea over amqps sends and receives', async () => {
  const c = await connect(mainSsl, { rhea: { ...tls(), sasl_mechanisms: clientSaslMechanisms('alice', PASSWORD, 'SCRAM-SHA-256') } });
  try {
    const sender = await openSender(c.connection, 'tls-q');
    const outcomes = await sendAll(sender, [{ body: 'over tls 1' }, { body: 'over tls 2' }]);
    assert.deepEqual(outcomes.map((o) => o.state), ['accepted', 'accepted']);
    const receiver = await openReceiver(c.connection, 'tls-q');
    const got = await receiveN(receiver, 2);
    assert.deepEqual(got.map((r) => r.message.body), ['over tls 1', 'over tls 2']);
  } finally {
    await c.close();
  }
});

test('PLAIN is refused on the plain port and accepted over TLS; a wrong password over TLS is refused and never logged', async () => {
  const plain = { username: 'alice', password: PASSWORD };
  await assert.rejects(connect(main.port, { rhea: plain }), /mechanism|disconnected|refused/i);
  const c = await connect(mainSsl, { rhea: { ...tls(), ...plain } });
  await c.close();
  await assert.rejects(connect(mainSsl, { rhea: { ...tls(), username: 'alice', password: 'wrong-tls-password-9' } }));
  await main.waitForLog((l) => l.msg === 'authentication failed' && l['mechanism'] === 'PLAIN' && l['reason'] === 'wrong password');
  assert.equal(secretsLeaked(main, 'wrong-tls-password-9'), false);
  assert.equal(secretsLeaked(main, PASSWORD), false);
});

test("EXTERNAL with a client certificate logs in as its CN (carol@QPID): the ACL lets carol consume carol-q and nothing else", async () => {
  const c = await connect(mainSsl, { rhea: { ...tls(certs.client('carol')), enable_sasl_external: true } });
  try {
    await openReceiver(c.connection, 'carol-q');
    await assert.rejects(openReceiver(c.connection, 'other-q'), (err: { condition?: string; description?: string }) => err.condition === 'amqp:unauthorized-access' && /carol@QPID/.test(err.description ?? ''));
  } finally {
    await c.close();
  }
  // A certificate of another authority gets no EXTERNAL.
  await assert.rejects(connect(mainSsl, { rhea: { ...tls({ cert: certs.strangerCert, key: certs.strangerKey }), enable_sasl_external: true } }), 'no EXTERNAL is offered, and the client has nothing else');
});

const hasProton = spawnSync(PYTHON, ['-c', 'import proton']).status === 0;
const protonScript = `
import sys
from proton import SSLDomain
from proton.utils import BlockingConnection
url, mech, ca, cert, key = sys.argv[1:6]
try:
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    domain.set_trusted_ca_db(ca)
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
    if cert != '-':
        domain.set_credentials(cert, key, None)
    kwargs = dict(ssl_domain=domain, allowed_mechs=mech, timeout=10)
    if mech == 'PLAIN':
        kwargs.update(user='alice', password=sys.stdin.read())
    c = BlockingConnection(url, **kwargs)
    r = c.create_receiver(sys.argv[6])
    c.close()
    print('ok')
except Exception as e:
    print('failed: %s' % e)
`;

function proton(mechanism: string, queue: string, options: { password?: string; cert?: { cert: string; key: string } } = {}): string {
  // Proton checks the peer name against the certificate's DNS names only (not its IP address).
  const args = ['-c', protonScript, `amqps://localhost:${mainSsl}`, mechanism, certs.caCert, options.cert?.cert ?? '-', options.cert?.key ?? '-', queue];
  return spawnSync(PYTHON, args, { input: options.password ?? '', encoding: 'utf8', timeout: 30_000 }).stdout.trim();
}

test('Proton Python (Debian python3-qpid-proton) over amqps: PLAIN with the password, EXTERNAL with carol\'s certificate', { skip: !hasProton && 'python3-qpid-proton is not installed' }, () => {
  assert.equal(proton('PLAIN', 'tls-q', { password: PASSWORD }), 'ok');
  assert.match(proton('PLAIN', 'tls-q', { password: 'proton-wrong-pw' }), /^failed/);
  assert.equal(proton('EXTERNAL', 'carol-q', { cert: certs.client('carol') }), 'ok');
  assert.match(proton('EXTERNAL', 'tls-q', { cert: certs.client('carol') }), /^failed.*unauthorized/i, 'carol may not consume tls-q');
  assert.equal(secretsLeaked(main, 'proton-wrong-pw'), false);
});

test('--require-encryption refuses the plain port with unauthorized-access; --ssl-require-client-auth refuses a TLS client without a certificate', async () => {
  const { broker: strict, sslPort } = await broker(['--auth', 'yes', '--sasl-users-file', usersFile, ...tlsArgs(), '--require-encryption', 'yes', '--ssl-require-client-auth', 'yes']);
  const refusal = await refusedAtOpen(strict.port, { sasl_mechanisms: clientSaslMechanisms('alice', PASSWORD, 'SCRAM-SHA-256') });
  assert.equal(refusal.condition, 'amqp:unauthorized-access');
  assert.match(refusal.description ?? '', /require-encryption/);
  await assert.rejects(connect(sslPort, { rhea: { ...tls(), username: 'alice', password: PASSWORD } }), /disconnected|certificate|socket|ECONNRESET/i);
  const c = await connect(sslPort, { rhea: { ...tls(certs.client('carol')), username: 'alice', password: PASSWORD } });
  await c.close();
  await strict.waitForLog((l) => l.msg === 'connection refused: encryption required');
});

test('bad TLS options refuse to start with exit 2, naming the option', async () => {
  const cases: [string[], RegExp][] = [
    [['--ssl-cert-file', '/nonexistent-cert.pem'], /ssl-cert-file is set but ssl-key-file is not/],
    [['--ssl-port', '0'], /ssl-port is set but ssl-cert-file is not/],
    [['--require-encryption', 'yes'], /require-encryption is yes but ssl-port is not set/],
    [['--ssl-port', '0', '--ssl-cert-file', '/nonexistent-cert.pem', '--ssl-key-file', certs.serverKey], /--ssl-cert-file \/nonexistent-cert\.pem: cannot read it \(ENOENT\)/],
    [['--ssl-port', '0', '--ssl-cert-file', certs.serverCert, '--ssl-key-file', certs.strangerKey], /--ssl-key-file .*stranger\.key: not the private key of --ssl-cert-file/],
  ];
  await Promise.all(
    cases.map(async ([args, pattern]) => {
      const b = await startQpidd({ dataDir: dir(), args, expectFailure: true });
      brokers.push(b);
      assert.equal((await b.exited).code, 2, args.join(' '));
      assert.match(b.stderr(), pattern);
      assert.doesNotMatch(b.stderr(), /BEGIN .*PRIVATE KEY/);
    }),
  );
});
