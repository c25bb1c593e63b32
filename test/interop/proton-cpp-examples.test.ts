// Debian's Proton C++ examples (simple_send, simple_recv, client, server, reconnect_client),
// built unmodified at test time and run with only the broker's address as argument against a
// real qpidd process. Their failover with reconnect_client is in failover-cpp-rhea.test.ts.
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
let hostPort: string;
let bin: Record<string, string>;

before(async () => {
  bin = await buildExamples('cpp', ['simple_send', 'simple_recv', 'client', 'server', 'reconnect_client']);
  dataDir = tempDir('qpidd-interop-cpp-');
  broker = await startQpidd({ dataDir });
  hostPort = `127.0.0.1:${broker.port}`;
});

after(async () => {
  await broker?.stop();
  if (dataDir) removeDir(dataDir);
});

test('C++ simple_send confirms 1000 messages and simple_recv prints them in order', async () => {
  await declareQueue(hostPort, 'cpp-simple');
  const receiver = start(bin['simple_recv'] as string, ['-a', `${hostPort}/cpp-simple`, '-m', '1000']);
  const sent = await run(bin['simple_send'] as string, ['-a', `${hostPort}/cpp-simple`, '-m', '1000'], SHORT_MS);
  assert.equal(sent.code, 0, explain('simple_send failed', sent));
  assert.deepEqual(sent.lines, ['all messages confirmed']);
  const exit = await receiver.finish(SHORT_MS);
  assert.equal(exit.code, 0, explain('simple_recv failed', receiver));
  assert.equal(receiver.lines()[0], '{"sequence"=1}');
  assert.deepEqual(sequenceNumbers(receiver.lines()), oneTo(1000));
  assert.equal(await queueDepth(broker.port, 'cpp-simple'), 0);
});

test('C++ client and server: request/response with a dynamic reply-to queue', async () => {
  await declareQueue(hostPort, 'cpp-requests');
  const server = start(bin['server'] as string, [`//${hostPort}`, 'cpp-requests']);
  try {
    await server.waitForLine(/^Server connected to/, SHORT_MS);
    const client = await run(bin['client'] as string, ['-a', `${hostPort}/cpp-requests`], SHORT_MS);
    assert.equal(client.code, 0, explain('client failed', client));
    const inputs = ['Twas brillig, and the slithy toves', 'Did gire and gymble in the wabe.', 'All mimsy were the borogroves,', 'And the mome raths outgrabe.'];
    assert.deepEqual(client.lines, inputs.map((l) => `${l} => ${l.toUpperCase()}`), explain('client output', { ...client, stderr: `${client.stderr}\nserver: ${server.stdout()} ${server.stderr()}` }));
  } finally {
    await server.stop();
  }
});

test('C++ reconnect_client against one broker: sends and receives back 20 messages, one at a time', async () => {
  await declareQueue(hostPort, 'cpp-reconnect');
  const result = await run(bin['reconnect_client'] as string, [hostPort, 'cpp-reconnect', '20'], SHORT_MS);
  assert.equal(result.code, 0, explain('reconnect_client failed', result));
  const bodies = sequenceNumbers(result.lines.filter((l) => l.startsWith('{')));
  assert.deepEqual(bodies, oneTo(20));
  assert.deepEqual(result.lines.filter((l) => l.startsWith('Sending:')), oneTo(20).map((i) => `Sending: ${i}`));
});
