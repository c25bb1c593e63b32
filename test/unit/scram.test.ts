// SCRAM against the RFCs' own examples (RFC 5802 §5 for SHA-1, RFC 7677 §3 for SHA-256), both
// ends; the users file keeps no password; the failure limiter is per address and bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveScramCredential, parseClientFirst, ScramClient, ScramError, serverFirstMessage, verifyClientFinal, type ScramHash } from '../../src/security/scram.js';
import { makeUserRecord, parseUsersDocument, scramCredentialOf, USERS_FILE_FORMAT, verifyPassword } from '../../src/security/users-file.js';
import { FailureLimiter, offeredMechanisms, SaslExchange } from '../../src/security/sasl.js';

const VECTORS: readonly { hash: ScramHash; clientNonce: string; serverNonce: string; salt: string; clientFinal: string; serverFinal: string }[] = [
  {
    hash: 'sha1',
    clientNonce: 'fyko+d2lbbFgONRv9qkxdawL',
    serverNonce: '3rfcNHYJY1ZVvWVs7j',
    salt: 'QSXCR+Q6sek8bf92',
    clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
    serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
  },
  {
    hash: 'sha256',
    clientNonce: 'rOprNGfwEbeRWgbNEkqO',
    serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
    clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
  },
];

for (const v of VECTORS) {
  test(`SCRAM-${v.hash.toUpperCase()}: the RFC example, server and client side`, () => {
    const credential = deriveScramCredential(v.hash, 'pencil', Buffer.from(v.salt, 'base64'), 4096);
    const first = parseClientFirst(`n,,n=user,r=${v.clientNonce}`);
    const state = serverFirstMessage(v.hash, first, credential, v.serverNonce);
    assert.equal(verifyClientFinal(state, v.clientFinal, credential), v.serverFinal);
    const client = new ScramClient(v.hash, 'user', 'pencil', v.clientNonce);
    assert.equal(client.first(), `n,,n=user,r=${v.clientNonce}`);
    assert.equal(client.final(state.serverFirst), v.clientFinal);
    assert.equal(client.verifyServer(v.serverFinal), true);
    assert.equal(client.verifyServer('v=AAAA'), false);
    const wrong = new ScramClient(v.hash, 'user', 'pen', v.clientNonce).final(state.serverFirst);
    assert.throws(() => verifyClientFinal(state, wrong, credential), (err: unknown) => err instanceof ScramError && err.reason === 'wrong password');
    assert.throws(() => verifyClientFinal(state, v.clientFinal, null), (err: unknown) => err instanceof ScramError && err.reason === 'unknown user');
  });
}

test('client-first messages: channel binding, bad names and bad nonces are refused', () => {
  assert.throws(() => parseClientFirst('p=tls-unique,,n=user,r=abc'), /channel binding/);
  assert.throws(() => parseClientFirst('n,,n=us=er,r=abc'), /user name/);
  assert.throws(() => parseClientFirst('n,,r=abc'), /malformed/);
  assert.throws(() => parseClientFirst('n,,n=user,r=a,b'), /malformed/);
  assert.equal(parseClientFirst('y,,n=a=2Cb=3Dc,r=xyz').user, 'a,b=c');
});

test('a user record holds scrypt and SCRAM keys, never the password, and checks it', async () => {
  const record = makeUserRecord('s3cret-pw');
  assert.equal(JSON.stringify(record).includes('s3cret-pw'), false);
  assert.equal(await verifyPassword(record, 's3cret-pw'), true);
  assert.equal(await verifyPassword(record, 's3cret-px'), false);
  const credential = scramCredentialOf(record, 'sha256');
  assert.deepEqual(deriveScramCredential('sha256', 's3cret-pw', credential.salt, credential.iterations), credential);
  const doc = parseUsersDocument(JSON.stringify({ format: USERS_FILE_FORMAT, users: { alice: record } }), 'users.json');
  assert.ok(doc.users['alice']);
  assert.throws(() => parseUsersDocument('{"format":"x","users":{}}', 'users.json'), /users\.json: format/);
  assert.throws(() => parseUsersDocument(JSON.stringify({ format: USERS_FILE_FORMAT, users: { 'a b': record } }), 'u.json'), /no spaces/);
});

