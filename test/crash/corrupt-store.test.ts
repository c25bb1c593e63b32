// Issue 16, on real qpidd processes: a byte changed in a stopped store's message body. verify
// names the message (exit 1); --store-verify-on-start full refuses the store (exit 1); the default
// quick start serves it, never delivers the altered body, moves it to the quarantine and reports
// it (qpid-ha status, the recovery report, qpid-store inspect); the store is sound afterwards.
// A cluster backup whose store fails verify (at start, or asked while it runs) resyncs in full.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Message } from 'rhea';
import { connect, openReceiver, openSender, receiveN, sendAll } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { Cluster } from '../helpers/cluster.js';
import { queueNode } from '../integration/support.js';
import { withRawTables } from '../store/children.js';
import { runTool } from './crash-point-support.js';

const dirs: string[] = [];
const brokers: BrokerProcess[] = [];
const clusters: Cluster[] = [];
after(async () => {
  for (const b of brokers) b.kill('SIGKILL');
  for (const c of clusters) await c.stop();
  for (const d of dirs) removeDir(d);
});

/** Changes one byte of the body `body of message N` where the messages table of a stopped
 * store keeps it; returns its message id. */
async function damageBody(dataDir: string, n: number): Promise<number> {
  let victimId = 0;
  await withRawTables(dataDir, (t) => {
    for (let id = 1; id < 100 && victimId === 0; id++) {
      const row = t.get('messages', id);
      if (row && row.includes(Buffer.from(`body of message ${n}`))) {
        const changed = Buffer.from(row);
        const at = changed.indexOf(Buffer.from(`message ${n}`));
        changed[at] ^= 0x01;
        t.put('messages', id, changed);
        victimId = id;
      }
    }
  });
  assert.ok(victimId > 0);
  return victimId;
}

const seqOf = (m: Message): number => Number((m.application_properties as Record<string, unknown>)['seq']);

test('a changed byte in a stored body: reported by verify, refused by a full start, quarantined (never delivered) by a quick one', { timeout: 120_000 }, async () => {
  const dataDir = tempDir('qpidd-corrupt-');
  dirs.push(dataDir);
  const first = await startQpidd({ dataDir });
  brokers.push(first);
  const conn = await connect(first.port);
  const sender = await openSender(conn.connection, queueNode('c', { durable: true }));
  const outcomes = await sendAll(sender, Array.from({ length: 20 }, (_, i) => ({ durable: true, application_properties: { seq: i }, body: `body of message ${i}` })));
  assert.ok(outcomes.every((o) => o.state === 'accepted'));
  await conn.close();
  assert.equal((await first.stop()).code, 0);

  // The seventh message's body, changed where the messages table keeps it.
  const victim = 7;
  const victimId = await damageBody(dataDir, victim);

  const verified = await runTool('qpid-store', ['verify', '--data-dir', dataDir]);
  assert.equal(verified.code, 1, verified.stdout);
  assert.match(verified.stdout, new RegExp(`message-garbled: message ${victimId}: its body fails its checksum`));

  const full = await startQpidd({ dataDir, args: ['--store-verify-on-start', 'full'], expectFailure: true });
  brokers.push(full);
  assert.equal((await full.exited).code, 1);
  assert.match(full.stderr(), /failed its full verify at start: 1 violation\(s\), first message-garbled: message \d+: its body fails its checksum.*\[STORE_CORRUPT\]/);

  const quick = await startQpidd({ dataDir });
  brokers.push(quick);
  const consumer = await connect(quick.port);
  const receiver = await openReceiver(consumer.connection, 'c');
  const received = await receiveN(receiver, 25, { timeoutMs: 3000, atMost: true });
  for (const r of received) r.delivery.accept();
  await consumer.close();
  const got = received.map((r) => r.message);
  assert.deepEqual(got.map(seqOf), [...Array(20).keys()].filter((i) => i !== victim), 'every other message, in order; the damaged one never delivered');
  for (const m of got) assert.equal(m.body, `body of message ${seqOf(m)}`, 'no body altered');
  const quarantined = await quick.waitForLog((l) => l.msg === 'message quarantined: it could not be read unaltered, and is lost');
  assert.deepEqual([quarantined['queue'], quarantined['position'], quarantined['messageId']], ['c', victim + 1, victimId]);
  const status = await runTool('qpid-ha', ['-b', `127.0.0.1:${quick.port}`, 'status']);
  assert.match(status.stdout, /^standalone$/m);
  assert.match(status.stdout, /^lost: 1 message\(s\) quarantined$/m);
  assert.match(status.stdout, new RegExp(`^lost: queue c position ${victim + 1} message ${victimId}: message ${victimId}: its body fails its checksum`, 'm'));
  const json = JSON.parse((await runTool('qpid-ha', ['-b', `127.0.0.1:${quick.port}`, 'status', '--json'])).stdout) as { recovery: { messages: number; lostCount: number } };
  assert.equal(json.recovery.messages, 20);
  assert.equal(json.recovery.lostCount, 1);
  assert.equal((await quick.stop()).code, 0);

  // The quarantine keeps it (inspect shows it); the store is sound again.
  const inspect = await runTool('qpid-store', ['inspect', '--data-dir', dataDir, '--json']);
  const summary = JSON.parse(inspect.stdout) as { quarantinedCount: number; quarantine: { queue: string; position: number; messageId: number }[]; recovery: { lostCount: number } };
  assert.equal(summary.quarantinedCount, 1);
  assert.deepEqual([summary.quarantine[0]!.queue, summary.quarantine[0]!.position, summary.quarantine[0]!.messageId], ['c', victim + 1, victimId]);
  assert.equal(summary.recovery.lostCount, 1);
  assert.equal((await runTool('qpid-store', ['verify', '--data-dir', dataDir])).code, 0);
});

