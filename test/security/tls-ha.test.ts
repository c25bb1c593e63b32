// Issue 13, HA over TLS: two brokers whose --ha-brokers-url is amqps: and which refuse their
// plain ports (--require-encryption yes), under --auth yes with the HA user logging in by SCRAM.
// The backup replicates over TLS, becomes ready, and after SIGKILL of the primary and promotion
// holds every accepted message. qpid-ha reaches the brokers with -b amqps:... and
// QPID_SSL_CA_FILE.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, openReceiver, openSender, receiveN, sendAll } from '../helpers/amqp.js';
import { freePort, removeDir, startQpidd, tempDir, TOOL, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { makeCertificates, type TestCertificates } from '../helpers/certs.js';
import type { HaStatus } from '../../src/ha/node.js';
import { managementRequest } from '../../src/management/client.js';
import { clientSaslMechanisms } from '../../src/security/rhea-sasl-client.js';
import { setClientTlsFiles } from '../../src/security/tls-context.js';
import { emptyUsersDocument, makeUserRecord, writeUsersFile } from '../../src/security/users-file.js';

const HA_PASSWORD = 'ha-tls-pw-0815';
const ADMIN_PASSWORD = 'admin-tls-pw-0816';
const dirs: string[] = [];
const brokers: (BrokerProcess | null)[] = [null, null];
let certs: TestCertificates;
let usersFile: string;
const plainPorts: number[] = [];
const sslPorts: number[] = [];

function dir(): string {
  const d = tempDir('qpidd-tls-ha-');
  dirs.push(d);
  return d;
}

const address = (i: number) => ({ transport: 'ssl' as const, host: '127.0.0.1', port: sslPorts[i] as number });
const status = (i: number) => managementRequest<HaStatus>(address(i), 'status', {}, { admin: true, timeoutMs: 5000, username: 'admin', password: ADMIN_PASSWORD });

function tool(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TOOL('qpid-ha'), ...args], { env: { ...process.env, QPID_SSL_CA_FILE: certs.caCert, QPID_PASSWORD: ADMIN_PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

function rheaTls(): Record<string, unknown> {
  return { transport: 'tls', ca: readFileSync(certs.caCert), sasl_mechanisms: clientSaslMechanisms('admin', ADMIN_PASSWORD, 'SCRAM-SHA-256') };
}

before(async () => {
  certs = makeCertificates([]);
  dirs.push(certs.dir);
  setClientTlsFiles({ caFile: certs.caCert });
  usersFile = join(dir(), 'users.json');
  writeUsersFile(usersFile, { ...emptyUsersDocument(), users: { ha: makeUserRecord(HA_PASSWORD), admin: makeUserRecord(ADMIN_PASSWORD) } });
  while (plainPorts.length + sslPorts.length < 4) {
    const port = await freePort();
    if (plainPorts.includes(port) || sslPorts.includes(port)) continue;
    (plainPorts.length < 2 ? plainPorts : sslPorts).push(port);
  }
  const url = `amqps:127.0.0.1:${sslPorts[0]},127.0.0.1:${sslPorts[1]}`;
  await Promise.all(
    [0, 1].map(async (i) => {
      brokers[i] = await startQpidd({
        dataDir: dir(),
        port: plainPorts[i] as number,
        name: `b${i}`,
        args: [
          '--auth', 'yes', '--sasl-users-file', usersFile, '--ha-username', 'ha', '--ha-password', HA_PASSWORD,
          '--ha-cluster', 'yes', '--ha-brokers-url', url, '--ha-replicate', 'all',
          '--link-maintenance-interval', '0.1', '--link-heartbeat-interval', '1', '--ha-backup-timeout', '5',
          '--ssl-port', String(sslPorts[i]), '--ssl-cert-file', certs.serverCert, '--ssl-key-file', certs.serverKey, '--ssl-ca-file', certs.caCert,
          '--require-encryption', 'yes',
        ],
      });
    }),
  );
});

after(async () => {
  for (const b of brokers) await b?.stop();
  for (const d of dirs) removeDir(d);
});

test('a backup replicates from its primary over amqps (plain ports refused), and after SIGKILL of the primary the promoted backup has every accepted message', async () => {
  const promoted = await tool(['--cluster-manager', '-b', `amqps:admin@127.0.0.1:${sslPorts[0]}`, 'promote']);
  assert.equal(promoted.code, 0, promoted.stderr);
  await waitFor(async () => (await status(0)).state === 'active', 'b0 active', 20_000, 50);
  await waitFor(async () => (await status(1)).state === 'ready', 'b1 ready', 20_000, 50);

  const c = await connect(sslPorts[0] as number, { rhea: rheaTls() });
  const bodies = Array.from({ length: 50 }, (_, i) => `tls-ha-${i}`);
  try {
    const sender = await openSender(c.connection, { address: 'tls-ha-q', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
    const outcomes = await sendAll(sender, bodies.map((body) => ({ body, durable: true })));
    assert.ok(outcomes.every((o) => o.state === 'accepted'));
  } finally {
    await c.close();
  }
  assert.equal(brokers[0]?.logs.some((l) => l.msg === 'connection refused: encryption required'), false, 'the backup never tried the plain port');

  brokers[0]?.kill('SIGKILL');
  await brokers[0]?.exited;
  brokers[0] = null;
  const second = await tool(['--cluster-manager', '-b', `amqps:admin@127.0.0.1:${sslPorts[1]}`, 'promote']);
  assert.equal(second.code, 0, second.stderr);
  await waitFor(async () => ['recovering', 'active'].includes((await status(1)).state), 'b1 promoted', 20_000, 50);
  const r = await connect(sslPorts[1] as number, { rhea: rheaTls() });
  try {
    const receiver = await openReceiver(r.connection, 'tls-ha-q');
    const got = await receiveN(receiver, bodies.length, { timeoutMs: 20_000 });
    assert.deepEqual(got.map((m) => m.message.body), bodies);
  } finally {
    await r.close();
  }
  for (const b of brokers) if (b) assert.equal(JSON.stringify(b.logs).includes(HA_PASSWORD) || b.stderr().includes(HA_PASSWORD), false, 'the HA password is never logged');
});
