// Issue 16: qpid-check-history, the crash suite's checker as a tool, over the histories qpid-send
// and qpid-receive write with --history: a real broker killed -9 between the send and the
// receive, then restarted on the same data dir; and hand-written histories for each verdict.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { runTool } from './crash-point-support.js';

const dirs: string[] = [];
const brokers: BrokerProcess[] = [];
after(() => {
  for (const b of brokers) b.kill('SIGKILL');
  for (const d of dirs) removeDir(d);
});

const run = runTool;

test('qpid-send and qpid-receive --history across a kill -9 and restart: qpid-check-history finds nothing lost', async () => {
  const dir = tempDir('qpidd-history-');
  dirs.push(dir);
  const dataDir = join(dir, 'data');
  const broker = await startQpidd({ dataDir });
  brokers.push(broker);
  const sent = await run('qpid-send', ['-b', `127.0.0.1:${broker.port}`, '-a', 'h; {create: always, node: {durable: true}}', '-m', '200', '--durable', 'yes', '-i', 'p1', '--history', join(dir, 'p1.history.jsonl')]);
  assert.equal(sent.code, 0, sent.stderr);
  broker.kill('SIGKILL');
  await broker.exited;
  const again = await startQpidd({ dataDir });
  brokers.push(again);
  const received = await run('qpid-receive', ['-b', `127.0.0.1:${again.port}`, '-a', 'h', '-m', '200', '--print-content', 'no', '-i', 'c1', '--history', join(dir, 'c1.history.jsonl')]);
  assert.equal(received.code, 0, received.stderr);
  const lines = readFileSync(join(dir, 'p1.history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string });
  assert.equal(lines.filter((l) => l.kind === 'send').length, 200);
  assert.equal(lines.filter((l) => l.kind === 'settle').length, 200);
  const report = await run('qpid-check-history', [join(dir, 'p1.history.jsonl'), join(dir, 'c1.history.jsonl'), '--json']);
  assert.equal(report.code, 0, report.stdout + report.stderr);
  const parsed = JSON.parse(report.stdout) as { ok: boolean; queues: { queue: string; counts: { accepted: number; unique: number; lost: number; phantoms: number } }[] };
  assert.equal(parsed.ok, true);
  assert.deepEqual(parsed.queues.map((q) => [q.queue, q.counts.accepted, q.counts.unique, q.counts.lost, q.counts.phantoms]), [['h', 200, 200, 0, 0]]);
  assert.equal((await again.stop()).code, 0);
});

const event = (o: Record<string, unknown>): string => `${JSON.stringify({ atMs: 0, ...o })}\n`;

test('qpid-check-history: exit 1 on loss or a phantom, 0 with duplicates; one report per queue', async () => {
  const dir = tempDir('qpidd-history-');
  dirs.push(dir);
  const producer = join(dir, 'p.history.jsonl');
  writeFileSync(
    producer,
    [1, 2, 3].map((sn) => event({ kind: 'send', producer: 'p', queue: 'a', sn }) + event({ kind: 'settle', producer: 'p', queue: 'a', sn, outcome: 'accepted' })).join('') +
      event({ kind: 'send', producer: 'p', queue: 'b', sn: 4 }) +
      event({ kind: 'settle', producer: 'p', queue: 'b', sn: 4, outcome: 'accepted' }),
  );
  const consumer = (name: string, receipts: [string, number, number][]): string => {
    const path = join(dir, `${name}.history.jsonl`);
    writeFileSync(path, receipts.map(([queue, sn, deliveryCount]) => event({ kind: 'receive', consumer: name, queue, producer: 'p', sn, deliveryCount })).join(''));
    return path;
  };
  const whole = consumer('c-whole', [['a', 1, 0], ['a', 2, 0], ['a', 2, 1], ['a', 3, 0], ['b', 4, 0]]);
  const ok = await run('qpid-check-history', [producer, whole]);
  assert.equal(ok.code, 0, ok.stdout);
  assert.match(ok.stdout, /^a: accepted 3, received 3 \(4 receipts\), lost 0, duplicates 1, unmarked redeliveries 0, phantoms 0, order violations 0$/m);
  assert.match(ok.stdout, /^b: accepted 1, received 1 \(1 receipts\), lost 0/m);

  const lossy = consumer('c-lossy', [['a', 1, 0], ['a', 3, 0], ['b', 4, 0]]);
  const lost = await run('qpid-check-history', [producer, lossy]);
  assert.equal(lost.code, 1);
  assert.match(lost.stdout, /^ {2}lost: p sn 2$/m);

  const phantom = consumer('c-phantom', [['a', 1, 0], ['a', 2, 0], ['a', 3, 0], ['b', 4, 0], ['b', 1, 0], ['a', 9, 0]]);
  const bad = await run('qpid-check-history', [producer, phantom, '--json']);
  assert.equal(bad.code, 1);
  const report = JSON.parse(bad.stdout) as { queues: { queue: string; phantoms: { sn: number; reason: string }[] }[] };
  assert.deepEqual(report.queues.map((q) => [q.queue, q.phantoms.map((p) => `${p.sn}:${p.reason}`)]), [['a', ['9:never-sent']], ['b', ['1:wrong-queue']]]);

  const usage = await run('qpid-check-history', []);
  assert.equal(usage.code, 2);
});
