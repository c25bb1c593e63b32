// Issue 19: four management requests cost the broker 1.25 GB, because answers were neither
// paged nor capped. Every listing now answers one page, bounded in rows and bytes, with a cursor
// for the next; the tools page through and still show everything. Against a real broker holding
// 40 MB of messages and more queues than one page holds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, openSender, sendAll } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, TOOL, type BrokerProcess } from '../helpers/broker-process.js';
import { ManagementClient, ManagementError } from '../../src/management/client.js';
import { PAGE_BYTES_MAX, PAGE_ROWS_DEFAULT, PAGE_ROWS_MAX } from '../../src/core/paging.js';
import { assertServes, queueNode, runNode } from './support.js';

const MESSAGES = 400;
const BODY_CHARS = 100 * 1024;
const QUEUES = PAGE_ROWS_DEFAULT + 200;
let broker: BrokerProcess;
let dataDir: string;

const address = () => ({ transport: 'tcp' as const, host: '127.0.0.1', port: broker.port });
const rssBytes = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

before(async () => {
  dataDir = tempDir('qpidd-paging-');
  broker = await startQpidd({ dataDir, args: ['--http-port', '0'] });
  const conn = await connect(broker.port);
  try {
    const sender = await openSender(conn.connection, queueNode('big', { durable: true }));
    for (let i = 0; i < MESSAGES; i += 50) {
      const batch = Array.from({ length: 50 }, (_, j) => ({ durable: true, body: `${String(i + j).padStart(6, '0')}${'x'.repeat(BODY_CHARS - 6)}` }));
      assert.ok((await sendAll(sender, batch, 60_000)).every((o) => o.state === 'accepted'));
    }
  } finally {
    await conn.close();
  }
  const client = await ManagementClient.connect(address(), { timeoutMs: 30_000 });
  try {
    await Promise.all(Array.from({ length: QUEUES }, (_, i) => client.request('add-queue', { name: `q${String(i).padStart(5, '0')}` })));
  } finally {
    client.close();
  }
});

after(async () => {
  await broker.stop();
  removeDir(dataDir);
});

test('store-messages answers one bounded page; paging through returns every message, in order', async () => {
  const client = await ManagementClient.connect(address(), { timeoutMs: 30_000 });
  try {
    await assert.rejects(client.request('store-messages', { queue: 'big', limit: PAGE_ROWS_MAX + 1 }), (err: ManagementError) => err.code === 'INVALID_ARGUMENT');
    const first = await client.request<{ items: { position: number; body: string; bodyTruncated?: boolean; size: number }[]; next: number | null }>('store-messages', { queue: 'big', limit: PAGE_ROWS_MAX });
    const bytes = Buffer.byteLength(JSON.stringify(first));
    assert.ok(bytes < PAGE_BYTES_MAX + 80 * 1024, `a page of ${bytes} bytes`);
    assert.ok(first.items.length < MESSAGES && first.next !== null, 'the page says where to go on');
    // Bodies are cut to 64 KiB characters, and say so.
    assert.equal(first.items[0]?.body.length, 64 * 1024);
    assert.equal(first.items[0]?.bodyTruncated, true);
    const all = await client.requestAll<{ body: string }>('store-messages', { queue: 'big' });
    assert.deepEqual(
      all.map((m) => m.body.slice(0, 6)),
      Array.from({ length: MESSAGES }, (_, i) => String(i).padStart(6, '0')),
    );
  } finally {
    client.close();
  }
});

test('many large requests at once do not blow up the broker, which keeps serving', async () => {
  const before = rssBytes(broker.child.pid as number);
  const clients = await Promise.all(Array.from({ length: 4 }, () => ManagementClient.connect(address(), { timeoutMs: 60_000 })));
  try {
    // What cost 1.25 GB: each of these asked for every message of a large queue at once.
    for (let round = 0; round < 3; round++) {
      await Promise.all(clients.flatMap((c) => Array.from({ length: 8 }, () => c.request('store-messages', { queue: 'big', limit: PAGE_ROWS_MAX }))));
    }
  } finally {
    for (const c of clients) c.close();
  }
  const grown = rssBytes(broker.child.pid as number) - before;
  assert.ok(grown < 256 * 1024 * 1024, `RSS grew ${Math.round(grown / 1024 / 1024)} MiB`);
  await assertServes(broker.port);
});

