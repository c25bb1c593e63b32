// Issue 16: a full disk is an operating condition. A real qpidd on an 8 MiB tmpfs: producers fill
// it; the broker says "store full" (logs, /readyz, qpid-ha status) once per transition and stays
// up; it is killed -9 on the still-full disk and starts again there (the space reserve is given
// back), its consumers drain every accepted message, and producers are accepted again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from 'rhea';
import { connect, openReceiver, openSender, receiveN, sendAll, type Outcome } from '../helpers/amqp.js';
import { startQpidd, tempDir, waitFor, type LogLine } from '../helpers/broker-process.js';
import { cleanUpAfterFile, namespacesWork, seqOf, tmpfsLauncher } from '../helpers/tmpfs.js';
import { queueNode } from '../integration/support.js';
import { runTool } from './crash-point-support.js';

const DISK_BYTES = 8 * 1024 * 1024;
const BODY = 'y'.repeat(4000);
const { dirs, pids, launched } = cleanUpAfterFile();
const FULL = 'store full: durable messages are refused (amqp:resource-limit-exceeded) until a commit succeeds; consumers are served';
const NOT_FULL = 'store no longer full: a commit succeeded';

/** The store-full log lines alternate, full first: one line per transition. */
function assertTransitions(logs: readonly LogLine[]): void {
  const lines = logs.filter((l) => l.msg === FULL || l.msg === NOT_FULL).map((l) => l.msg);
  lines.forEach((m, i) => assert.equal(m, i % 2 === 0 ? FULL : NOT_FULL, `transition ${i}: ${lines.join(' | ')}`));
}

test('a full disk: the broker stays up, says "store full", restarts on the full disk after kill -9, drains, and accepts again', { timeout: 240_000 }, async (t) => {
  const dataDir = tempDir('qpidd-fullstart-');
  dirs.push(dataDir);
  const why = namespacesWork(dataDir);
  if (why !== null) {
    t.skip(`cannot mount a small tmpfs in a private namespace: ${why}`);
    return;
  }
  const broker = await startQpidd({ dataDir, args: ['--http-port', '0', '--store-reserve-bytes', '512K'], launcher: tmpfsLauncher(dataDir, DISK_BYTES, 0), timeoutMs: 30_000 });
  launched.push(broker);
  const firstPid = Number((await broker.waitForLog((l) => l.msg === 'launcher: broker started'))['pid']);
  pids.push(firstPid);
  await broker.waitForLog((l) => l.msg === 'space reserve kept');

  const conn = await connect(broker.port);
  const sender = await openSender(conn.connection, queueNode('full', { durable: true }));
  const accepted = new Set<number>();
  let seq = 0;
  // Fill until a whole batch is refused.
  for (let round = 0; round < 20; round++) {
    const batch = Array.from({ length: 300 }, () => ({ durable: true, application_properties: { seq: seq++ }, body: BODY }));
    const outcomes: Outcome[] = await sendAll(sender, batch, 60_000);
    outcomes.forEach((o, i) => o.state === 'accepted' && accepted.add(seqOf(batch[i] as Message)));
    const refused = outcomes.filter((o) => o.state !== 'accepted');
    for (const o of refused) assert.equal(`${o.state} ${o.condition}`, 'rejected amqp:resource-limit-exceeded');
    if (refused.length === outcomes.length) break;
  }
  await conn.close();
  assert.ok(accepted.size > 100, `${accepted.size} accepted before the disk filled`);
  assert.equal(broker.child.exitCode, null, 'the broker is up');
  await broker.waitForLog((l) => l.msg === FULL);
  await broker.waitForLog((l) => l.msg === 'store full: released the space reserve');
  assertTransitions(broker.logs);
  const httpPort = Number(broker.logs.find((l) => l.msg === 'listening')?.['httpPort']);
  const ready = (await (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).json()) as { ready: boolean; store: string };
  assert.equal(ready.ready, true, 'a full broker still serves its consumers');
  assert.equal(ready.store, 'store full');
  const status = await runTool('qpid-ha', ['-b', `127.0.0.1:${broker.port}`, 'status']);
  assert.match(status.stdout, /^standalone\nstore full$/m);

  // kill -9 on the full disk; the launcher starts it again there.
  process.kill(firstPid, 'SIGKILL');
  const relisten: LogLine = await waitFor(() => broker.logs.filter((l) => l.msg === 'listening')[1], 'the broker to start again on the full disk', 60_000);
  const port = Number(relisten['port']);
  const consumer = await connect(port);
  const receiver = await openReceiver(consumer.connection, 'full');
  const received = await receiveN(receiver, accepted.size, { timeoutMs: 60_000 });
  for (const r of received) r.delivery.accept();
  const got = new Set(received.map((r) => seqOf(r.message)));
  const lost = [...accepted].filter((s) => !got.has(s));
  assert.deepEqual(lost, [], `${lost.length} accepted messages lost`);

  // The dequeues freed space: producers are accepted again.
  const again = await openSender(consumer.connection, 'full');
  await waitFor(
    async () => (await sendAll(again, Array.from({ length: 10 }, () => ({ durable: true, body: 'after' })), 30_000)).every((o) => o.state === 'accepted'),
    'producers to be accepted again',
    30_000,
    200,
  );
  await consumer.close();
  assertTransitions(broker.logs);
});
