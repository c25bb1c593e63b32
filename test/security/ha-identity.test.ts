// Issue 13, HA identity: a cluster run entirely under --auth yes and the minimal HA ACL (the HA
// user may connect, replicate and read status; nothing else) replicates and fails over; a
// backup with the wrong HA password never becomes ready, stays joining and says why in
// `qpid-ha status`, without the password anywhere; a client identity cannot take the stream.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, openReceiver, openSender, receiveN, sendAll } from '../helpers/amqp.js';
import { removeDir, tempDir, TOOL } from '../helpers/broker-process.js';
import { Cluster } from '../helpers/cluster.js';
import { clientSaslMechanisms } from '../../src/security/rhea-sasl-client.js';
import { REPLICATION_ADDRESS } from '../../src/ha/messages.js';

// The minimal ACL for the HA user (README, Security): connect, the replication stream, and the
// status its peers ask for before a promotion.
const MINIMAL_HA_ACL = [
  'acl allow ha@QPID access connection',
  'acl allow ha@QPID access method name=ha-replication',
  'acl allow ha@QPID access query name=status',
  'acl allow admin@QPID access method name=promote',
  'acl allow admin@QPID all',
  'acl allow app@QPID access connection',
  'acl allow app@QPID create queue name=orders',
  'acl allow app@QPID publish exchange name=amq.default routingkey=orders',
  'acl allow app@QPID consume queue name=orders',
  'acl deny all all',
  '',
].join('\n');

const dir = tempDir('qpidd-ha-identity-');
const usersFile = join(dir, 'users.json');
const aclFile = join(dir, 'qpidd.acl');
for (const user of ['ha', 'admin', 'app']) spawnSync(process.execPath, [TOOL('qpid-users'), 'add', user, '--file', usersFile], { input: `${user}-pw\n` });
writeFileSync(aclFile, MINIMAL_HA_ACL);
const SECURE = ['--auth', 'yes', '--sasl-users-file', usersFile, '--acl-file', aclFile, '--ha-username', 'ha'];
const clusters: Cluster[] = [];
after(async () => {
  for (const c of clusters) await c.stop();
  removeDir(dir);
});

const app = { rhea: { sasl_mechanisms: clientSaslMechanisms('app', 'app-pw') } };

test('a 3-broker cluster under --auth yes and the minimal HA ACL replicates and fails over', async () => {
  const cluster = await Cluster.start({ size: 3, extraArgs: [...SECURE, '--ha-password', 'ha-pw'], login: { user: 'admin', password: 'admin-pw' } });
  clusters.push(cluster);
  await cluster.promoteAndWait(0);
  const producer = await connect(cluster.ports[0] as number, app);
  const sender = await openSender(producer.connection, { address: 'orders', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  const outcomes = await sendAll(sender, Array.from({ length: 20 }, (_, i) => ({ body: `order ${i}`, durable: true })));
  assert.ok(outcomes.every((o) => o.state === 'accepted'));
  await producer.close();
  await cluster.waitForReplication(0);
  await cluster.kill(0);
  await cluster.promote(1);
  await cluster.waitForState(1, 'active');
  const consumer = await connect(cluster.ports[1] as number, app);
  const receiver = await openReceiver(consumer.connection, 'orders');
  const received = await receiveN(receiver, 20);
  assert.deepEqual(received.map((r) => r.message.body), Array.from({ length: 20 }, (_, i) => `order ${i}`));
  await consumer.close();
  assert.equal((await cluster.status(1)).replicationError, null);
  // The primary refuses the stream to an identity the ACL does not name for it, even on a
  // connection that says it is a replication connection.
  const intruder = await connect(cluster.ports[1] as number, { ...app, properties: { 'qpid.ha-replication': true } });
  const refusal = await new Promise<{ condition?: string; description?: string }>((resolve) => {
    const link = intruder.connection.open_receiver({ source: { address: REPLICATION_ADDRESS }, credit_window: 0 } as never);
    link.on('receiver_close', () => resolve((link as unknown as { error?: { condition?: string; description?: string } }).error ?? {}));
    link.on('receiver_error', () => {});
  });
  assert.equal(String(refusal.condition), 'amqp:unauthorized-access');
  assert.match(String(refusal.description), /app@QPID may not access method ha-replication: denied by .*qpidd\.acl:10 \(this needs an explicit allow/);
  await intruder.close();
});

test('a backup with the wrong HA password stays joining, and qpid-ha status says why (never the password)', async () => {
  const cluster = await Cluster.start({ size: 2, extraArgs: SECURE, login: { user: 'admin', password: 'admin-pw' } });
  clusters.push(cluster);
  await Promise.all([cluster.kill(0), cluster.kill(1)]);
  await cluster.startBroker(0, ['--ha-password', 'ha-pw']);
  const wrong = await cluster.startBroker(1, ['--ha-password', 'not-the-ha-pw']);
  await cluster.promote(0);
  await cluster.waitForState(0, 'active');
  const line = await wrong.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('refused as the HA identity'), 15_000);
  assert.match(String(line['reason']), /amqp:unauthorized-access: authentication as ha failed/);
  const status = await cluster.tool('qpid-ha', ['-b', `admin@127.0.0.1:${cluster.ports[1]}`, 'status']);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^joining\nreplication refused: 127\.0\.0\.1:\d+: amqp:unauthorized-access: authentication as ha failed/);
  // Retried every maintenance interval (0.1 s) for a second: logged once, not at every attempt.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal((await cluster.status(1)).state, 'joining');
  assert.equal(wrong.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('refused as the HA identity')).length, 1);
  for (const b of [cluster.broker(0), wrong]) assert.equal(JSON.stringify(b.logs).includes('not-the-ha-pw'), false);
  assert.equal(status.stdout.includes('not-the-ha-pw'), false);
});

test('without an ACL, the replication stream is still only for the HA identity', async () => {
  const open = ['--auth', 'yes', '--sasl-users-file', usersFile, '--ha-username', 'ha', '--ha-password', 'ha-pw'];
  const cluster = await Cluster.start({ size: 2, extraArgs: open, login: { user: 'admin', password: 'admin-pw' } });
  clusters.push(cluster);
  await cluster.promoteAndWait(0);
  const intruder = await connect(cluster.ports[0] as number, { ...app, properties: { 'qpid.ha-replication': true } });
  const refusal = await new Promise<{ condition?: string; description?: string }>((resolve) => {
    const link = intruder.connection.open_receiver({ source: { address: REPLICATION_ADDRESS }, credit_window: 0 } as never);
    link.on('receiver_close', () => resolve((link as unknown as { error?: { condition?: string; description?: string } }).error ?? {}));
    link.on('receiver_error', () => {});
  });
  assert.equal(String(refusal.condition), 'amqp:unauthorized-access');
  assert.match(String(refusal.description), /app@QPID is not the HA identity \(ha@QPID\)/);
  await intruder.close();
  assert.equal((await cluster.status(1)).state, 'ready', 'the real backup, logged in as ha, replicates');
});
