// The load generator against a real relay process on loopback: its counts add up, and its loss
// and duplicate checks catch real loss (a competing consumer takes messages away) and real
// duplicates (a copy of a message is already waiting in the queue) with the exit status 2.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import rhea from 'rhea';
import type { Connection, EventContext } from 'rhea';
import { LOADGEN_DEFAULTS, loadgenArgs } from '../../bench/lib/loadgen-options.js';
import type { LoadgenOptions } from '../../bench/lib/loadgen-options.js';
import type { LoadgenResult } from '../../bench/lib/loadgen-result.js';
import { buildMessageTemplate } from '../../bench/lib/message-template.js';
import { loadgenScript } from '../../bench/lib/paths.js';
import { runJsonProcess } from '../../bench/lib/process.js';
import { startRelay } from '../../bench/lib/servers.js';
import type { BenchServer } from '../../bench/lib/servers.js';

const servers: BenchServer[] = [];
const connections: Connection[] = [];
after(async () => {
  for (const connection of connections) connection.close();
  await Promise.all(servers.map((server) => server.stop()));
});

async function relay(): Promise<BenchServer> {
  const server = await startRelay();
  servers.push(server);
  return server;
}

/** A light, short, throttled load: the tests check accounting, not speed. */
function load(server: BenchServer, overrides: Partial<LoadgenOptions>): LoadgenOptions {
  return { ...LOADGEN_DEFAULTS, host: server.host, port: server.port, rateMsgsPerS: 2000, warmupS: 0.2, durationS: 0.8, drainS: 2, ...overrides };
}

async function runLoadgenProcess(options: LoadgenOptions): Promise<{ result: LoadgenResult; code: number | null }> {
  const run = await runJsonProcess<LoadgenResult>([loadgenScript, ...loadgenArgs(options)], 30_000);
  assert.equal(run.value.msg, 'loadgen result', JSON.stringify(run.value));
  return { result: run.value, code: run.status.code };
}

function connect(server: BenchServer): Connection {
  const connection = rhea.create_container().connect({ host: server.host, port: server.port, reconnect: false });
  connections.push(connection);
  return connection;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('at-least-once and at-most-once over several queues: every message sent is received once', async () => {
  const server = await relay();
  for (const settle of ['at-least-once', 'at-most-once'] as const) {
    const { result, code } = await runLoadgenProcess(load(server, { settle, producers: 2, consumers: 4, queues: 2, queue: `q-${settle}` }));
    assert.equal(code, 0);
    assert.equal(result.ok, true);
    assert.equal(result.lossChecked, settle === 'at-least-once');
    assert.deepEqual(result.params.queueNames, [`q-${settle}-0`, `q-${settle}-1`]);
    const c = result.counts;
    assert.ok(c.sent > 500, `sent ${c.sent}`);
    assert.equal(c.accepted, c.sent);
    assert.equal(c.received, c.sent);
    assert.deepEqual([c.lost, c.duplicates, c.foreign, c.unsettled, c.rejected, c.released], [0, 0, 0, 0, 0, 0]);
    assert.equal(result.errors, 0, result.errorSamples.join('; '));
    // Throttled to 2000 msg/s in total: the window's rate never goes above it (the pacer works).
    // Below it is only the machine: beside the bench smoke file on 2 cores this measured 938 and
    // 944 msg/s in clean-clone CI runs, so the lower bound only says the pacer kept running.
    assert.ok(result.sentMsgsPerS < 2600, `sent ${result.sentMsgsPerS} msg/s, above the 2000 msg/s throttle`);
    assert.ok(result.sentMsgsPerS > 400, `sent ${result.sentMsgsPerS} msg/s: the pacer stalled`);
    assert.ok(result.latencyMs.endToEnd.count > 0 && result.latencyMs.endToEnd.p50 > 0);
    assert.equal(result.latencyMs.settle.count > 0, settle === 'at-least-once');
  }
});

test('a competing consumer takes messages away: the loadgen reports exactly those as lost and exits 2', async () => {
  const server = await relay();
  let stolen = 0;
  const thief = connect(server).open_receiver({ source: 'contested', credit_window: 100 });
  thief.on('message', () => stolen++);
  await new Promise<void>((resolve) => thief.once('receiver_open', () => resolve()));

  const { result, code } = await runLoadgenProcess(load(server, { queue: 'contested', drainS: 1 }));
  assert.equal(code, 2);
  assert.equal(result.ok, false);
  assert.equal(result.drained, false);
  assert.ok(stolen > 0, 'the relay shared the queue with the competing consumer');
  assert.equal(result.counts.lost, stolen);
  assert.equal(result.counts.received + result.counts.lost, result.counts.accepted);
});

test('a copy already waiting in the queue is counted as a duplicate, a message not ours as foreign', async () => {
  const server = await relay();
  const sender = connect(server).open_sender({ target: 'dup' });
  await new Promise<void>((resolve) => sender.once('sendable', () => resolve()));
  let accepted = 0;
  sender.on('accepted', () => accepted++);
  // The same producer 0, sequence 0 that the loadgen's first message will carry.
  sender.send(buildMessageTemplate(16, false).stamp(0, 0, 0), undefined, 0);
  sender.send({ body: 'not a load message' });
  await waitFor(() => accepted === 2, 'the relay to accept the planted messages');

  const { result, code } = await runLoadgenProcess(load(server, { queue: 'dup' }));
  assert.equal(code, 0, 'duplicates are reported, not a failure (DESIGN.md §5)');
  assert.equal(result.counts.duplicates, 1);
  assert.equal(result.counts.foreign, 1);
  assert.equal(result.counts.lost, 0);
  assert.equal(result.counts.received, result.counts.sent + 2);
});
