// qpid-send and qpid-receive as child processes against the scriptable peer: counts, sequence
// properties, resend across a dropped connection, gaps and duplicates, exit codes, --json.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import rhea from 'rhea';
import { AmqpPeer, waitFor, type PeerQueue } from '../helpers/amqp-peer.js';

const toolsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools');
const peers: AmqpPeer[] = [];
after(async () => {
  await Promise.all(peers.map((peer) => peer.stop()));
});

async function peer(): Promise<AmqpPeer> {
  const started = await AmqpPeer.start();
  peers.push(started);
  return started;
}

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a tool asynchronously (the peer lives in this process and must keep serving). */
function run(tool: 'qpid-send' | 'qpid-receive', args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(toolsDir, `${tool}.js`), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function lastJson(output: string): Record<string, unknown> {
  const line = output.trim().split('\n').at(-1) as string;
  return JSON.parse(line) as Record<string, unknown>;
}

function fill(queue: PeerQueue, senderId: string, sns: readonly number[]): void {
  for (const sn of sns) queue.push({ body: `m${sn}`, application_properties: { sn, 'sender-id': senderId } });
}

test('qpid-send: every message carries sn and sender-id, durable and sized as asked; JSON summary', async () => {
  const broker = await peer();
  const result = await run('qpid-send', ['-b', broker.url, '-a', 'q', '-m', '50', '--id', 'spout-1', '--durable', 'yes', '--content-size', '16', '--json']);
  assert.equal(result.status, 0, result.stderr);
  const summary = lastJson(result.stdout);
  assert.equal(summary['tool'], 'qpid-send');
  assert.deepEqual(
    [summary['id'], summary['sent'], summary['accepted'], summary['rejected'], summary['released'], summary['resent'], summary['reconnects']],
    ['spout-1', 50, 50, 0, 0, 0, 0],
  );
  const stored = broker.queue('q').messages;
  assert.deepEqual(stored.map((entry) => entry.message.application_properties?.['sn']), Array.from({ length: 50 }, (_, index) => index + 1));
  assert.ok(stored.every((entry) => entry.message.application_properties?.['sender-id'] === 'spout-1'));
  assert.ok(stored.every((entry) => entry.message.durable === true && entry.message.body === 'X'.repeat(16)));
  assert.equal(stored[0]?.message.message_id, 'spout-1:1');
});

test('send through a dropped connection, then receive: resent > 0, duplicates reported, no loss', async () => {
  const broker = await peer();
  broker.dropAfter(120);
  const sent = await run('qpid-send', ['-b', broker.url, '-a', 'q', '-m', '400', '--capacity', '50', '--connection-options', '{reconnect: true, reconnect_interval_min: 0.01}', '--failover-updates', '--json']);
  assert.equal(sent.status, 0, sent.stderr);
  const sendSummary = lastJson(sent.stdout);
  assert.equal(sendSummary['accepted'], 400);
  assert.equal(sendSummary['reconnects'], 1);
  assert.ok((sendSummary['resent'] as number) > 0);
  assert.match(sent.stderr, /qpid-send: disconnected from 127\.0\.0\.1:\d+/);
  assert.match(sent.stderr, /qpid-send: reconnected to 127\.0\.0\.1:\d+/);

  const stored = broker.queue('q').messages.length;
  const received = await run('qpid-receive', ['-b', broker.url, '-a', 'q', '--timeout', '0.5', '--json']);
  assert.equal(received.status, 0, received.stderr);
  const summary = lastJson(received.stdout);
  assert.deepEqual([summary['received'], summary['unique'], summary['lost'], summary['duplicates']], [stored, 400, 0, stored - 400]);
  assert.deepEqual(summary['gaps'], []);
  assert.equal(broker.queue('q').messages.length, 0, 'everything was accepted');
});

test('qpid-send keeps running through a broker outage with no socket open (back-off between attempts)', async () => {
  const queues = new Map();
  const first = await AmqpPeer.start({ queues });
  first.holdSettlements = true;
  const child = spawn(process.execPath, [
    join(toolsDir, 'qpid-send.js'), '-b', first.url, '-a', 'q', '-m', '20', '--json',
    '--connection-options', '{reconnect: true, reconnect_interval_min: 0.1, reconnect_interval_max: 0.2}',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const status = new Promise<number | null>((resolve) => child.on('close', resolve));
  await waitFor('20 held messages', () => first.heldCount === 20);
  await first.stop();
  // Several back-off pauses pass with nothing listening; then the broker comes back.
  await new Promise((resolve) => setTimeout(resolve, 600));
  const second = await AmqpPeer.start({ port: first.port, queues });
  peers.push(second);
  assert.equal(await status, 0);
  const summary = lastJson(stdout);
  assert.deepEqual([summary['accepted'], summary['resent'], summary['reconnects']], [20, 20, 1]);
  assert.ok((summary['disconnectedMs'] as number) >= 500);
});

test('qpid-receive: gaps per sender are loss (exit 1), listed in JSON and on stderr in text mode', async () => {
  const broker = await peer();
  fill(broker.queue('q'), 'a', [1, 2, 3, 5, 6, 8]);
  fill(broker.queue('q'), 'b', [1, 2, 2, 3]);
  const json = await run('qpid-receive', ['-b', broker.url, '-a', 'q', '--timeout', '0.5', '--json']);
  assert.equal(json.status, 1);
  const summary = lastJson(json.stdout);
  assert.deepEqual([summary['received'], summary['unique'], summary['duplicates'], summary['lost'], summary['senders']], [10, 9, 1, 2, 2]);
  assert.deepEqual(summary['gaps'], [
    { senderId: 'a', from: 4, to: 4 },
    { senderId: 'a', from: 7, to: 7 },
  ]);

  fill(broker.queue('q'), 'a', [1, 2, 5]);
  const text = await run('qpid-receive', ['-b', broker.url, '-a', 'q', '--timeout', '0.5', '--print-content', 'no']);
  assert.equal(text.status, 1);
  assert.match(text.stderr, /qpid-receive: lost sn 3-4 from sender a/);
  assert.match(text.stdout, /^qpid-receive: address=q received=3 unique=3 duplicates=0 redelivered=0 lost=2 /m);
});

test('qpid-receive -m: prints content, stops at the count, leaves the rest; --ignore-duplicates counts unique only', async () => {
  const broker = await peer();
  fill(broker.queue('q'), 's', [1, 2, 2, 3, 4, 5]);
  const first = await run('qpid-receive', ['-b', broker.url, '-a', 'q', '-m', '3', '--ignore-duplicates', '--capacity', '1', '--ack-frequency', '1']);
  assert.equal(first.status, 0, first.stderr);
  assert.deepEqual(first.stdout.trim().split('\n').slice(0, -1), ['m1', 'm2', 'm3']);
  assert.deepEqual(broker.queue('q').bodies(), ['m4', 'm5']);
});

test('qpid-receive prints binary bodies (data sections) as text', async () => {
  const broker = await peer();
  broker.queue('bin').push({ body: rhea.message.data_section(Buffer.from('from proton')), application_properties: { sn: 1 } });
  broker.queue('bin').push({ body: { map: 1 }, application_properties: { sn: 2 } });
  const result = await run('qpid-receive', ['-b', broker.url, '-a', 'bin', '-m', '2']);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(result.stdout.trim().split('\n').slice(0, 2), ['from proton', '{"map":1}']);
});

test('qpid-receive --check-redelivered fails on a duplicate not marked redelivered', async () => {
  const broker = await peer();
  fill(broker.queue('q'), 's', [1, 2, 2]);
  const result = await run('qpid-receive', ['-b', broker.url, '-a', 'q', '--timeout', '0.5', '--check-redelivered', '--ignore-duplicates', '--json']);
  assert.equal(result.status, 1);
  const summary = lastJson(result.stdout);
  assert.equal(summary['unmarkedDuplicates'], 1);
  assert.equal(summary['lost'], 0);
});

test('qpid-receive: fewer than -m before the timeout is a shortfall (exit 1); eos ends early', async () => {
  const broker = await peer();
  fill(broker.queue('q'), 's', [1, 2]);
  const short = await run('qpid-receive', ['-b', broker.url, '-a', 'q', '-m', '5', '--timeout', '0.3', '--json']);
  assert.equal(short.status, 1);
  assert.deepEqual([lastJson(short.stdout)['shortfall'], lastJson(short.stdout)['timedOut']], [3, true]);

  const sent = await run('qpid-send', ['-b', broker.url, '-a', 'q', '-m', '3', '--send-eos', '1', '--id', 'e']);
  assert.equal(sent.status, 0, sent.stderr);
  const received = await run('qpid-receive', ['-b', broker.url, '-a', 'q', '--forever', '--json']);
  assert.equal(received.status, 0, received.stderr);
  assert.deepEqual([lastJson(received.stdout)['received'], lastJson(received.stdout)['unique']], [4, 4]);
});

test('qpid-send exits 1 when the broker rejects, counting outcomes', async () => {
  const broker = await peer();
  broker.outcome = (message) => ((message.application_properties?.['sn'] as number) % 2 === 0 ? 'rejected' : 'accepted');
  const result = await run('qpid-send', ['-b', broker.url, '-a', 'q', '-m', '10', '--json']);
  assert.equal(result.status, 1);
  const summary = lastJson(result.stdout);
  assert.deepEqual([summary['sent'], summary['accepted'], summary['rejected']], [10, 5, 5]);
});

test('no broker: exit 1 with CONNECT_FAILED in the summary', async () => {
  const broker = await peer();
  await broker.stop();
  peers.splice(peers.indexOf(broker), 1);
  const result = await run('qpid-send', ['-b', broker.url, '-a', 'q', '--json']);
  assert.equal(result.status, 1);
  assert.equal(lastJson(result.stdout)['error'], 'CONNECT_FAILED');
  const receive = await run('qpid-receive', ['-b', broker.url, '-a', 'q']);
  assert.equal(receive.status, 1);
  assert.match(receive.stderr, /CONNECT_FAILED/);
});

test('bad usage exits 2 with a message naming the option', async () => {
  const cases: Array<[typeof run extends (tool: infer T, ...rest: never[]) => unknown ? T : never, string[], RegExp]> = [
    ['qpid-send', ['-a', 'q', '--bogus'], /Unknown option '--bogus'/],
    ['qpid-send', ['-a', 'q', '-m', 'ten'], /--messages: "ten"/],
    ['qpid-send', ['-m', '1'], /--address is required/],
    ['qpid-send', ['-a', 'q', '--durable', 'perhaps'], /--durable: "perhaps" is not yes or no/],
    ['qpid-send', ['-a', 'q', '-b', 'host:0'], /port 0 is out of range/],
    ['qpid-send', ['-a', 'q', '--connection-options', '{reconect: true}'], /unknown connection option "reconect"/],
    ['qpid-receive', ['-a', 'q; {create: often}'], /create must be always, sender, receiver or never/],
    ['qpid-receive', ['-a', 'q', '--timeout=-1'], /--timeout: "-1"/],
    ['qpid-receive', ['-a', 'q', 'stray'], /Unexpected argument 'stray'/],
  ];
  for (const [tool, args, pattern] of cases) {
    const result = await run(tool, args);
    assert.equal(result.status, 2, `${tool} ${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
  }
  const help = await run('qpid-receive', ['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--ack-frequency N/);
});
