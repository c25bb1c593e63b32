// Roles, promotion and fencing (issue 4; reference §1.12.1, §1.12.10-12): backups refuse
// clients, only a ready backup is promoted, a recovering primary holds settlements, a hung
// backup stops holding producers after two heartbeats, a stale primary is refused and stops.
import { after, test } from 'node:test';
import rhea, { type EventContext } from 'rhea';
import assert from 'node:assert/strict';
import { connect, drain, openSender, sendAll, type Outcome } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/broker-process.js';

const clusters: Cluster[] = [];
after(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
});

async function started(options: Parameters<typeof Cluster.start>[0]): Promise<Cluster> {
  const c = await Cluster.start(options);
  clusters.push(c);
  return c;
}

/** A refused connection is opened and then closed at once with the error (AMQP 1.0 §2.4.1). */
function refusedWith(port: number): Promise<{ condition?: string; info?: Record<string, unknown> }> {
  const container = rhea.create_container();
  return new Promise((resolve, reject) => {
    const connection = container.connect({ host: '127.0.0.1', port, reconnect: false } as never);
    const timer = setTimeout(() => reject(new Error('the backup did not refuse the connection')), 5000);
    connection.on('connection_error', (ctx: EventContext) => {
      clearTimeout(timer);
      const error = (ctx.connection as unknown as { error?: { condition?: unknown; info?: Record<string, unknown> } }).error;
      resolve({ condition: String(error?.condition), ...(error?.info ? { info: error.info } : {}) });
    });
    connection.on('disconnected', () => {});
  });
}

/** How a backup answers a client: qpidd's way is to drop the TCP connection when the client's
 * open arrives, with no open or close frame of its own (BackupConnectionExcluder). */
function answerTo(port: number): Promise<'dropped' | 'opened' | string> {
  const container = rhea.create_container();
  return new Promise((resolve, reject) => {
    const connection = container.connect({ host: '127.0.0.1', port, reconnect: false } as never);
    const timer = setTimeout(() => reject(new Error('the backup neither dropped nor answered the connection')), 5000);
    const done = (answer: string): void => {
      clearTimeout(timer);
      resolve(answer);
    };
    connection.on('connection_open', () => done('opened'));
    connection.on('connection_error', (ctx: EventContext) => done(String((ctx.connection as unknown as { error?: { condition?: unknown } }).error?.condition)));
    connection.on('disconnected', () => done('dropped'));
  });
}

function b1Log(c: Cluster, pattern: RegExp): Promise<unknown> {
  return c.broker(1).waitForLog((l) => pattern.test(l.msg), 10_000);
}

const queueNode = (address: string) => ({ address, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });

async function sendDurable(port: number, queue: string, bodies: string[]): Promise<Outcome[]> {
  const conn = await connect(port);
  try {
    const sender = await openSender(conn.connection, queueNode(queue));
    return await sendAll(sender, bodies.map((body) => ({ durable: true, body })));
  } finally {
    await conn.close();
  }
}

test('a backup drops a client\'s connection at its open, with no close frame; an admin connection is accepted', async () => {
  const c = await started({ size: 3 });
  await c.promoteAndWait(0);
  assert.equal(await answerTo(c.ports[1] as number), 'dropped');
  assert.equal(await answerTo(c.ports[2] as number), 'dropped');
  assert.equal(await answerTo(c.ports[0] as number), 'opened');
  const status = await c.status(1);
  assert.equal(status.state, 'ready');
  assert.equal(status.primary, 'b0');
  const expectPrimary = await c.tool('qpid-ha', ['-b', `127.0.0.1:${c.ports[0]}`, 'status', '--expect=primary']);
  assert.equal(expectPrimary.code, 0);
  assert.equal(expectPrimary.stdout.trim(), 'active');
  const backupIsPrimary = await c.tool('qpid-ha', ['-b', `127.0.0.1:${c.ports[1]}`, 'status', '--expect=primary']);
  assert.equal(backupIsPrimary.code, 1);
  const all = await c.tool('qpid-ha', ['-b', `127.0.0.1:${c.ports[1]}`, 'status', '--all', '--json']);
  assert.deepEqual((JSON.parse(all.stdout) as { state: string }[]).map((r) => r.state).sort(), ['active', 'ready', 'ready']);
  const withoutManager = await c.tool('qpid-ha', ['-b', `127.0.0.1:${c.ports[1]}`, 'promote']);
  assert.equal(withoutManager.code, 2);
  assert.match(withoutManager.stderr, /cluster-manager/);
});