/** Two brokers, b0 active, b1 a ready backup holding queue c's 20 durable messages. */
async function replicatedCluster(): Promise<Cluster> {
  const c = await Cluster.start({ size: 2 });
  clusters.push(c);
  await c.promoteAndWait(0);
  const conn = await connect(c.ports[0]!);
  const sender = await openSender(conn.connection, queueNode('c', { durable: true }));
  const outcomes = await sendAll(sender, Array.from({ length: 20 }, (_, i) => ({ durable: true, application_properties: { seq: i }, body: `body of message ${i}` })));
  assert.ok(outcomes.every((o) => o.state === 'accepted'));
  await conn.close();
  await c.waitForReplication(0);
  return c;
}

test('a cluster backup whose store fails its full verify at start resyncs it in full (not by the delta), and is then sound and ready', { timeout: 120_000 }, async () => {
  const c = await replicatedCluster();
  await c.kill(1);
  await damageBody(c.dataDirs[1]!, 3);
  const b1 = await c.startBroker(1, ['--store-verify-on-start', 'full']);
  await c.waitForState(1, 'ready', 30_000);
  const wiped = await b1.waitForLog((l) => l.msg === 'connected to the primary; wiping the store to catch up');
  assert.match(String(wiped['reason']), /^the backup asks for a full resync \(the store failed its verify at start: .*message-garbled/);
  assert.deepEqual(await c.storedBodies(1, 'c'), await c.storedBodies(0, 'c'));
  const verified = await runTool('qpid-store', ['verify', '--data-dir', c.dataDirs[1]!]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
});

test('a running backup whose store qpid-store verify finds damaged leaves the gate and resyncs in full; verify is then clean', { timeout: 120_000 }, async () => {
  const c = await replicatedCluster();
  // Bit rot under a running backup: one byte of a body changed in data.mdb itself (every copy
  // of it: copy-on-write leaves older ones in free pages). LMDB's map shares the page cache, so
  // the backup reads what the disk now holds.
  const path = join(c.dataDirs[1]!, 'store', 'data.mdb');
  const file = readFileSync(path);
  const needle = Buffer.from('body of message 5');
  let copies = 0;
  for (let at = file.indexOf(needle); at >= 0; at = file.indexOf(needle, at + 1)) {
    file[at + 5] ^= 0x01;
    copies++;
  }
  assert.ok(copies > 0);
  writeFileSync(path, file);
  const found = await runTool('qpid-store', ['verify', '--data-dir', c.dataDirs[1]!]);
  assert.equal(found.code, 1, found.stdout + found.stderr);
  assert.match(found.stdout, /its body fails its checksum/);
  const b1 = c.broker(1);
  await b1.waitForLog((l) => l.msg === 'leaving the ack gate to catch up again' && /^qpid-store verify found \d+ violation/.test(String(l['reason'])));
  await b1.waitForLog((l) => l.msg === 'connected to the primary; wiping the store to catch up' && /asks for a full resync/.test(String(l['reason'])), 30_000);
  await c.waitForState(1, 'ready', 30_000);
  const clean = await runTool('qpid-store', ['verify', '--data-dir', c.dataDirs[1]!]);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.deepEqual(await c.storedBodies(1, 'c'), await c.storedBodies(0, 'c'));
});
