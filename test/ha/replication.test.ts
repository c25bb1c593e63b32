// What is replicated, and when (issue 4; reference §1.12.7): queues, exchanges and bindings by
// replicate level, in steady state and in catch-up; messages only at level all; built-in
// exchanges never; a consumed-but-unsettled message stays on the backups.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, openReceiver, openSender, receiveN, sendAll } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/broker-process.js';

const clusters: Cluster[] = [];
after(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
});

async function cluster(options: Parameters<typeof Cluster.start>[0]): Promise<Cluster> {
  const c = await Cluster.start(options);
  clusters.push(c);
  await c.promoteAndWait(0);
  return c;
}

const queueNode = (address: string, props: Record<string, unknown> = {}) => ({ address, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true, ...props } });

async function configure(c: Cluster): Promise<void> {
  const run = async (...args: string[]) => {
    const result = await c.tool('qpid-config', ['-b', `127.0.0.1:${c.ports[0]}`, ...args]);
    assert.equal(result.code, 0, `qpid-config ${args.join(' ')}: ${result.stderr}`);
  };
  await run('add', 'queue', 'q-all', '--durable', '--replicate', 'all');
  await run('add', 'queue', 'q-config', '--durable', '--replicate', 'configuration');
  await run('add', 'queue', 'q-none', '--durable', '--replicate', 'none');
  await run('add', 'queue', 'q-default', '--durable');
  await run('add', 'exchange', 'topic', 'x-all', '--durable', '--replicate', 'all');
  await run('add', 'exchange', 'topic', 'x-none', '--durable', '--replicate', 'none');
  await run('bind', 'x-all', 'q-all', 'k.#');
  await run('bind', 'x-all', 'q-none', 'k.#');
  await run('bind', 'x-none', 'q-all', 'k.#');
  await run('bind', 'amq.topic', 'q-all', 'k.#');
}

async function publish(c: Cluster, address: string, count: number): Promise<void> {
  const conn = await connect(c.ports[0] as number);
  const sender = await openSender(conn.connection, address);
  const outcomes = await sendAll(sender, Array.from({ length: count }, (_, i) => ({ durable: true, body: `${address}-${i}` })));
  assert.ok(outcomes.every((o) => o.state === 'accepted'), JSON.stringify(outcomes.find((o) => o.state !== 'accepted')));
  await conn.close();
}

function expectReplicated(summary: Awaited<ReturnType<Cluster['summary']>>, defaultLevel: 'all' | 'none'): void {
  const queues = new Map(summary.queues.map((q) => [q.name, q.count]));
  assert.equal(queues.get('q-all'), 5, 'q-all and its messages are replicated');
  assert.equal(queues.get('q-config'), 0, 'q-config exists on the backup without its messages');
  assert.equal(queues.has('q-none'), false, 'q-none is not replicated');
  if (defaultLevel === 'all') assert.equal(queues.get('q-default'), 5);
  else assert.equal(queues.has('q-default'), false);
  const exchanges = summary.exchanges.map((e) => e.name);
  assert.ok(exchanges.includes('x-all'));
  assert.ok(!exchanges.includes('x-none'));
  assert.deepEqual(
    summary.bindings.map((b) => `${b.exchange}>${b.queue}:${b.key}`),
    ['x-all>q-all:k.#'],
    'only a binding whose queue and exchange both replicate is replicated (not to built-in or none)',
  );
}

test('replication by level, in steady state and in catch-up (ha-replicate=all by default)', async () => {
  const c = await cluster({ size: 3, replicate: 'all' });
  await configure(c);
  for (const q of ['q-all', 'q-config', 'q-none', 'q-default']) await publish(c, q, 5);
  await c.waitForReplication(0);
  expectReplicated(await c.summary(1), 'all');
  expectReplicated(await c.summary(2), 'all');
  // Catch-up: a backup restarted now receives the same through a snapshot.
  await c.kill(2);
  await c.startBroker(2);
  await c.waitForState(2, 'ready');
  expectReplicated(await c.summary(2), 'all');
});

test('ha-replicate default none replicates nothing but what asks for it', async () => {
  const c = await cluster({ size: 2, replicate: 'none' });
  await configure(c);
  for (const q of ['q-all', 'q-config', 'q-none', 'q-default']) await publish(c, q, 5);
  await c.waitForReplication(0);
  expectReplicated(await c.summary(1), 'none');
  const plain = await connect(c.ports[0] as number);
  const sender = await openSender(plain.connection, queueNode('q-plain'));
  await sendAll(sender, [{ durable: true, body: 'x' }]);
  await plain.close();
  await c.waitForReplication(0);
  assert.equal((await c.summary(1)).queues.some((q) => q.name === 'q-plain'), false);
});