test('the primary imposes no idle timeout on clients (only replication links get the heartbeat); a client that asks gets twice its own', async () => {
  const c = await started({ size: 2 });
  await c.promoteAndWait(0);
  const idleOf = async (idleTimeoutMs?: number): Promise<unknown> => {
    const conn = await connect(c.ports[0] as number, idleTimeoutMs ? { idleTimeoutMs } : {});
    try {
      return (conn.connection as unknown as { remote: { open: { idle_time_out?: unknown } } }).remote.open.idle_time_out ?? null;
    } finally {
      await conn.close();
    }
  };
  assert.equal(await idleOf(), null);
  assert.equal(await idleOf(10_000), 20_000);
});

test('--ha-client-redirect yes: a backup redirects clients to the primary instead (opt-in)', async () => {
  const c = await started({ size: 2, extraArgs: ['--ha-client-redirect', 'yes'] });
  await c.promoteAndWait(0);
  const refusal = await refusedWith(c.ports[1] as number);
  assert.equal(refusal.condition, 'amqp:connection:redirect');
  assert.equal(Number(refusal.info?.['port']), c.ports[0]);
});

test('an empty cluster fails over, and the other backup follows the new primary', async () => {
  const c = await started({ size: 3 });
  await c.promoteAndWait(0);
  await c.kill(0);
  await c.promote(1);
  await c.waitForState(1, 'active');
  await c.waitForState(2, 'ready');
  assert.equal((await c.status(2)).primary, 'b1');
  const outcomes = await sendDurable(c.ports[1] as number, 'after', ['x']);
  assert.equal(outcomes[0]?.state, 'accepted');
});

test('promoting a joining broker fails while another broker is ready', async () => {
  const c = await started({ size: 3 });
  await c.promoteAndWait(0);
  await c.kill(0);
  await c.startBroker(0); // comes back joining; b1 and b2 are still ready
  await c.waitForState(0, 'joining');
  const result = await c.tool('qpid-ha', ['--cluster-manager', '-b', `127.0.0.1:${c.ports[0]}`, 'promote']);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /b[12].*ready/);
  await c.promote(1);
  await c.waitForState(1, 'active');
  await c.waitForState(0, 'ready');
});

test('a recovering primary holds settlements until the expected backups are ready again', async () => {
  const c = await started({ size: 3, backupTimeoutS: 60 });
  await c.promoteAndWait(0);
  await c.kill(0);
  await c.kill(2);
  await c.promote(1);
  await c.waitForState(1, 'recovering');
  const conn = await connect(c.ports[1] as number);
  const sender = await openSender(conn.connection, queueNode('held'));
  let settled: Outcome[] | null = null;
  const sending = sendAll(sender, [{ durable: true, body: 'wait-for-b2' }], 60_000).then((o) => (settled = o));
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(settled, null, 'nothing is settled while recovering');
  await c.startBroker(2);
  await c.waitForState(1, 'active');
  await sending;
  assert.equal((settled as Outcome[] | null)?.[0]?.state, 'accepted');
  await conn.close();
  assert.deepEqual(await c.storedBodies(2, 'held'), ['wait-for-b2']);
});