test('mechanisms offered follow the options', () => {
  const base = { auth: true, realm: 'QPID', allowAnonymous: false, allowPlainWithoutTls: false };
  assert.deepEqual(offeredMechanisms(base), ['SCRAM-SHA-256', 'SCRAM-SHA-1']);
  assert.deepEqual(offeredMechanisms({ ...base, allowAnonymous: true, allowPlainWithoutTls: true }), ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN', 'ANONYMOUS']);
  assert.deepEqual(offeredMechanisms({ ...base, auth: false }), ['PLAIN', 'ANONYMOUS']);
});

test('an exchange refuses a mechanism not offered, and a user of another realm', async () => {
  const users = { lookup: () => makeUserRecord('pw') };
  const policy = { auth: true, realm: 'QPID', allowAnonymous: false, allowPlainWithoutTls: true };
  const none = await new SaslExchange(policy, users, Buffer.alloc(32)).init('ANONYMOUS', null);
  assert.deepEqual(none, { kind: 'failure', user: null, reason: 'mechanism ANONYMOUS is not offered' });
  const other = await new SaslExchange(policy, users, Buffer.alloc(32)).init('PLAIN', Buffer.from('\0bob@ELSEWHERE\0pw'));
  assert.equal(other.kind, 'failure');
  const ok = await new SaslExchange(policy, users, Buffer.alloc(32)).init('PLAIN', Buffer.from('\0bob@QPID\0pw'));
  assert.deepEqual(ok, { kind: 'success', identity: 'bob@QPID' });
});

test('the failure limiter refuses an address after its failures, per address, for the window only, with bounded memory', () => {
  const limiter = new FailureLimiter({ failuresMax: 3, windowMs: 1000, addressesMax: 2 });
  assert.equal(limiter.failed('a', 0), false);
  assert.equal(limiter.failed('a', 10), false);
  assert.equal(limiter.allowed('a', 20), true);
  assert.equal(limiter.failed('a', 20), true, 'the third failure starts refusing');
  assert.equal(limiter.allowed('a', 30), false);
  assert.equal(limiter.allowed('b', 30), true);
  assert.equal(limiter.allowed('a', 1011), true, 'the oldest failure has left the window');
  limiter.failed('b', 40);
  limiter.failed('c', 50);
  limiter.failed('d', 60);
  assert.equal(limiter.allowed('a', 70), true, 'forgotten: only two addresses are kept');
});

test('over TLS PLAIN is offered; EXTERNAL only with a verified certificate, whose CN (in our realm) is the identity', async () => {
  const policy = { auth: true, realm: 'QPID', allowAnonymous: false, allowPlainWithoutTls: false };
  const users = { lookup: () => undefined };
  const tls = { encrypted: true, certificateName: null };
  const carol = { encrypted: true, certificateName: 'carol' };
  assert.deepEqual(offeredMechanisms(policy, tls), ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
  assert.deepEqual(offeredMechanisms(policy, carol), ['EXTERNAL', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
  const exchange = (channel: { encrypted: boolean; certificateName: string | null }) => new SaslExchange(policy, users, Buffer.alloc(32), channel);
  assert.deepEqual(await exchange(carol).init('EXTERNAL', null), { kind: 'success', identity: 'carol@QPID' });
  assert.deepEqual(await exchange(carol).init('EXTERNAL', Buffer.from('carol@QPID')), { kind: 'success', identity: 'carol@QPID' });
  assert.deepEqual(await exchange(carol).init('EXTERNAL', Buffer.from('alice')), { kind: 'failure', user: 'carol', reason: 'authorization identity differs from the certificate' });
  assert.deepEqual(await exchange(tls).init('EXTERNAL', null), { kind: 'failure', user: null, reason: 'mechanism EXTERNAL is not offered' });
  assert.deepEqual(await exchange({ encrypted: true, certificateName: 'dave@ELSEWHERE' }).init('EXTERNAL', null), { kind: 'failure', user: 'dave@ELSEWHERE', reason: 'certificate name of another realm' });
  assert.deepEqual(await new SaslExchange(policy, users, Buffer.alloc(32)).init('PLAIN', Buffer.from('\0bob\0pw')), { kind: 'failure', user: null, reason: 'mechanism PLAIN is not offered' });
});
