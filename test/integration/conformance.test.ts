// AMQP 1.0 conformance points third-party clients rely on (issue 11), against a real qpidd with
// stock rhea and a raw socket: the open offers ANONYMOUS-RELAY; dynamic targets and sources are
// temporary queues named in the reply and deleted with their link (request/response works both
// ways); an aborted transfer is discarded with no disposition (§2.6.14); only filters the broker
// applies are echoed in the attach reply (§3.5.3); --queue-patterns and --topic-patterns create
// nodes on demand by name, as qpidd's node policies do.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { connect as tcpConnect } from 'node:net';
import rhea, { type EventContext, type Message } from 'rhea';
import { connect, openReceiver, openSender, receiveN, sendAll, type TestConnection } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { assertServes, keyFilter, management, queueNode, queueStats, uniqueName } from './support.js';

const require = createRequire(import.meta.url);
const frames = require('rhea/lib/frames.js') as {
  write_frame(frame: unknown): Buffer;
  read_frame(buffer: Buffer): { performative?: { constructor: { toString(): string } } & Record<string, unknown> } | null;
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  open(fields: Record<string, unknown>): { described(): unknown };
  begin(fields: Record<string, unknown>): { described(): unknown };
  attach(fields: Record<string, unknown>): { described(): unknown };
  transfer(fields: Record<string, unknown>): { described(): unknown };
};
const rheaMessage = require('rhea/lib/message.js') as { encode(message: Message): Buffer };
const terminus = require('rhea/lib/terminus.js') as { target(fields: Record<string, unknown>): { described(): unknown } };

let broker: BrokerProcess;
let dataDir: string;
let conn: TestConnection;

before(async () => {
  dataDir = tempDir();
  broker = await startQpidd({ dataDir, args: ['--queue-patterns', 'auto[.].+', '--topic-patterns', 'events[.].+'] });
  conn = await connect(broker.port);
});

after(async () => {
  await conn?.close();
  await broker?.stop();
  removeDir(dataDir);
});

const symbols = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : value === undefined || value === null ? [] : [String(value)]);

async function queueNames(): Promise<string[]> {
  const client = await management(broker.port);
  try {
    return (await client.requestAll<{ name: string }>('queues')).map((q) => q.name);
  } finally {
    client.close();
  }
}

test('the open offers ANONYMOUS-RELAY and names the product', () => {
  const remote = (conn.connection as unknown as { remote: { open: { offered_capabilities?: unknown; properties?: Record<string, unknown> } } }).remote.open;
  assert.ok(symbols(remote.offered_capabilities).includes('ANONYMOUS-RELAY'), `offered: ${JSON.stringify(remote.offered_capabilities)}`);
  assert.equal(remote.properties?.['product'], 'qpidd-ts');
});

test('a dynamic sender target is a temporary queue named in the reply, others can consume it, and it goes with its link', async () => {
  const sender = await openSender(conn.connection, { dynamic: true });
  const address = (sender as unknown as { remote: { attach: { target: { address?: string } } } }).remote.attach.target.address;
  assert.match(String(address), /^TempQueue/);
  assert.ok((await queueNames()).includes(String(address)));
  assert.deepEqual((await sendAll(sender, [{ body: 'to-temp' }])).map((o) => o.state), ['accepted']);
  const other = await connect(broker.port);
  try {
    const receiver = await openReceiver(other.connection, String(address));
    const [got] = await receiveN(receiver, 1);
    assert.equal(got?.message.body, 'to-temp');
    got?.delivery.accept();
  } finally {
    await other.close();
  }
  sender.close();
  await waitFor(async () => !(await queueNames()).includes(String(address)), 'the temporary queue to be deleted with its link');
});

test('request/response with a dynamic reply-to source: the reply comes back through the anonymous relay', async () => {
  const service = uniqueName('service');
  (await openSender(conn.connection, queueNode(service))).close();
  // The server side: consumes requests and answers each to its reply_to through the relay.
  const server = await connect(broker.port);
  const requests = await openReceiver(server.connection, service);
  const relay = await openSender(server.connection, { address: null });
  requests.on('message', (ctx: EventContext) => {
    relay.send({ to: ctx.message?.reply_to, correlation_id: ctx.message?.correlation_id, body: String(ctx.message?.body).toUpperCase() });
    ctx.delivery?.accept();
  });
  requests.add_credit(10);
  try {
    const replies = await openReceiver(conn.connection, { dynamic: true });
    const replyTo = (replies as unknown as { remote: { attach: { source: { address?: string } } } }).remote.attach.source.address;
    assert.match(String(replyTo), /^TempQueue/);
    const client = await openSender(conn.connection, service);
    await sendAll(client, [{ reply_to: replyTo, correlation_id: 'c1', body: 'twas brillig' }]);
    const [reply] = await receiveN(replies, 1);
    assert.equal(reply?.message.body, 'TWAS BRILLIG');
    assert.equal(reply?.message.correlation_id, 'c1');
    reply?.delivery.accept();
    replies.close();
    await waitFor(async () => !(await queueNames()).includes(String(replyTo)), 'the reply queue to be deleted with its link');
  } finally {
    await server.close();
  }
});