test('send 1000 and receive 990 on the primary: both backups hold exactly the last 10', async () => {
  const c = await cluster({ size: 3 });
  const conn = await connect(c.ports[0] as number);
  const sender = await openSender(conn.connection, queueNode('q-1000'));
  await sendAll(sender, Array.from({ length: 1000 }, (_, i) => ({ durable: true, body: `m${i}` })));
  const receiver = await openReceiver(conn.connection, 'q-1000');
  const got = await receiveN(receiver, 990);
  for (const r of got) r.delivery.accept();
  await conn.close();
  // The accepts' dequeues commit after the close returns: the primary's LSN read now may not
  // include them yet, so wait for what the backups hold rather than for that LSN.
  const last10 = Array.from({ length: 10 }, (_, i) => `m${990 + i}`);
  for (const backup of [1, 2]) {
    await waitFor(async () => JSON.stringify(await c.storedBodies(backup, 'q-1000')) === JSON.stringify(last10), `b${backup} to hold the last 10`, 15_000, 50).catch(() => undefined);
    assert.deepEqual(await c.storedBodies(backup, 'q-1000'), last10);
  }
  // qpid-store pointed at a live backup's data dir asks that backup (as an admin connection).
  const inspect = await c.tool('qpid-store', ['inspect', '--data-dir', c.dataDirs[1] as string, '--queue', 'q-1000', '--json']);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.equal(JSON.parse(inspect.stdout).queue.count, 10);
  const verify = await c.tool('qpid-store', ['verify', '--data-dir', c.dataDirs[2] as string, '--json']);
  assert.equal(verify.code, 0, verify.stdout);
});

test('a consumed-but-unsettled message is still on the backups', async () => {
  const c = await cluster({ size: 2 });
  const conn = await connect(c.ports[0] as number);
  const sender = await openSender(conn.connection, queueNode('q-held'));
  await sendAll(sender, [{ durable: true, body: 'held' }]);
  const receiver = await openReceiver(conn.connection, 'q-held');
  const [delivery] = await receiveN(receiver, 1);
  assert.equal(delivery?.message.body, 'held');
  await c.waitForReplication(0);
  assert.deepEqual(await c.storedBodies(1, 'q-held'), ['held']);
  delivery?.delivery.accept();
  // The accept travels to the primary, then its dequeue to the backup.
  await waitFor(async () => (await c.storedBodies(1, 'q-held')).length === 0, 'the dequeue to reach b1');
  await conn.close();
});

test('ring and reject limits replicate', async () => {
  const c = await cluster({ size: 2 });
  const conn = await connect(c.ports[0] as number);
  const ring = await openSender(conn.connection, queueNode('q-ring', { 'qpid.max_count': 3, 'qpid.policy_type': 'ring' }));
  await sendAll(ring, Array.from({ length: 5 }, (_, i) => ({ durable: true, body: `r${i}` })));
  const reject = await openSender(conn.connection, queueNode('q-reject', { 'qpid.max_count': 2, 'qpid.policy_type': 'reject' }));
  const outcomes = await sendAll(reject, Array.from({ length: 3 }, (_, i) => ({ durable: true, body: `j${i}` })));
  assert.deepEqual(outcomes.map((o) => o.state), ['accepted', 'accepted', 'rejected']);
  assert.equal(outcomes[2]?.condition, 'amqp:resource-limit-exceeded');
  await conn.close();
  await c.waitForReplication(0);
  assert.deepEqual(await c.storedBodies(1, 'q-ring'), ['r2', 'r3', 'r4']);
  assert.deepEqual(await c.storedBodies(1, 'q-reject'), ['j0', 'j1']);
  // The limits themselves travel with the declare: after failover the new primary enforces them.
  await c.kill(0);
  await c.promote(1);
  await c.waitForState(1, 'active');
  const conn2 = await connect(c.ports[1] as number);
  const again = await openSender(conn2.connection, 'q-reject');
  const [o] = await sendAll(again, [{ durable: true, body: 'j3' }]);
  assert.equal(o?.state, 'rejected');
  await conn2.close();
});

test('an invalid qpid.replicate is refused with an error naming it', async () => {
  const c = await cluster({ size: 2 });
  const result = await c.tool('qpid-config', ['-b', `127.0.0.1:${c.ports[0]}`, 'add', 'queue', 'bad', '--argument', 'qpid.replicate=sometimes']);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /qpid\.replicate/);
  const conn = await connect(c.ports[0] as number);
  await assert.rejects(openSender(conn.connection, queueNode('bad2', { 'qpid.replicate': 'sometimes' })), (err: { condition?: string; description?: string }) => err.condition === 'amqp:invalid-field' && /qpid\.replicate/.test(err.description ?? ''));
  await conn.close();
});
