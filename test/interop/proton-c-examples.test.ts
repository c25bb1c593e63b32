// Debian's Proton C examples (send, receive, send-abort, direct), built unmodified at test time
// and run with host and port as arguments against a real qpidd process: queues, an exchange with
// no binding (accepted and dropped, as qpidd does), and aborted transfers (discarded, §2.6.14).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { declareQueue, queueDepth } from './broker-tools.js';
import { buildExamples } from './build-examples.js';
import { explain, oneTo, run, sequenceNumbers, start } from './programs.js';
import { timeThisFile } from './suite-clock.js';

timeThisFile(import.meta.url);

const SHORT_MS = 20_000;
let broker: BrokerProcess;
let dataDir: string;
let host: string;
let port: string;
let bin: Record<string, string>;

before(async () => {
  bin = await buildExamples('c', ['send', 'receive', 'send-abort', 'direct']);
  dataDir = tempDir('qpidd-interop-c-');
  broker = await startQpidd({ dataDir });
  host = '127.0.0.1';
  port = String(broker.port);
});

after(async () => {
  await broker?.stop();
  if (dataDir) removeDir(dataDir);
});

test('C send puts 100 messages on a queue and C receive gets them, in order', async () => {
  await declareQueue(`${host}:${port}`, 'c-examples');
  const sent = await run(bin['send'] as string, [host, port, 'c-examples', '100'], SHORT_MS);
  assert.equal(sent.code, 0, explain('send failed', sent));
  assert.deepEqual(sent.lines, ['100 messages sent and acknowledged']);
  const received = await run(bin['receive'] as string, [host, port, 'c-examples', '100'], SHORT_MS);
  assert.equal(received.code, 0, explain('receive failed', received));
  assert.equal(received.lines.at(-1), '100 messages received');
  assert.deepEqual(sequenceNumbers(received.lines), oneTo(100));
  assert.equal(await queueDepth(broker.port, 'c-examples'), 0);
});

test('C receive waiting on a queue gets what C send sends while it waits', async () => {
  await declareQueue(`${host}:${port}`, 'c-live');
  const receiver = start(bin['receive'] as string, [host, port, 'c-live', '20']);
  // Its attach is in place once the queue shows a consumer; until then the broker may hold the
  // messages anyway (the queue exists), so the order of the two does not matter for the result.
  const sent = await run(bin['send'] as string, [host, port, 'c-live', '20'], SHORT_MS);
  assert.equal(sent.code, 0, explain('send failed', sent));
  const exit = await receiver.finish(SHORT_MS);
  assert.equal(exit.code, 0, explain('receive failed', receiver));
  assert.deepEqual(sequenceNumbers(receiver.lines()), oneTo(20));
});

test('C send to amq.fanout with no binding: every message is accepted (qpidd accepts and drops them)', async () => {
  const sent = await run(bin['send'] as string, [host, port, 'amq.fanout', '10'], SHORT_MS);
  assert.equal(sent.code, 0, explain('send to amq.fanout failed', sent));
  assert.deepEqual(sent.lines, ['10 messages sent and acknowledged']);
});

test('C send-abort: aborted transfers are discarded with no disposition and nothing is queued (AMQP 1.0 §2.6.14)', async () => {
  await declareQueue(`${host}:${port}`, 'c-aborted');
  // Proton's frame trace (PN_TRACE_FRM, on stderr) shows what the example itself cannot: it
  // settles each aborted delivery locally and closes at once, so a disposition the broker sends
  // for one never reaches its handler. §2.6.14: an aborted delivery is discarded by the receiver.
  const result = await run(bin['send-abort'] as string, [host, port, 'c-aborted', '5'], SHORT_MS, { env: { PN_TRACE_FRM: '1' } });
  assert.equal(result.code, 0, explain('send-abort failed', result));
  assert.deepEqual(result.lines, ['5 messages started and aborted']);
  const aborts = result.stderr.split('\n').filter((l) => /-> @transfer.*aborted=true/.test(l));
  assert.equal(aborts.length, 5, explain('send-abort did not abort 5 transfers', result));
  const dispositions = result.stderr.split('\n').filter((l) => /<- @disposition/.test(l));
  const shown = dispositions.map((l) => l.replace(/^\[0x[0-9a-f]+\]:\s*/, '').slice(0, 300));
  assert.equal(dispositions.length, 0, `the broker answered aborted transfers with dispositions: ${shown.join(' | ')}`);
  assert.equal(await queueDepth(broker.port, 'c-aborted'), 0, 'an aborted message was queued');
});

// direct is a peer that listens instead of connecting: the examples pair it with send and
// receive without any broker. It stays here as the control for the tests above: the same built
// binaries talking to each other, so a failure above is the broker's, not the toolchain's.
test('control, no broker involved: C send to C direct, and C direct to C receive', async () => {
  const listener = start(bin['direct'] as string, [host, '0', 'examples', '10']);
  try {
    const line = await listener.waitForLine(/^listening on \d+$/, SHORT_MS);
    const directPort = line.split(' ').at(-1) as string;
    const sent = await run(bin['send'] as string, [host, directPort, 'examples', '10'], SHORT_MS);
    assert.equal(sent.code, 0, explain('send to direct failed', sent));
    const exit = await listener.finish(SHORT_MS);
    assert.equal(exit.code, 0, explain('direct (receiving) failed', listener));
    assert.equal(listener.lines().at(-1), '10 messages received');
    assert.deepEqual(sequenceNumbers(listener.lines()), oneTo(10));
  } finally {
    await listener.stop();
  }
  const sender = start(bin['direct'] as string, [host, '0', 'examples', '10']);
  try {
    const line = await sender.waitForLine(/^listening on \d+$/, SHORT_MS);
    const directPort = line.split(' ').at(-1) as string;
    const received = await run(bin['receive'] as string, [host, directPort, 'examples', '10'], SHORT_MS);
    assert.equal(received.code, 0, explain('receive from direct failed', received));
    assert.deepEqual(sequenceNumbers(received.lines), oneTo(10));
    const exit = await sender.finish(SHORT_MS);
    assert.equal(exit.code, 0, explain('direct (sending) failed', sender));
    assert.equal(sender.lines().at(-1), '10 messages sent and acknowledged');
  } finally {
    await sender.stop();
  }
});
