// Replicating one queue between standalone brokers (reference §1.13): the replica follows the
// original's messages and their removal, catches up after either side restarts, and is kept
// as a replica across its own restart when created with --start-replica.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, openReceiver, openSender, receiveN, sendAll } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, TOOL, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { managementRequestAll } from '../../src/management/client.js';

const brokers: BrokerProcess[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
  for (const dir of dirs) removeDir(dir);
});

async function standalone(dataDir?: string): Promise<BrokerProcess> {
  const dir = dataDir ?? tempDir('qpidd-qr-');
  if (!dataDir) dirs.push(dir);
  const broker = await startQpidd({ dataDir: dir, args: ['--ha-queue-replication', 'yes', '--link-maintenance-interval', '0.1'] });
  brokers.push(broker);
  return broker;
}

function tool(name: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TOOL(name), ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const bodiesOn = async (broker: BrokerProcess, queue: string): Promise<unknown[]> =>
  (await managementRequestAll<{ body: unknown }>({ transport: 'tcp', host: '127.0.0.1', port: broker.port }, 'store-messages', { queue })).map((r) => r.body);

test('a replica queue follows its original: messages, consumption, restarts', async () => {
  const original = await standalone();
  let replicaDir = tempDir('qpidd-qr-');
  dirs.push(replicaDir);
  let replica = await standalone(replicaDir);
  const conn = await connect(original.port);
  const sender = await openSender(conn.connection, { address: 'myqueue', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  await sendAll(sender, Array.from({ length: 10 }, (_, i) => ({ durable: true, body: `m${i}` })));

  const created = await tool('qpid-config', ['-b', `127.0.0.1:${replica.port}`, 'add', 'queue', 'myqueue', '--durable', '--start-replica', `127.0.0.1:${original.port}`]);
  assert.equal(created.code, 0, created.stderr);
  const all = Array.from({ length: 10 }, (_, i) => `m${i}`);
  await waitFor(async () => JSON.stringify(await bodiesOn(replica, 'myqueue')) === JSON.stringify(all), 'the replica to hold the snapshot');

  // Live: more messages, and consumption on the original, reach the replica.
  await sendAll(sender, [{ durable: true, body: 'm10' }]);
  const receiver = await openReceiver(conn.connection, 'myqueue');
  for (const r of await receiveN(receiver, 3)) r.delivery.accept();
  const expected = ['m3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10'];
  await waitFor(async () => JSON.stringify(await bodiesOn(replica, 'myqueue')) === JSON.stringify(expected), 'the replica to follow live changes');
  await conn.close();

  const status = await tool('qpid-ha', ['-b', `127.0.0.1:${original.port}`, 'replication', '--json']);
  assert.equal((JSON.parse(status.stdout) as { followers: unknown[] }).followers.length, 1);

  // The replica restarts: created with --start-replica, it follows again.
  await replica.stop();
  brokers.splice(brokers.indexOf(replica), 1);
  const c2 = await connect(original.port);
  const s2 = await openSender(c2.connection, 'myqueue');
  await sendAll(s2, [{ durable: true, body: 'm11' }]);
  await c2.close();
  replica = await standalone(replicaDir);
  await waitFor(async () => JSON.stringify(await bodiesOn(replica, 'myqueue')) === JSON.stringify([...expected, 'm11']), 'the restarted replica to catch up');
  replicaDir = '';
});

test('replicate needs an existing queue and queue replication turned on', async () => {
  const plain = await startQpidd({ dataDir: tempDir('qpidd-qr-') });
  brokers.push(plain);
  dirs.push(plain.dataDir);
  const noQueue = await tool('qpid-ha', ['-b', `127.0.0.1:${plain.port}`, 'replicate', '127.0.0.1:1', 'nosuch']);
  assert.equal(noQueue.code, 1);
  assert.match(noQueue.stderr, /does not exist/);
  const added = await tool('qpid-config', ['-b', `127.0.0.1:${plain.port}`, 'add', 'queue', 'q']);
  assert.equal(added.code, 0);
  const off = await tool('qpid-ha', ['-b', `127.0.0.1:${plain.port}`, 'replicate', '127.0.0.1:1', 'q']);
  assert.equal(off.code, 1);
  assert.match(off.stderr, /queue replication is off/);
});
