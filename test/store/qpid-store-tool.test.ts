// qpid-store run as a process against stores the tests build, including one that another
// process holds open for writing and keeps changing.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openLmdbStore, type StoreRecord } from '../../store/index.js';
import { connect, openSender, sendAll } from '../helpers/amqp.js';
import { QPIDD, startQpidd, waitFor } from '../helpers/broker-process.js';
import { ManagementClient } from '../../src/management/client.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { qpidStoreScript, spawnHolder, withRawTables } from './children.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function qpidStore(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [qpidStoreScript, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const declare = (queue: string, args: Record<string, number> = {}): StoreRecord => ({ kind: 'queue-declare', queue, durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: args });

async function buildStore(messages = 5): Promise<string> {
  const dataDir = makeTmpDir('qpid-store');
  const store = openLmdbStore({ dataDir });
  await store.commit([
    declare('orders', { 'qpid.max_count': 1000 }),
    declare('empty'),
    { kind: 'exchange-declare', exchange: 'x', type: 'topic', durable: true, autoDelete: false, alternateExchange: null, arguments: {} },
    { kind: 'bind', exchange: 'x', queue: 'orders', key: 'a.#', arguments: {} },
  ]).durable;
  for (let i = 1; i <= messages; i++) {
    await store.commit([{ kind: 'enqueue', messageId: store.allocateMessageId(), persistent: i % 2 === 1, expiresAtMs: null, body: Buffer.from(`order number ${i}`), targets: [{ queue: 'orders', position: i }] }]).committed;
  }
  await store.setRole('primary', 'active');
  await store.close();
  return dataDir;
}

test('inspect shows identity, LSN range, queues with counts and bytes, exchanges and bindings', async () => {
  const dataDir = await buildStore();
  const human = await qpidStore(['inspect', '--data-dir', dataDir]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^LSN range {6}1\.\.9$/m);
  assert.match(human.stdout, /^last role {6}primary \(active\)$/m);
  assert.match(human.stdout, /^ {2}orders +5 +70 +5 +yes +qpid\.max_count=1000$/m);
  assert.match(human.stdout, /^ {2}x +orders +a\.#$/m);
  const json = await qpidStore(['inspect', '--data-dir', dataDir, '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stderr, '');
  const s = JSON.parse(json.stdout);
  assert.equal(s.dataDir, dataDir);
  assert.deepEqual([s.meta.formatVersion, s.meta.firstLsn, s.meta.lastLsn, s.meta.epoch, s.meta.lastRole, s.logEntries, s.messages], [3, 1, 9, 0, 'primary', 9, 5]);
  assert.ok(s.meta.logBytes > 0 && typeof s.meta.storeId === 'string');
  assert.deepEqual(s.queues.map((q: { name: string; count: number; bytes: number }) => [q.name, q.count, q.bytes]), [['empty', 0, 0], ['orders', 5, 70]]);
  assert.deepEqual(s.exchanges.map((e: { name: string; type: string }) => [e.name, e.type]), [['x', 'topic']]);
  assert.deepEqual(s.bindings, [{ exchange: 'x', queue: 'orders', key: 'a.#', arguments: {} }]);
});

test('inspect lists a queue\'s messages and the log, with limits', async () => {
  const dataDir = await buildStore();
  const msgs = await qpidStore(['inspect', '--data-dir', dataDir, '--queue', 'orders', '--messages', '--limit', '2', '--after', '1', '--json']);
  assert.equal(msgs.code, 0, msgs.stderr);
  const m = JSON.parse(msgs.stdout);
  assert.equal(m.count, 5);
  assert.deepEqual(
    m.messages.map((x: Record<string, unknown>) => [x['position'], x['messageId'], x['size'], x['persistent'], x['deliveryCount'], x['preview']]),
    [
      [2, 2, 14, false, 0, 'order number 2'],
      [3, 3, 14, true, 0, 'order number 3'],
    ],
  );
  const human = await qpidStore(['inspect', '--data-dir', dataDir, '--queue', 'orders', '--messages', '--limit', '1']);
  assert.match(human.stdout, /^queue orders: 5 messages, 70 bytes \(showing 1\)$/m);
  assert.match(human.stdout, /^ {2}1 +1 +14 +yes +0 +- +order number 1$/m);
  const log = await qpidStore(['inspect', '--data-dir', dataDir, '--log', '--from', '4', '--limit', '2', '--json']);
  assert.equal(log.code, 0, log.stderr);
  const l = JSON.parse(log.stdout);
  assert.deepEqual(l.entries.map((e: { lsn: number; kind: string }) => [e.lsn, e.kind]), [[4, 'bind'], [5, 'enqueue']]);
  assert.equal(l.entries[1].record.preview, 'order number 1');
  const humanLog = await qpidStore(['inspect', '--data-dir', dataDir, '--log', '--from', '9']);
  assert.match(humanLog.stdout, /^ +9 {2}enqueue +\{"messageId":5,/m);
  const noQueue = await qpidStore(['inspect', '--data-dir', dataDir, '--queue', 'nope', '--messages']);
  assert.equal(noQueue.code, 1);
  assert.equal(noQueue.stderr, `qpid-store: no queue "nope" in ${join(dataDir, 'store')}\n`);
});

test('verify exits 0 on a sound store and 1 naming each violation', async () => {
  const dataDir = await buildStore();
  const ok = await qpidStore(['verify', '--data-dir', dataDir]);
  assert.deepEqual([ok.code, ok.stdout], [0, `store at ${join(dataDir, 'store')} is sound\n`]);
  await withRawTables(dataDir, (t) => t.remove('enqueues', ['orders', 3]));
  const bad = await qpidStore(['verify', '--data-dir', dataDir]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /has 3 violations:/);
  assert.match(bad.stdout, /^ {2}log-table-mismatch: the log enqueues message 3 on queue "orders" position 3 at LSN 7 but the index has no entry there$/m);
  assert.match(bad.stdout, /^ {2}queue-stats: queue "orders" says 5 messages \/ 70 bytes; its index holds 4 \/ 56$/m);
  assert.match(bad.stdout, /^ {2}message-orphan: message 3 \(refs 1\) is held by no queue$/m);
  const json = await qpidStore(['verify', '--data-dir', dataDir, '--json']);
  assert.equal(json.code, 1);
  const v = JSON.parse(json.stdout);
  assert.equal(v.ok, false);
  assert.deepEqual(v.violations.map((x: { code: string }) => x.code).sort(), ['log-table-mismatch', 'message-orphan', 'queue-stats']);
});

test('bad usage exits 2 naming the option; a missing store exits 1 with a clear error', async () => {
  const dataDir = await buildStore(1);
  const cases: Array<[string[], number, RegExp]> = [
    [['inspect', '--data-dir', dataDir, '--bogus'], 2, /^qpid-store: Unknown option '--bogus'/],
    [['inspect', '--data-dir', dataDir, '--log', '--limit', 'many'], 2, /^qpid-store: --limit: "many" is not a whole number from 1 up$/m],
    [['inspect', '--data-dir', dataDir, '--log', '--from', '0'], 2, /^qpid-store: --from: "0" is not a whole number from 1 up$/m],
    [['inspect', '--data-dir', dataDir, '--messages'], 2, /^qpid-store: --messages needs --queue$/m],
    [['inspect'], 2, /^qpid-store: --data-dir is required$/m],
    [['frobnicate'], 2, /^qpid-store: unknown command "frobnicate" \(inspect, verify or diff\)$/m],
    [[], 2, /^qpid-store: a command is required/m],
    [['verify', '--data-dir', join(dataDir, 'nothing-here')], 1, new RegExp(`^qpid-store: STORE_NOT_FOUND: no store at ${join(dataDir, 'nothing-here', 'store')}$`, 'm')],
    [['inspect', '--data-dir', join(dataDir, 'nothing-here')], 1, /STORE_NOT_FOUND/],
  ];
  for (const [args, code, stderr] of cases) {
    const r = await qpidStore(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, stderr, args.join(' '));
  }
});

test('a store held by a process that is not a broker is not opened beside it: STORE_IN_USE, and the writer loses nothing', async () => {
  // Opening a live LMDB environment from a second process lost records of the writer or
  // crashed it (store/README.md, "Reading a live store"), so the tool must not even open it.
  const dataDir = await buildStore();
  const holder = await spawnHolder(dataDir, 'hold-writing');
  try {
    for (const args of [['inspect', '--data-dir', dataDir], ['verify', '--data-dir', dataDir, '--json'], ['inspect', '--data-dir', dataDir, '--log']]) {
      const r = await qpidStore(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^qpid-store: STORE_IN_USE: store at ${join(dataDir, 'store')} is open for writing by pid ${holder.child.pid}, which has not published a broker endpoint`));
    }
  } finally {
    assert.equal(await holder.stop(), 0, holder.stderr());
  }
  const after = await qpidStore(['verify', '--data-dir', dataDir]);
  assert.equal(after.code, 0, after.stdout);
});

test('inspect and verify of a store a broker holds ask that broker, while producers keep writing', async () => {
  const dataDir = makeTmpDir('qpid-store-live');
  const broker = await startQpidd({ dataDir });
  const client = await connect(broker.port);
  let sending = true;
  let accepted = 0;
  try {
    const sender = await openSender(client.connection, { address: 'live', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
    const writing = (async () => {
      for (let batch = 0; sending; batch++) {
        const outcomes = await sendAll(sender, Array.from({ length: 20 }, (_, i) => ({ body: `live ${batch}.${i}`, durable: true })));
        accepted += outcomes.filter((o) => o.state === 'accepted').length;
      }
    })();
    let lastLsn = 0;
    for (let i = 0; i < 3; i++) {
      const v = await qpidStore(['verify', '--data-dir', dataDir, '--json']);
      assert.equal(v.code, 0, `${v.stdout} ${v.stderr}`);
      assert.deepEqual(JSON.parse(v.stdout), { dataDir, ok: true, violations: [] });
      const s = await qpidStore(['inspect', '--data-dir', dataDir, '--json']);
      assert.equal(s.code, 0, s.stderr);
      const summary = JSON.parse(s.stdout);
      assert.equal(summary.dataDir, dataDir);
      assert.ok(summary.meta.lastLsn >= lastLsn);
      lastLsn = summary.meta.lastLsn;
      assert.ok(summary.queues.some((q: { name: string }) => q.name === 'live'));
    }
    const human = await qpidStore(['inspect', '--data-dir', dataDir, '--queue', 'live', '--messages', '--limit', '2']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stderr, new RegExp(`^qpid-store: the store is open in broker \\S+ \\(pid ${broker.child.pid}\\); asking it at 127\\.0\\.0\\.1:${broker.port}$`, 'm'));
    assert.match(human.stdout, /^queue live: [\d,]+ messages, [\d,]+ bytes \(showing 2\)$/m);
    const log = await qpidStore(['inspect', '--data-dir', dataDir, '--log', '--limit', '3', '--json']);
    assert.equal(log.code, 0, log.stderr);
    assert.equal(JSON.parse(log.stdout).entries.length, 3);
    const noQueue = await qpidStore(['inspect', '--data-dir', dataDir, '--queue', 'nope']);
    assert.equal(noQueue.code, 1);
    assert.match(noQueue.stderr, new RegExp(`^qpid-store: no queue "nope" in ${join(dataDir, 'store')}$`, 'm'));
    sending = false;
    await writing;
    assert.ok(lastLsn > 10 && accepted > 0, `the producer kept writing (last LSN ${lastLsn}, ${accepted} accepted)`);
  } finally {
    sending = false;
    await client.close();
    await broker.stop();
  }
  // Stopped: the tool opens the store itself, finds it sound and holding every accepted message.
  const local = await qpidStore(['inspect', '--data-dir', dataDir, '--queue', 'live', '--json']);
  assert.equal(local.code, 0, local.stderr);
  assert.equal(local.stderr, '');
  assert.equal(JSON.parse(local.stdout).queue.count, accepted);
  assert.equal((await qpidStore(['verify', '--data-dir', dataDir])).code, 0);
});

/** 200,000 small messages on queue 'big': a verify of it takes about two seconds. */
async function buildLargeStore(): Promise<string> {
  const dataDir = makeTmpDir('qpid-store-big');
  const store = openLmdbStore({ dataDir });
  await store.commit([declare('big')]).durable;
  const body = Buffer.alloc(100, 1);
  for (let i = 0; i < 200; i++) {
    const records: StoreRecord[] = [];
    for (let j = 1; j <= 1000; j++) records.push({ kind: 'enqueue', messageId: store.allocateMessageId(), persistent: true, expiresAtMs: null, body, targets: [{ queue: 'big', position: i * 1000 + j }] });
    await store.commit(records).committed;
  }
  await store.close();
  return dataDir;
}

test('qpid-store holds the data dir lock while it reads a stopped store: a broker starting meanwhile exits STORE_LOCKED', async () => {
  const dataDir = await buildLargeStore();
  const tool = spawn(process.execPath, [qpidStoreScript, 'verify', '--data-dir', dataDir]);
  let stdout = '';
  tool.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const toolExit = new Promise<number | null>((resolve) => tool.on('close', resolve));
  const lockPath = join(dataDir, 'lock');
  await waitFor(() => existsSync(lockPath) && readFileSync(lockPath, 'utf8').trim() === String(tool.pid), 'qpid-store to take the lock');
  // Frozen mid-verify (it takes about two seconds), so the broker surely starts while it reads.
  tool.kill('SIGSTOP');
  try {
    const broker = spawnSync(process.execPath, [QPIDD, '--data-dir', dataDir, '--port', '0'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(broker.status, 1, broker.stderr);
    assert.ok(broker.stderr.includes(`Cannot lock ${lockPath}: held by pid ${tool.pid}`), broker.stderr);
  } finally {
    tool.kill('SIGCONT');
  }
  assert.equal(await toolExit, 0, stdout);
  assert.equal(stdout, `store at ${join(dataDir, 'store')} is sound\n`);
  assert.equal(existsSync(lockPath), false, 'the tool released the lock');
});

test('a broker verifying its own large store for qpid-store keeps answering meanwhile', async () => {
  // 200,000 messages take the scan about two seconds: done in one go, a request sent meanwhile
  // would wait for all of it.
  const dataDir = await buildLargeStore();
  const broker = await startQpidd({ dataDir });
  const management = await ManagementClient.connect({ transport: 'tcp', host: '127.0.0.1', port: broker.port });
  try {
    let verifying = true;
    const started = Date.now();
    const verify = qpidStore(['verify', '--data-dir', dataDir, '--json']).finally(() => (verifying = false));
    const rtts: number[] = [];
    while (verifying) {
      const sent = Date.now();
      await management.request('ping', {});
      rtts.push(Date.now() - sent);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const v = await verify;
    const took = Date.now() - started;
    assert.equal(v.code, 0, v.stdout);
    assert.deepEqual(JSON.parse(v.stdout).violations, []);
    const worst = Math.max(...rtts);
    assert.ok(took > 1000 && worst < took / 3, `the worst management round trip during a ${took} ms verify was ${worst} ms (${rtts.length} pings)`);
  } finally {
    management.close();
    await broker.stop();
  }
});

test('verify reports progress on stderr for long runs, and nothing with --json', async () => {
  const dataDir = await buildStore(50);
  const human = await qpidStore(['verify', '--data-dir', dataDir], { QPID_STORE_PROGRESS_EVERY: '20' });
  assert.equal(human.code, 0);
  assert.match(human.stderr, /^qpid-store: verify log: 20 of 54 \(\d+\.\d s\)$/m);
  assert.match(human.stderr, /^qpid-store: verify entries: 40 of 50 \(\d+\.\d s\)$/m);
  assert.match(human.stderr, /^qpid-store: verify messages: 20 of 50 \(\d+\.\d s\)$/m);
  const json = await qpidStore(['verify', '--data-dir', dataDir, '--json'], { QPID_STORE_PROGRESS_EVERY: '20' });
  assert.equal(json.code, 0);
  assert.equal(json.stderr, '');
});
