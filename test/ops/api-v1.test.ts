// Issue 18, the HTTP API under /api/v1/ against a real broker and real clients: every route
// README.md documents answers (listings one page, { items, next }), a queue's page has its
// bindings and consumers, browsing shows headers and a body preview without taking the
// messages, unknown routes and queues are 404, and the older /api/ endpoints still work.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, openReceiver, openSender, sendAll, type TestConnection } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';

let broker: BrokerProcess;
let dataDir: string;
let http: string;
let client: TestConnection;

before(async () => {
  dataDir = tempDir();
  broker = await startQpidd({ dataDir, name: 'api-broker', args: ['--http-port', '0'] });
  const listening = await broker.waitForLog((l) => l.msg === 'listening');
  http = `http://127.0.0.1:${String(listening['httpPort'])}`;
  client = await connect(broker.port, { containerId: 'api-client' });
  const post = (op: string, body: unknown) => fetch(`${http}/api/${op}`, { method: 'POST', body: JSON.stringify(body) });
  assert.equal((await post('add-queue', { name: 'api-orders', durable: true })).status, 200);
  assert.equal((await post('bind', { exchange: 'amq.direct', queue: 'api-orders', key: 'new-order' })).status, 200);
  const sender = await openSender(client.connection, { address: 'api-orders' });
  await sendAll(sender, [
    { durable: true, subject: 'first', message_id: 'id-1', application_properties: { region: 'emea' }, body: 'x'.repeat(5000) },
    { durable: true, subject: 'second', body: 'short' },
  ]);
  await openReceiver(client.connection, { address: 'api-orders' }, { credit_window: 0, autoaccept: false });
});

after(async () => {
  await client?.close();
  await broker?.stop();
  removeDir(dataDir);
});

async function get<T>(path: string, status = 200): Promise<T> {
  const response = await fetch(`${http}${path}`);
  assert.equal(response.status, status, `${path}: ${response.status}`);
  assert.match(response.headers.get('content-type') ?? '', /application\/json/);
  return (await response.json()) as T;
}

test('the listings: overview, queues, exchanges, bindings, connections, links, ha, cluster', async () => {
  const overview = await get<{ name: string; queues: number; messages: number }>('/api/v1/overview');
  assert.deepEqual([overview.name, overview.messages], ['api-broker', 2]);
  const queues = await get<{ items: { name: string; depth: number; consumers: number }[]; next: string | null }>('/api/v1/queues');
  const orders = queues.items.find((q) => q.name === 'api-orders');
  assert.deepEqual([orders?.depth, orders?.consumers], [2, 1]);
  const firstPage = await get<{ items: unknown[]; next: string | null }>('/api/v1/exchanges?limit=2');
  assert.equal(firstPage.items.length, 2);
  assert.ok(firstPage.next !== null, 'a next cursor');
  const bindings = await get<{ items: { exchange: string; queue: string; key: string }[] }>('/api/v1/bindings');
  assert.ok(bindings.items.some((b) => b.exchange === 'amq.direct' && b.queue === 'api-orders' && b.key === 'new-order'));
  const connections = await get<{ items: { containerId: string; consumers: number; producers: number }[] }>('/api/v1/connections');
  const mine = connections.items.find((c) => c.containerId === 'api-client');
  assert.deepEqual([mine?.producers, mine?.consumers], [1, 1]);
  const links = await get<{ items: { direction: string; node: string }[] }>('/api/v1/links');
  assert.deepEqual(links.items.filter((l) => l.node === 'api-orders').map((l) => l.direction).sort(), ['in', 'out']);
  const ha = await get<{ status: { state: string }; replication: { unreplicatedBytes: number } }>('/api/v1/ha');
  assert.deepEqual([ha.status.state, ha.replication.unreplicatedBytes], ['standalone', 0]);
  const cluster = await get<{ members: { name: string; state: string; self: boolean }[] }>('/api/v1/cluster');
  assert.deepEqual(cluster.members.map((m) => [m.name, m.state, m.self]), [['api-broker', 'standalone', true]]);
});

test('a queue\'s page: bindings and consumers; browsing shows headers and a body preview and takes nothing', async () => {
  const detail = await get<{ name: string; depth: number; bindings: { exchange: string; key: string }[]; consumerLinks: { containerId: string }[]; settings: { durable: boolean } }>('/api/v1/queues/api-orders');
  assert.equal(detail.settings.durable, true);
  assert.ok(detail.bindings.some((b) => b.exchange === 'amq.direct' && b.key === 'new-order'));
  assert.deepEqual(detail.consumerLinks.map((c) => c.containerId), ['api-client']);
  const page = await get<{ items: { position: number; properties: { subject?: string; message_id?: string }; applicationProperties: Record<string, unknown>; body: string; bodyTruncated?: boolean; header: { durable: boolean } }[]; next: number | null }>('/api/v1/queues/api-orders/messages?limit=1');
  const [first] = page.items;
  assert.equal(first?.properties.subject, 'first');
  assert.equal(first?.properties.message_id, 'id-1');
  assert.deepEqual(first?.applicationProperties, { region: 'emea' });
  assert.equal(first?.header.durable, true);
  assert.equal(first?.body.length, 1024, 'a preview, not the whole body');
  assert.equal(first?.bodyTruncated, true);
  assert.ok(page.next !== null);
  const rest = await get<{ items: { body: string }[]; next: number | null }>(`/api/v1/queues/api-orders/messages?after=${page.next}`);
  assert.deepEqual([rest.items.map((m) => m.body), rest.next], [['short'], null]);
  assert.equal((await get<{ depth: number }>('/api/v1/queues/api-orders')).depth, 2, 'browsing took nothing');
});

test('unknown routes and queues are 404 with a code; bad arguments 400; the older /api/ endpoints still answer', async () => {
  assert.equal((await get<{ code: string }>('/api/v1/nosuch', 404)).code, 'NOT_FOUND');
  assert.equal((await get<{ code: string }>('/api/v1/queues/nosuch', 404)).code, 'NOT_FOUND');
  assert.equal((await get<{ code: string }>('/api/v1/queues/api-orders/messages?limit=100000', 400)).code, 'INVALID_ARGUMENT');
  const old = await get<{ items: { name: string }[] }>('/api/queues');
  assert.ok(old.items.some((q) => q.name === 'api-orders'));
});

test('/api/v1/events streams overview and queues as Server-Sent Events', async () => {
  const controller = new AbortController();
  const response = await fetch(`${http}/api/v1/events`, { signal: controller.signal });
  assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = response.body!.getReader();
  let text = '';
  const deadline = Date.now() + 10_000;
  while (!(text.includes('event: queues') && text.includes('event: cluster')) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString('utf8');
  }
  controller.abort();
  const queuesEvent = text.split('\n\n').find((e) => e.startsWith('event: queues'));
  assert.ok(queuesEvent, text.slice(0, 500));
  const data = JSON.parse(queuesEvent.slice(queuesEvent.indexOf('data: ') + 6)) as { items: { name: string; depth: number }[] };
  assert.equal(data.items.find((q) => q.name === 'api-orders')?.depth, 2);
});