test('a recovering primary becomes active when ha-backup-timeout passes without the expected backup', async () => {
  // Alone, it settles only because min-backups is 0 here (the default, 1 with three brokers,
  // would hold every message until a backup is back: tested in min-backups.test.ts).
  const c = await started({ size: 3, backupTimeoutS: 1.5, extraArgs: ['--ha-min-backups', '0'] });
  await c.promoteAndWait(0);
  await c.kill(0);
  await c.kill(2);
  await c.promote(1);
  const started_ = Date.now();
  const outcomes = await sendDurable(c.ports[1] as number, 'q', ['after-timeout']);
  assert.equal(outcomes[0]?.state, 'accepted');
  assert.ok(Date.now() - started_ >= 1000, 'settled only after the backup timeout');
  assert.equal((await c.status(1)).state, 'active');
});

test('a backup stopped with SIGSTOP does not block producers beyond twice the heartbeat', async () => {
  const c = await started({ size: 2, heartbeatS: 1 });
  await c.promoteAndWait(0);
  await c.kill(1, 'SIGSTOP');
  const t0 = Date.now();
  const outcomes = await sendDurable(c.ports[0] as number, 'q', ['while-b1-hangs']);
  const elapsedMs = Date.now() - t0;
  assert.equal(outcomes[0]?.state, 'accepted');
  assert.ok(elapsedMs < 4000, `settled after ${elapsedMs} ms`);
  c.broker(1).kill('SIGCONT');
  // b1 was frozen past the heartbeat: it may have been dropped from the gate, so it is not
  // promotable until it has caught up again.
  await b1Log(c, /no longer ready/);
  await c.waitForReplication(0);
  await c.waitForState(1, 'ready');
  assert.deepEqual(await c.storedBodies(1, 'q'), ['while-b1-hangs']);
});

test('total cluster failure: the first promoted recovers from its own store, the others wipe and resync', async () => {
  const c = await started({ size: 3 });
  await c.promoteAndWait(0);
  const first = Array.from({ length: 50 }, (_, i) => `a${i}`);
  assert.ok((await sendDurable(c.ports[0] as number, 'total', first)).every((o) => o.state === 'accepted'));
  await c.kill(2); // b2 misses what follows: its store is older
  const second = Array.from({ length: 50 }, (_, i) => `b${i}`);
  assert.ok((await sendDurable(c.ports[0] as number, 'total', second)).every((o) => o.state === 'accepted'));
  await Promise.all([c.kill(0), c.kill(1)]);
  await Promise.all([c.startBroker(0), c.startBroker(1), c.startBroker(2)]);
  for (const i of [0, 1, 2]) await c.waitForState(i, 'joining');
  // The manager must pick the most recent store: promoting the stale b2 is refused...
  const stale = await c.tool('qpid-ha', ['--cluster-manager', '-b', `127.0.0.1:${c.ports[2]}`, 'promote']);
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, /more recent store/);
  const statuses = await Promise.all([0, 1, 2].map((i) => c.status(i)));
  assert.ok(statuses[2]!.lastLsn < statuses[0]!.lastLsn);
  await c.promote(0);
  await c.waitForState(0, 'active');
  await c.waitForState(1, 'ready');
  await c.waitForState(2, 'ready');
  const expected = [...first, ...second];
  assert.deepEqual(await c.storedBodies(1, 'total'), expected);
  assert.deepEqual(await c.storedBodies(2, 'total'), expected);
  assert.deepEqual((await drain(c.ports[0] as number, 'total')).map((m) => m.body), expected);
});

test('a stale primary is refused by backups and stops serving once it learns of the new epoch', async () => {
  const c = await started({ size: 3, heartbeatS: 0.5 });
  await c.promoteAndWait(0);
  await c.kill(0, 'SIGSTOP');
  await c.promote(1);
  await c.waitForState(1, 'active');
  await c.waitForState(2, 'ready');
  const old = c.broker(0);
  old.kill('SIGCONT');
  // b0 wakes up believing it is primary of epoch 1; it finds b1 of epoch 2 and stops.
  await old.waitForLog((l) => /stale primary/.test(l.msg), 15_000);
  const exit = await old.exited;
  assert.equal(exit.code, 70);
  // Restarted, it becomes a backup of the new primary.
  c.brokers[0] = null;
  await c.startBroker(0);
  await c.waitForState(0, 'ready');
  assert.equal((await c.status(0)).primary, 'b1');
});
