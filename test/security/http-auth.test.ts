// Issue 13, the management HTTP API under --auth yes, against real brokers: no credentials get
// 401 (health probes stay open); HTTP Basic works over https (--http-ssl yes) and is refused on
// plain HTTP; a bearer token from `qpid-users token` works (after SIGHUP for one issued while the
// broker runs); a cross-origin text/plain POST is refused and purges nothing; writes need their
// ACL action; message bodies are hidden from an identity that may not consume the queue;
// --http-metrics-auth yes closes /metrics; no password or token reaches the logs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { connect, openSender, sendAll } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, TOOL, type BrokerProcess } from '../helpers/broker-process.js';
import { makeCertificates, type TestCertificates } from '../helpers/certs.js';
import { clientSaslMechanisms } from '../../src/security/rhea-sasl-client.js';
import { emptyUsersDocument, makeUserRecord, writeUsersFile } from '../../src/security/users-file.js';

const ALICE_PASSWORD = 'alice-http-pw-31337';
const BOB_PASSWORD = 'bob-http-pw-42424';
const NEW_ALICE_PASSWORD = 'alice-new-pw-27182';
const dirs: string[] = [];
const brokers: BrokerProcess[] = [];
let certs: TestCertificates;
let usersFile: string;
let secure: { broker: BrokerProcess; httpPort: number };
let plain: { broker: BrokerProcess; httpPort: number };
let aliceToken: string;

function dir(): string {
  const d = tempDir('qpidd-http-auth-');
  dirs.push(d);
  return d;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly json: Record<string, unknown>;
}

function call(target: { https: boolean; port: number }, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const send = target.https ? httpsRequest : httpRequest;
    const req = send({ host: '127.0.0.1', port: target.port, path, method: options.method ?? 'GET', headers: options.headers ?? {}, ...(target.https ? { ca: readFileSync(certs.caCert) } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = { text };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('HTTP request timed out')));
    req.end(options.body);
  });
}

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const https = () => ({ https: true, port: secure.httpPort });
const http = () => ({ https: false, port: plain.httpPort });

