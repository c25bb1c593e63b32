// Issue 19: management commands never destroy accepted messages by mistake. `qpid-ha replicate`
// on a broker with --ha-queue-replication yes used to empty a queue of 200 accepted messages
// when the source did not have it. Now replicating into a queue that holds messages, from a
// source that cannot be reached, or from one without the queue, is refused with a stable code
// and changes nothing (also after a restart), unless --force; and every command that removes
// messages says how many and logs who asked.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, drain, openSender, sendAll } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, TOOL, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { queueNode, queueStats, runNode } from '../integration/support.js';

const brokers: BrokerProcess[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
  for (const dir of dirs) removeDir(dir);
});

async function standalone(dataDir?: string): Promise<BrokerProcess> {
  const dir = dataDir ?? tempDir('qpidd-rs-');
  if (!dataDir) dirs.push(dir);
  const broker = await startQpidd({ dataDir: dir, args: ['--ha-queue-replication', 'yes', '--link-maintenance-interval', '0.1'] });
  brokers.push(broker);
  return broker;
}

async function stop(broker: BrokerProcess): Promise<void> {
  assert.equal((await broker.stop()).code, 0);
  brokers.splice(brokers.indexOf(broker), 1);
}

async function fill(broker: BrokerProcess, queue: string, count: number, prefix = 'm'): Promise<void> {
  const conn = await connect(broker.port);
  try {
    const sender = await openSender(conn.connection, queueNode(queue, { durable: true }));
    const outcomes = await sendAll(sender, Array.from({ length: count }, (_, i) => ({ durable: true, body: `${prefix}${i}` })));
    assert.ok(outcomes.every((o) => o.state === 'accepted'));
  } finally {
    await conn.close();
  }
}

const qpidHa = (broker: BrokerProcess, args: string[]) => runNode(TOOL('qpid-ha'), ['-b', `127.0.0.1:${broker.port}`, ...args], { timeoutMs: 40_000 });
const qpidConfig = (broker: BrokerProcess, args: string[]) => runNode(TOOL('qpid-config'), ['-b', `127.0.0.1:${broker.port}`, ...args]);
const countOn = async (broker: BrokerProcess, queue: string): Promise<number | undefined> => (await queueStats(broker.port, queue))?.count;

test('replicate into a queue holding messages is refused, from a source with or without the queue; nothing is lost, also after a restart', async () => {
  const dir = tempDir('qpidd-rs-');
  dirs.push(dir);
  let target = await standalone(dir);
  await fill(target, 'orders', 200);
  const withQueue = await standalone();
  await fill(withQueue, 'orders', 3, 'original');
  const withoutQueue = await standalone();

  for (const source of [withoutQueue, withQueue]) {
    const r = await qpidHa(target, ['replicate', `127.0.0.1:${source.port}`, 'orders']);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /\[REPLICA_NOT_EMPTY\]$/m);
  }
  // The old loss came later, when the replica's snapshot arrived: give it the time it took.
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(await countOn(target, 'orders'), 200);
  const status = JSON.parse((await qpidHa(target, ['replication', '--json'])).stdout) as { replicas: unknown[] };
  assert.deepEqual(status.replicas, [], 'no replica was left running');

  await stop(target);
  target = await standalone(dir);
  const bodies = (await drain(target.port, 'orders')).map((m) => String(m.body));
  assert.deepEqual(bodies, Array.from({ length: 200 }, (_, i) => `m${i}`));
});

