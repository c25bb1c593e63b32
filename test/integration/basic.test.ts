// The first things a newcomer does with the broker: start it, declare a durable queue on attach,
// send and receive with a stock AMQP client, and see what survives a restart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, drain, openReceiver, openSender, receiveN, sendAll } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';

const durableQueue = (address: string) => ({ address, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });

let broker: BrokerProcess;
let dataDir: string;

before(async () => {
  dataDir = tempDir();
  broker = await startQpidd({ dataDir });
});

after(async () => {
  await broker?.stop();
  removeDir(dataDir);
});

test('send and receive durable messages through a queue created on attach', async () => {
  const conn = await connect(broker.port);
  const sender = await openSender(conn.connection, durableQueue('q1'));
  const outcomes = await sendAll(sender, Array.from({ length: 50 }, (_, i) => ({ durable: true, body: `m${i}`, application_properties: { i } })));
  assert.deepEqual(new Set(outcomes.map((o) => o.state)), new Set(['accepted']));
  const receiver = await openReceiver(conn.connection, 'q1');
  const got = await receiveN(receiver, 50);
  assert.deepEqual(got.map((r) => r.message.body), Array.from({ length: 50 }, (_, i) => `m${i}`));
  for (const r of got) r.delivery.accept();
  await conn.close();
});

test('durable messages survive a clean restart; transient ones on a durable queue do not', async () => {
  const conn = await connect(broker.port);
  const sender = await openSender(conn.connection, durableQueue('q2'));
  await sendAll(sender, [
    { durable: true, body: 'keep-1' },
    { durable: false, body: 'lose-1' },
    { durable: true, body: 'keep-2' },
  ]);
  await conn.close();
  await broker.stop();
  broker = await startQpidd({ dataDir });
  const bodies = (await drain(broker.port, 'q2')).map((m) => m.body);
  assert.deepEqual(bodies, ['keep-1', 'keep-2']);
});

test('attaching to an unknown address fails with amqp:not-found', async () => {
  const conn = await connect(broker.port);
  await assert.rejects(openSender(conn.connection, 'no-such-queue'), (err: { condition?: string }) => err.condition === 'amqp:not-found');
  await assert.rejects(openReceiver(conn.connection, 'no-such-queue'), (err: { condition?: string }) => err.condition === 'amqp:not-found');
  await conn.close();
});