function issueToken(user: string): string {
  const result = spawnSync(process.execPath, [TOOL('qpid-users'), 'token', user, '--file', usersFile], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim();
}

async function broker(args: readonly string[]): Promise<{ broker: BrokerProcess; httpPort: number }> {
  const b = await startQpidd({ dataDir: dir(), args: ['--auth', 'yes', '--sasl-users-file', usersFile, '--http-port', '0', ...args] });
  brokers.push(b);
  const listening = await b.waitForLog((l) => l.msg === 'listening');
  return { broker: b, httpPort: Number(listening['httpPort']) };
}

async function depth(target: { https: boolean; port: number }, queue: string): Promise<number> {
  const answer = await call(target, '/api/queues', { headers: bearer(aliceToken) });
  const row = (answer.json['items'] as { name: string; count: number }[]).find((q) => q.name === queue);
  return row?.count ?? -1;
}

before(async () => {
  certs = makeCertificates([]);
  dirs.push(certs.dir);
  const d = dir();
  usersFile = join(d, 'users.json');
  writeUsersFile(usersFile, { ...emptyUsersDocument(), users: { alice: makeUserRecord(ALICE_PASSWORD), bob: makeUserRecord(BOB_PASSWORD) } });
  aliceToken = issueToken('alice');
  const aclFile = join(d, 'qpidd.acl');
  // bob may read (listings, status, stored messages' metadata) and nothing more.
  writeFileSync(aclFile, ['acl allow alice@QPID all', 'acl allow bob@QPID access connection', 'acl allow bob@QPID access query', 'acl deny all all', ''].join('\n'));
  [secure, plain] = await Promise.all([
    broker(['--acl-file', aclFile, '--http-ssl', 'yes', '--ssl-cert-file', certs.serverCert, '--ssl-key-file', certs.serverKey]),
    broker(['--acl-file', aclFile, '--http-metrics-auth', 'yes']),
  ]);
  for (const b of [secure.broker, plain.broker]) {
    const c = await connect(b.port, { rhea: { sasl_mechanisms: clientSaslMechanisms('alice', ALICE_PASSWORD, 'SCRAM-SHA-256') } });
    try {
      const sender = await openSender(c.connection, { address: 'jobs', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
      await sendAll(sender, [{ body: 'secret payload 1', durable: true }, { body: 'secret payload 2', durable: true }]);
    } finally {
      await c.close();
    }
  }
});

after(async () => {
  for (const b of brokers) await b.stop();
  for (const d of dirs) removeDir(d);
});

test('without credentials the API answers 401 with WWW-Authenticate; /healthz, /readyz and /metrics stay open', async () => {
  const refused = await call(https(), '/api/queues');
  assert.equal(refused.status, 401);
  assert.equal(refused.json['code'], 'UNAUTHENTICATED');
  assert.match(String(refused.headers['www-authenticate']), /Basic realm="QPID"/);
  assert.equal((await call(https(), '/api/status', { headers: basic('alice', 'not-alices-password') })).status, 401);
  for (const path of ['/healthz', '/readyz', '/metrics']) assert.notEqual((await call(https(), path)).status, 401, path);
  assert.equal(refused.headers['access-control-allow-origin'], undefined, 'no CORS headers');
});

test('HTTP Basic works over https and is refused on plain HTTP; a bearer token works on both; a new password ends the old one at the next SIGHUP', async () => {
  const ok = await call(https(), '/api/queues', { headers: basic('alice', ALICE_PASSWORD) });
  assert.equal(ok.status, 200);
  assert.ok((ok.json['items'] as { name: string }[]).some((q) => q.name === 'jobs'));
  const overPlain = await call(http(), '/api/queues', { headers: basic('alice', ALICE_PASSWORD) });
  assert.equal(overPlain.status, 401);
  assert.match(String(overPlain.json['error']), /only over TLS/);
  assert.equal((await call(http(), '/api/queues', { headers: bearer(aliceToken) })).status, 200);
  assert.equal((await call(https(), '/api/queues', { headers: bearer(aliceToken) })).status, 200);
  assert.equal((await call(http(), '/api/queues', { headers: bearer(`${aliceToken}x`) })).status, 401);
  // A verified Basic login is remembered (no scrypt per request), but not past a new password.
  assert.equal((await call(https(), '/api/queues', { headers: basic('alice', ALICE_PASSWORD) })).status, 200);
  const changed = spawnSync(process.execPath, [TOOL('qpid-users'), 'passwd', 'alice', '--file', usersFile], { input: `${NEW_ALICE_PASSWORD}\n`, encoding: 'utf8' });
  assert.equal(changed.status, 0, changed.stderr);
  const reloads = secure.broker.logs.filter((l) => l.msg === 'users file reloaded').length;
  secure.broker.kill('SIGHUP');
  await secure.broker.waitForLog(() => secure.broker.logs.filter((l) => l.msg === 'users file reloaded').length > reloads);
  assert.equal((await call(https(), '/api/queues', { headers: basic('alice', ALICE_PASSWORD) })).status, 401, 'the old password, remembered before, no longer works');
  assert.equal((await call(https(), '/api/queues', { headers: basic('alice', NEW_ALICE_PASSWORD) })).status, 200);
  assert.equal((await call(https(), '/api/queues', { headers: bearer(aliceToken) })).status, 200, 'a new password keeps the tokens');
});

test('a token issued while the broker runs works after SIGHUP, and stops working once revoked; bob may read but not purge, and sees no message bodies', async () => {
  const bobToken = issueToken('bob');
  plain.broker.kill('SIGHUP');
  await plain.broker.waitForLog((l) => l.msg === 'users file reloaded');
  const listing = await call(http(), '/api/store-messages?queue=jobs', { headers: bearer(bobToken) });
  assert.equal(listing.status, 200);
  const rows = listing.json['items'] as { body: unknown; bodyHidden?: boolean; size: number }[];
  assert.equal(rows.length, 2);
  assert.ok(rows.every((r) => r.body === null && r.bodyHidden === true && r.size > 0), JSON.stringify(rows));
  const asAlice = await call(http(), '/api/store-messages?queue=jobs', { headers: bearer(aliceToken) });
  assert.deepEqual((asAlice.json['items'] as { body: unknown }[]).map((r) => r.body), ['secret payload 1', 'secret payload 2']);
  const purge = await call(http(), '/api/purge', { method: 'POST', headers: { ...bearer(bobToken), 'content-type': 'application/json' }, body: JSON.stringify({ queue: 'jobs' }) });
  assert.equal(purge.status, 403);
  assert.match(String(purge.json['error']), /bob@QPID may not/);
  assert.equal(await depth(http(), 'jobs'), 2);
  // Revoked, and read again: the token no longer works.
  const revoked = spawnSync(process.execPath, [TOOL('qpid-users'), 'token', 'bob', '--revoke', '--file', usersFile], { encoding: 'utf8' });
  assert.equal(revoked.status, 0, revoked.stderr);
  const reloads = plain.broker.logs.filter((l) => l.msg === 'users file reloaded').length;
  plain.broker.kill('SIGHUP');
  await plain.broker.waitForLog(() => plain.broker.logs.filter((l) => l.msg === 'users file reloaded').length > reloads);
  assert.equal((await call(http(), '/api/queues', { headers: bearer(bobToken) })).status, 401);
  assert.equal(readFileSync(usersFile, 'utf8').includes(bobToken), false, 'the file never holds a token');
  for (const secret of [bobToken, aliceToken, BOB_PASSWORD, ALICE_PASSWORD, NEW_ALICE_PASSWORD]) {
    assert.equal(JSON.stringify(plain.broker.logs).includes(secret) || plain.broker.stderr().includes(secret), false, 'a secret in the logs');
  }
});

test('a cross-origin POST and a text/plain POST are refused and purge nothing; the same POST as JSON from no foreign origin purges', async () => {
  const body = JSON.stringify({ queue: 'jobs' });
  const cross = await call(https(), '/api/purge', { method: 'POST', headers: { ...bearer(aliceToken), origin: 'http://evil.example', 'content-type': 'text/plain' }, body });
  assert.equal(cross.status, 403);
  assert.equal(cross.json['code'], 'CROSS_ORIGIN');
  const crossJson = await call(https(), '/api/purge', { method: 'POST', headers: { ...bearer(aliceToken), origin: 'http://evil.example', 'content-type': 'application/json' }, body });
  assert.equal(crossJson.status, 403);
  const textPlain = await call(https(), '/api/purge', { method: 'POST', headers: { ...bearer(aliceToken), 'content-type': 'text/plain' }, body });
  assert.equal(textPlain.status, 415);
  assert.equal(await depth(https(), 'jobs'), 2, 'nothing was purged');
  const sameOrigin = await call(https(), '/api/purge', { method: 'POST', headers: { ...bearer(aliceToken), origin: `https://127.0.0.1:${secure.httpPort}`, 'content-type': 'application/json' }, body });
  assert.equal(sameOrigin.status, 200, JSON.stringify(sameOrigin.json));
  assert.equal(await depth(https(), 'jobs'), 0);
});

test('--http-metrics-auth yes: /metrics needs credentials too; /healthz stays open', async () => {
  assert.equal((await call(http(), '/metrics')).status, 401);
  assert.equal((await call(http(), '/metrics', { headers: bearer(aliceToken) })).status, 200);
  assert.equal((await call(http(), '/healthz')).status, 200);
});