test('replicate from a broker without the queue, or from one that cannot be reached, is refused and changes nothing', async () => {
  const target = await standalone();
  const withoutQueue = await standalone();
  assert.equal((await qpidConfig(target, ['add', 'queue', 'orders', '--durable'])).code, 0);

  const cases: { source: string; code: string }[] = [
    { source: `127.0.0.1:${withoutQueue.port}`, code: 'REPLICA_SOURCE_NO_QUEUE' },
    { source: '127.0.0.1:1', code: 'REPLICA_SOURCE_UNREACHABLE' },
    // The issue's own typo: a host name that does not resolve.
    { source: 'EVIL', code: 'REPLICA_SOURCE_UNREACHABLE' },
    { source: `127.0.0.1:${target.port}`, code: 'NOT_ALLOWED' },
  ];
  for (const c of cases) {
    const r = await qpidHa(target, ['replicate', c.source, 'orders']);
    assert.equal(r.code, 1, `${c.source}: ${r.stdout}`);
    assert.ok(r.stderr.trimEnd().endsWith(`[${c.code}]`), `${c.source}: ${r.stderr}`);
  }
  // Producers may use the queue meanwhile: it is not left a replica of anything.
  await fill(target, 'orders', 5);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(await countOn(target, 'orders'), 5);
  assert.deepEqual((JSON.parse((await qpidHa(target, ['replication', '--json'])).stdout) as { replicas: unknown[] }).replicas, []);
});

test('replicate --force replaces the messages and reports how many; the request and who sent it are logged', async () => {
  const target = await standalone();
  const original = await standalone();
  await fill(target, 'orders', 200);
  await fill(original, 'orders', 3, 'original');
  const r = await qpidHa(target, ['replicate', `127.0.0.1:${original.port}`, 'orders', '--force', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { state: string; removed: number; copied: number };
  assert.deepEqual({ state: result.state, removed: result.removed, copied: result.copied }, { state: 'following', removed: 200, copied: 3 });
  await waitFor(async () => (await countOn(target, 'orders')) === 3, 'the replica to hold the original\'s messages');
  const line = await target.waitForLog((l) => l.msg === 'management command removed messages' && l['operation'] === 'replicate');
  assert.equal(line['removed'], 200);
  const requester = line['requester'] as Record<string, unknown>;
  assert.equal(requester['transport'], 'amqp');
  assert.match(String(requester['address']), /^127\.0\.0\.1:\d+$|^::ffff:127\.0\.0\.1:\d+$/);
  assert.match(String(requester['containerId']), /^qpid-tool-/);
  assert.equal(requester['user'], 'anonymous@QPID', 'the tool connected anonymously (--auth no)');
});

test('purge and del queue report how many messages they removed, and log who asked', async () => {
  const broker = await standalone();
  await fill(broker, 'p', 7);
  await fill(broker, 'd', 4);
  const purged = await qpidConfig(broker, ['purge', 'p']);
  assert.equal(purged.code, 0, purged.stderr);
  assert.equal((JSON.parse(purged.stdout) as { removed: number }).removed, 7);
  const deleted = await qpidConfig(broker, ['del', 'queue', 'd']);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.equal((JSON.parse(deleted.stdout) as { removed: number }).removed, 4);
  for (const [operation, queue, removed] of [['purge', 'p', 7], ['del-queue', 'd', 4]] as const) {
    const line = await broker.waitForLog((l) => l.msg === 'management command removed messages' && l['operation'] === operation);
    assert.equal(line['queue'], queue);
    assert.equal(line['removed'], removed);
    assert.equal(line['level'], 40, 'a warning: messages went');
    assert.match(String((line['requester'] as Record<string, unknown>)['containerId']), /^qpid-tool-/);
  }
  assert.equal(await countOn(broker, 'p'), 0);
});

test('a replica whose original queue is gone, found when it resyncs, stops and keeps its copies', async () => {
  const original = await standalone();
  await fill(original, 'orders', 6, 'o');
  const replicaDir = tempDir('qpidd-rs-');
  dirs.push(replicaDir);
  let replica = await standalone(replicaDir);
  const created = await qpidConfig(replica, ['add', 'queue', 'orders', '--durable', '--start-replica', `127.0.0.1:${original.port}`]);
  assert.equal(created.code, 0, created.stderr);
  await waitFor(async () => (await countOn(replica, 'orders')) === 6, 'the replica to copy the original');
  // The original queue goes while the replica is down: the resync's snapshot does not have it.
  await stop(replica);
  assert.equal((await qpidConfig(original, ['del', 'queue', 'orders'])).code, 0);
  replica = await standalone(replicaDir);
  await replica.waitForLog((l) => l.msg === 'the original queue does not exist; the replica stops following it and keeps its messages', 15_000);
  assert.equal(await countOn(replica, 'orders'), 6);
});
