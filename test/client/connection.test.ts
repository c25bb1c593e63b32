// The client against a real AMQP 1.0 peer over loopback TCP: sending and receiving, outcomes,
// link refusal, terminus fields from address strings, connection properties and give-up.
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { ClientError, connect, type Connection } from '../../src/client/index.js';
import { AmqpPeer, waitFor } from '../helpers/amqp-peer.js';

const peers: AmqpPeer[] = [];
const connections: Connection[] = [];
after(async () => {
  await Promise.all(connections.map((connection) => connection.close()));
  await Promise.all(peers.map((peer) => peer.stop()));
});

async function peer(): Promise<AmqpPeer> {
  const started = await AmqpPeer.start();
  peers.push(started);
  return started;
}

async function open(url: string, options: Parameters<typeof connect>[1] = {}): Promise<Connection> {
  const connection = await connect(url, options);
  connections.push(connection);
  return connection;
}

/** A port with nothing listening: bind, read the port, close. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('messages sent are settled accepted, stored in order, and received back in order', async () => {
  const broker = await peer();
  const connection = await open(broker.url);
  const sender = await connection.sender('orders');
  const outcomes = await Promise.all(Array.from({ length: 20 }, (_, index) => sender.send({ body: `m${index}`, application_properties: { sn: index + 1 } })));
  assert.ok(outcomes.every((outcome) => outcome.outcome === 'accepted'));
  assert.deepEqual(broker.queue('orders').bodies(), Array.from({ length: 20 }, (_, index) => `m${index}`));
  assert.deepEqual(sender.stats, { sent: 20, resent: 0, settled: 20, unsettled: 0 });

  const receiver = await connection.receiver('orders', { credit: 3 });
  const bodies: unknown[] = [];
  for await (const delivery of receiver) {
    bodies.push(delivery.message.body);
    assert.equal(delivery.redelivered, false);
    delivery.accept();
    if (bodies.length === 20) break;
  }
  assert.deepEqual(bodies, Array.from({ length: 20 }, (_, index) => `m${index}`));
  assert.equal(broker.queue('orders').messages.length, 0);
  assert.deepEqual(connection.stats, { reconnects: 0, resent: 0, disconnectedMs: 0, address: broker.url });
});

test('receive(timeout) resolves undefined when nothing arrives, and a released delivery comes back', async () => {
  const broker = await peer();
  const connection = await open(broker.url);
  const receiver = await connection.receiver('empty', { credit: 1 });
  const started = Date.now();
  assert.equal(await receiver.receive(100), undefined);
  assert.ok(Date.now() - started >= 90);
  const sender = await connection.sender('empty');
  await sender.send({ body: 'again' });
  const first = await receiver.receive(2000);
  assert.equal(first?.message.body, 'again');
  first?.release();
  const second = await receiver.receive(2000);
  assert.equal(second?.message.body, 'again');
  second?.accept();
});

test('each broker outcome reaches send(): rejected with its error, released, modified', async () => {
  const broker = await peer();
  const connection = await open(broker.url);
  const sender = await connection.sender('q');
  broker.outcome = 'rejected';
  const rejected = await sender.send({ body: 1 });
  assert.equal(rejected.outcome, 'rejected');
  assert.equal(rejected.outcome === 'rejected' && rejected.error?.condition, 'amqp:precondition-failed');
  broker.outcome = 'released';
  assert.deepEqual(await sender.send({ body: 2 }), { outcome: 'released' });
  broker.outcome = 'modified';
  assert.deepEqual(await sender.send({ body: 3 }), { outcome: 'modified', deliveryFailed: true, undeliverableHere: false });
  assert.equal(broker.queue('q').messages.length, 0);
});

test('a refused link rejects sender() and receiver() with LINK_REFUSED and the condition', async () => {
  const broker = await peer();
  broker.refuse.add('missing');
  const connection = await open(broker.url);
  await assert.rejects(connection.sender('missing'), (error: ClientError) => error.code === 'LINK_REFUSED' && error.amqp?.condition === 'amqp:not-found');
  await assert.rejects(connection.receiver('missing'), (error: ClientError) => error.code === 'LINK_REFUSED');
  // The connection is still usable.
  const sender = await connection.sender('present');
  assert.equal((await sender.send({ body: 'x' })).outcome, 'accepted');
});

test('address options become terminus capabilities and dynamic node properties', async () => {
  const broker = await peer();
  const connection = await open(broker.url);
  await connection.sender("audit; {create: always, node: {durable: true, x-declare: {auto-delete: false, arguments: {'qpid.replicate': all, 'qpid.max_count': 5}}}}");
  await connection.receiver('audit; {mode: browse}');
  await connection.sender('amq.topic/stock.nyse');
  await connection.sender('plain', { createOnDemand: { durable: false, type: 'topic' } });
  assert.deepEqual(broker.attaches, [
    {
      role: 'sender',
      address: 'audit',
      capabilities: ['create-on-demand', 'queue'],
      dynamicNodeProperties: { durable: true, 'auto-delete': false, 'qpid.replicate': 'all', 'qpid.max_count': 5 },
      distributionMode: undefined,
    },
    { role: 'receiver', address: 'audit', capabilities: undefined, dynamicNodeProperties: undefined, distributionMode: 'copy' },
    { role: 'sender', address: 'amq.topic/stock.nyse', capabilities: undefined, dynamicNodeProperties: undefined, distributionMode: undefined },
    { role: 'sender', address: 'plain', capabilities: ['create-on-demand', 'topic'], dynamicNodeProperties: { durable: false }, distributionMode: undefined },
  ]);
});

test('admin sets connection property qpid.ha-admin; heartbeat sets idle-time-out in ms', async () => {
  const broker = await peer();
  await open(broker.url, { admin: true, heartbeatS: 2 });
  await open(broker.url);
  assert.equal(broker.opens[0]?.properties?.['qpid.ha-admin'], true);
  assert.equal(broker.opens[0]?.idleTimeOutMs, 2000);
  assert.equal(broker.opens[1]?.properties, undefined);
  assert.equal(broker.opens[1]?.idleTimeOutMs, undefined);
});

test('without reconnect, one pass over the addresses then CONNECT_FAILED naming what was tried', async () => {
  const [first, second] = [await deadPort(), await deadPort()];
  await assert.rejects(connect(`127.0.0.1:${first},127.0.0.1:${second}`), (error: ClientError) => {
    assert.equal(error.code, 'CONNECT_FAILED');
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${first}, 127\\.0\\.0\\.1:${second}`));
    return true;
  });
});

test('a bad URL or option is a BAD_OPTION error before any I/O', async () => {
  await assert.rejects(connect('amqp:host:99999'), (error: ClientError) => error.code === 'BAD_OPTION' && /99999/.test(error.message));
  await assert.rejects(connect('127.0.0.1', { reconnect: { limit: -2 } }), (error: ClientError) => error.code === 'BAD_OPTION');
  const broker = await peer();
  const connection = await open(broker.url);
  await assert.rejects(connection.sender('q; {create: sometimes}'), (error: ClientError) => error.code === 'BAD_ADDRESS');
  await assert.rejects(connection.receiver('q', { credit: 0 }), (error: ClientError) => error.code === 'BAD_OPTION');
});

test('close() rejects pending sends with CLOSED and later calls fail fast', async () => {
  const broker = await peer();
  broker.holdSettlements = true;
  const connection = await open(broker.url);
  const sender = await connection.sender('held');
  const pending = assert.rejects(sender.send({ body: 'never settled' }), (error: ClientError) => error.code === 'CLOSED');
  await waitFor('the peer to hold the message', () => broker.heldCount === 1);
  await connection.close();
  await pending;
  await assert.rejects(sender.send({ body: 'late' }), (error: ClientError) => error.code === 'CLOSED');
  await assert.rejects(connection.sender('q'), (error: ClientError) => error.code === 'CLOSED');
});

test('a link detached with an error fails its pending sends with LINK_DETACHED', async () => {
  const broker = await peer();
  broker.holdSettlements = true;
  const connection = await open(broker.url);
  const sender = await connection.sender('doomed');
  const pending = assert.rejects(sender.send({ body: 1 }), (error: ClientError) => error.code === 'LINK_DETACHED' && error.amqp?.condition === 'amqp:resource-deleted');
  await waitFor('held', () => broker.heldCount === 1);
  assert.equal(broker.detachLinks('doomed', { condition: 'amqp:resource-deleted', description: 'queue deleted' }), 1);
  await pending;
  await assert.rejects(sender.send({ body: 2 }), (error: ClientError) => error.code === 'LINK_DETACHED');
});

test('a link detached without an error is attached again and its unsettled messages resent', async () => {
  const broker = await peer();
  broker.holdSettlements = true;
  const connection = await open(broker.url);
  const sender = await connection.sender('bounce');
  const sends = [sender.send({ body: 1 }), sender.send({ body: 2 })];
  await waitFor('held', () => broker.heldCount === 2);
  broker.holdSettlements = false;
  assert.equal(broker.detachLinks('bounce'), 1);
  const outcomes = await Promise.all(sends);
  assert.deepEqual(outcomes.map((outcome) => outcome.outcome), ['accepted', 'accepted']);
  assert.equal(sender.stats.resent, 2);
  assert.deepEqual(broker.queue('bounce').bodies(), [1, 2, 1, 2]);
  assert.equal(connection.stats.reconnects, 0);
});
