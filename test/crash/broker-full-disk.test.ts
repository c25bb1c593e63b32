// Issue 19: a broker whose data dir fills up refuses what it cannot store and keeps running. It
// used to die on its own assertion ("ack gate: hold LSN 1002 after 2001"): the failed commit's
// LSNs were reused while the gate still held them. Here a real qpidd runs on an 8 MiB tmpfs in a
// private mount namespace (unshare; no root needed where unprivileged user namespaces are
// allowed), beside a 1 MiB ballast file. Producers fill the disk; the test checks that refusals
// carry amqp:resource-limit-exceeded and the broker serves on; then the "operator" frees space
// (the ballast goes) and writes are accepted again; and after a restart on the same filesystem
// every accepted message is there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from 'rhea';
import { connect, drain, openSender, sendAll, type Outcome } from '../helpers/amqp.js';
import { startQpidd, tempDir, waitFor, type BrokerProcess, type LogLine } from '../helpers/broker-process.js';
import { assertServes, queueNode } from '../integration/support.js';
import { cleanUpAfterFile, namespacesWork, seqOf, tmpfsLauncher } from '../helpers/tmpfs.js';

const DISK_BYTES = 8 * 1024 * 1024;
const BALLAST_BYTES = 1024 * 1024;
const BODY = 'x'.repeat(4000);

const { dirs, pids, launched } = cleanUpAfterFile();

test('a full data dir: producers get amqp:resource-limit-exceeded, the broker serves on, accepts again once space is freed, and loses nothing accepted', async (t) => {
  const dataDir = tempDir('qpidd-full-');
  dirs.push(dataDir);
  const why = namespacesWork(dataDir);
  if (why !== null) {
    t.skip(`cannot mount a small tmpfs in a private namespace: ${why}`);
    return;
  }
  const broker: BrokerProcess = await startQpidd({
    dataDir,
    launcher: tmpfsLauncher(dataDir, DISK_BYTES, BALLAST_BYTES),
    timeoutMs: 30_000,
  });
  launched.push(broker);
  // The default 64 GiB map is more than this filesystem could ever hold: lowered to fit it.
  const checked = await broker.waitForLog((l) => l.msg === 'data dir checked' && /default map size .* using 8\.0 MiB/.test(String(l['note'])));
  assert.ok(checked);
  const firstPid = Number((await broker.waitForLog((l) => l.msg === 'launcher: broker started'))['pid']);
  pids.push(firstPid);
  const died = broker.exited.then((e) => Promise.reject(new Error(`the broker died (${JSON.stringify(e)}): ${broker.stderr().slice(-500)}`)));
  died.catch(() => {});

  // 1. Fill the disk: many deliveries in flight when the commit fails, so that new ones are
  // given the failed LSNs while the gate still holds them (the old crash).
  const conn = await connect(broker.port);
  const sender = await openSender(conn.connection, queueNode('fill', { durable: true }));
  // Sent in rounds of CHUNK (1 MiB) in flight until the first refusal: one group commit that does
  // not fit fails whole, and on a slow machine 3,000 at once can form batches that never fit.
  const CHUNK = 250;
  const outcomes: Outcome[] = [];
  for (let from = 0; from < 3000 && outcomes.every((o) => o.state === 'accepted'); from += CHUNK) {
    const chunk = Array.from({ length: CHUNK }, (_, i) => ({ durable: true, application_properties: { seq: from + i }, body: BODY }));
    outcomes.push(...(await Promise.race([sendAll(sender, chunk, 120_000), died])));
  }
  const accepted = new Set(outcomes.flatMap((o, i) => (o.state === 'accepted' ? [i] : [])));
  const refused = outcomes.filter((o) => o.state !== 'accepted');
  assert.ok(accepted.size > 0, 'the disk held some messages before it filled');
  assert.ok(refused.length > 0, 'the disk filled up');
  assert.deepEqual([...new Set(refused.map((o) => `${o.state} ${o.condition}`))], ['rejected amqp:resource-limit-exceeded']);

  // 2. The broker survived: no assertion, and it still serves another client.
  assert.equal(broker.child.exitCode, null, `the broker exited: ${broker.stderr().slice(-500)}`);
  await assertServes(broker.port);
  assert.equal(broker.logs.some((l) => /AssertionFailure|assertion failed/.test(JSON.stringify(l))), false);

  // 3. Space is freed; writes are accepted again.
  broker.child.kill('SIGUSR1');
  await broker.waitForLog((l) => l.msg === 'launcher: ballast removed');
  const later = new Set<number>();
  let seq = 10_000;
  let last: Outcome[] = [];
  await waitFor(
    async () => {
      const batch = Array.from({ length: 20 }, () => ({ durable: true, application_properties: { seq: seq++ }, body: 'after' }));
      last = await Promise.race([sendAll(sender, batch, 30_000), died]);
      last.forEach((o, i) => o.state === 'accepted' && later.add(seqOf(batch[i] as Message)));
      return last.every((o) => o.state === 'accepted');
    },
    'the broker to accept messages again once space was freed',
    30_000,
    200,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last outcomes ${JSON.stringify(last.slice(0, 1))}`);
  });
  await conn.close();

  // 4. A clean restart on the same filesystem: every accepted message is there, and nothing
  // that was refused.
  process.kill(firstPid, 'SIGTERM');
  const exited = await broker.waitForLog((l) => l.msg === 'launcher: broker exited', 30_000);
  assert.equal(exited['code'], 0, 'the first broker stopped cleanly');
  const listening: LogLine = await waitFor(() => broker.logs.filter((l) => l.msg === 'listening')[1], 'the broker to restart', 30_000);
  const got = new Set((await drain(Number(listening['port']), 'fill', 1000)).map(seqOf));
  const lost = [...accepted, ...later].filter((s) => !got.has(s));
  assert.deepEqual(lost, [], `${lost.length} accepted messages lost`);
  const unexpected = [...got].filter((s) => !accepted.has(s) && !later.has(s));
  assert.deepEqual(unexpected, [], 'a refused message was stored');
  assert.equal((await broker.stop()).code, 0);
});