test('filters: only those in force are echoed in the attach reply (§3.5.3)', async () => {
  const unknownFilter = { 'no-such': rhea.types.wrap_described('x', 'example.org:no-such-filter:string') };
  const onExchange = await openReceiver(conn.connection, { address: 'amq.topic', filter: { ...keyFilter('topic', 'news.#'), ...unknownFilter } });
  const echoed = (onExchange as unknown as { remote: { attach: { source: { filter?: Record<string, unknown> } } } }).remote.attach.source.filter ?? {};
  assert.deepEqual(Object.keys(echoed), ['topic-binding']);
  const queue = uniqueName('filtered');
  (await openSender(conn.connection, queueNode(queue))).close();
  const onQueue = await openReceiver(conn.connection, { address: queue, filter: { ...unknownFilter, ...keyFilter('direct', 'k') } });
  const none = (onQueue as unknown as { remote: { attach: { source: { filter?: Record<string, unknown> } } } }).remote.attach.source.filter;
  assert.ok(none === undefined || none === null || Object.keys(none).length === 0, `queue source echoed ${JSON.stringify(none)}`);
  onExchange.close();
  onQueue.close();
});

test('--queue-patterns and --topic-patterns create nodes on demand; durable when the terminus is', async () => {
  const transient = `auto.${uniqueName('t')}`;
  const durable = `auto.${uniqueName('d')}`;
  await sendAll(await openSender(conn.connection, transient), [{ body: 'a' }]);
  await sendAll(await openSender(conn.connection, { address: durable, durable: 2 }), [{ durable: true, body: 'b' }]);
  const client = await management(broker.port);
  try {
    const queues = await client.requestAll<{ name: string; durable: boolean; count: number }>('queues');
    assert.deepEqual(
      [transient, durable].map((n) => queues.find((q) => q.name === n)).map((q) => [q?.durable, q?.count]),
      [
        [false, 1],
        [true, 1],
      ],
    );
    const topic = `events.${uniqueName('e')}`;
    const subscriber = await openReceiver(conn.connection, topic);
    const exchanges = await client.requestAll<{ name: string; type: string }>('exchanges');
    assert.equal(exchanges.find((e) => e.name === topic)?.type, 'topic');
    await sendAll(await openSender(conn.connection, `${topic}/a.b`), [{ body: 'event' }]);
    const [event] = await receiveN(subscriber, 1);
    assert.equal(event?.message.body, 'event');
    event?.delivery.accept();
  } finally {
    client.close();
  }
  await assert.rejects(openSender(conn.connection, uniqueName('other')), (err: { condition?: string }) => err.condition === 'amqp:not-found');
});

/** Speaks raw frames: open, begin, attach a sender to `queue`, then the given transfers (each a
 * list of frames written together); returns every frame the broker sent back. */
function rawProducer(port: number, queue: string, transfers: readonly Buffer[][]): Promise<string[]> {
  const frame = (performative: { described(): unknown }, payload?: Buffer): Buffer => frames.write_frame(frames.amqp_frame(0, performative.described(), payload));
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let bytes = Buffer.alloc(0);
    const seen: string[] = [];
    const parse = (): void => {
      let offset = bytes.subarray(0, 4).toString('latin1') === 'AMQP' ? 8 : 0;
      seen.length = 0;
      while (offset + 4 <= bytes.length) {
        const size = bytes.readUInt32BE(offset);
        if (size < 8 || offset + size > bytes.length) break;
        const f = frames.read_frame(bytes.subarray(offset, offset + size));
        const name = f?.performative ? String(f.performative.constructor).replace(/#.*/, '') : 'empty';
        seen.push(name === 'disposition' ? `disposition ${String(f?.performative?.['first'])}` : name);
        offset += size;
      }
    };
    socket.on('data', (d: Buffer) => {
      bytes = Buffer.concat([bytes, d]);
      parse();
    });
    socket.on('error', reject);
    socket.on('connect', async () => {
      socket.write(Buffer.concat([Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'), frame(frames.open({ container_id: 'raw-producer' })), frame(frames.begin({ next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 })), frame(frames.attach({ name: 'p', handle: 0, role: false, target: terminus.target({ address: queue }).described(), initial_delivery_count: 0 }))]));
      await waitFor(() => seen.includes('flow'), 'credit from the broker', 5000).catch(reject);
      for (const frameList of transfers) {
        socket.write(Buffer.concat(frameList));
        await new Promise((r) => setTimeout(r, 30));
      }
      await new Promise((r) => setTimeout(r, 500));
      socket.destroy();
      resolve([...seen]);
    });
  });
}

test('an aborted transfer is discarded with no disposition, and the link carries on (§2.6.14)', async () => {
  const queue = uniqueName('aborted');
  (await openSender(conn.connection, queueNode(queue))).close();
  const frame = (performative: { described(): unknown }, payload?: Buffer): Buffer => frames.write_frame(frames.amqp_frame(0, performative.described(), payload));
  const body = rheaMessage.encode({ body: 'partial message that is never finished' } as Message);
  const whole = rheaMessage.encode({ body: 'whole' } as Message);
  const seen = await rawProducer(broker.port, queue, [
    [frame(frames.transfer({ handle: 0, delivery_id: 0, delivery_tag: Buffer.from('0'), message_format: 0, more: true }), body.subarray(0, 10))],
    [frame(frames.transfer({ handle: 0, delivery_id: 0, more: false, aborted: true }))],
    [frame(frames.transfer({ handle: 0, delivery_id: 1, delivery_tag: Buffer.from('1'), message_format: 0, aborted: true }), body)],
    [frame(frames.transfer({ handle: 0, delivery_id: 2, delivery_tag: Buffer.from('2'), message_format: 0 }), whole)],
  ]);
  assert.deepEqual(
    seen.filter((s) => s.startsWith('disposition') || s === 'close' || s === 'detach'),
    ['disposition 2'],
  );
  assert.equal((await queueStats(broker.port, queue))?.count, 1);
  const receiver = await openReceiver(conn.connection, queue);
  const [got] = await receiveN(receiver, 1);
  assert.equal(got?.message.body, 'whole');
  got?.delivery.accept();
  await assertServes(broker.port);
});