test('queues, exchanges and bindings are paged by name over AMQP and HTTP; the tools list them all', async () => {
  const client = await ManagementClient.connect(address(), { timeoutMs: 30_000 });
  try {
    const first = await client.request<{ items: { name: string }[]; next: string | null }>('queues');
    assert.equal(first.items.length, PAGE_ROWS_DEFAULT);
    const second = await client.request<{ items: { name: string }[]; next: string | null }>('queues', { after: first.next, limit: 10 });
    assert.deepEqual(
      second.items.map((q) => q.name),
      Array.from({ length: 10 }, (_, i) => `q${String(PAGE_ROWS_DEFAULT - 1 + i).padStart(5, '0')}`),
      'the next page starts right after the cursor (big sorts before q00000)',
    );
    assert.equal((await client.requestAll<{ name: string }>('queues')).filter((q) => !q.name.startsWith('alive-')).length, QUEUES + 1);
    assert.ok((await client.requestAll<{ name: string }>('exchanges')).some((e) => e.name === 'amq.topic'));
  } finally {
    client.close();
  }
  const httpPort = Number((await broker.waitForLog((l) => l.msg === 'listening'))['httpPort']);
  const http = await fetch(`http://127.0.0.1:${httpPort}/api/queues?limit=5&after=q00003`);
  assert.equal(http.status, 200);
  const page = (await http.json()) as { items: { name: string }[]; next: string };
  assert.deepEqual(page.items.map((q) => q.name), ['q00004', 'q00005', 'q00006', 'q00007', 'q00008']);
  assert.equal(page.next, 'q00008');

  const config = await runNode(TOOL('qpid-config'), ['-b', `127.0.0.1:${broker.port}`, 'queues']);
  assert.equal(config.code, 0, config.stderr);
  const listed = config.stdout.trim().split('\n').map((line) => line.split('\t')[0]);
  assert.deepEqual(listed.filter((name) => !name?.startsWith('alive-')).length, QUEUES + 1, `qpid-config lists every queue: ${listed.slice(-3).join(' ')}`);
  const stat = await runNode(TOOL('qpid-stat'), ['-b', `127.0.0.1:${broker.port}`, '-q', '--json']);
  assert.equal(stat.code, 0, stat.stderr);
  assert.equal((JSON.parse(stat.stdout) as { name: string }[]).filter((q) => !q.name.startsWith('alive-')).length, QUEUES + 1, 'qpid-stat lists every queue');
  const store = await runNode(TOOL('qpid-store'), ['inspect', '--data-dir', dataDir, '--queue', 'big', '--messages', '--limit', String(MESSAGES + 10), '--json'], { timeoutMs: 60_000 });
  assert.equal(store.code, 0, store.stderr);
  assert.equal((JSON.parse(store.stdout) as { messages: unknown[] }).messages.length, MESSAGES, 'qpid-store asks the broker page by page');
});

test('declare arguments and binding keys are bounded, so that every row of a listing is', async () => {
  const client = await ManagementClient.connect(address(), { timeoutMs: 30_000 });
  try {
    await assert.rejects(client.request('add-queue', { name: 'fat', arguments: { note: 'x'.repeat(65 * 1024) } }), (err: ManagementError) => err.code === 'INVALID_ARGUMENT');
    await assert.rejects(client.request('bind', { exchange: 'amq.direct', queue: 'big', key: 'k'.repeat(65 * 1024) }), (err: ManagementError) => err.code === 'INVALID_ARGUMENT');
    assert.equal((await client.requestAll<{ name: string }>('queues')).some((q) => q.name === 'fat'), false);
  } finally {
    client.close();
  }
});
