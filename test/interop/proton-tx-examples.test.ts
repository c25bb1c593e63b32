// Proton Python's transaction examples (AMQP 1.0 §4 local transactions), unmodified, against a
// real qpidd process (issue 12): tx_send.py and tx_recv.py move messages in transactions of 10;
// server_tx.py answers client.py's requests, each response sent and each request accepted in
// one transaction; tx_recv_interactive.py is driven through its stdin (fetch, abort, commit):
// an aborted transaction gives its message back, a committed one takes it. Only localhost:5672
// is replaced in copies of the examples that hard-code it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { declareQueue, queueDepth } from './broker-tools.js';
import { explain, oneTo, PYTHON, pythonExample, pythonExampleAt, requireProtonPython, run, sequenceNumbers, startPython } from './programs.js';
import { timeThisFile } from './suite-clock.js';

timeThisFile(import.meta.url);

const SHORT_MS = 30_000;
let broker: BrokerProcess;
let dataDir: string;
let hostPort: string;

before(async () => {
  requireProtonPython();
  dataDir = tempDir('qpidd-interop-tx-');
  broker = await startQpidd({ dataDir });
  hostPort = `127.0.0.1:${broker.port}`;
});

after(async () => {
  await broker?.stop();
  if (dataDir) removeDir(dataDir);
});

test('tx_send.py commits 30 messages in transactions of 10 to a durable queue; tx_recv.py takes them all in transactions of 10', async () => {
  const queue = 'tx-examples';
  await declareQueue(hostPort, queue, { durable: true });
  const sent = await run(PYTHON, [pythonExample('tx_send.py'), '-a', `${hostPort}/${queue}`, '-m', '30', '-b', '10'], SHORT_MS);
  assert.equal(sent.code, 0, explain('tx_send.py failed', sent));
  assert.deepEqual(sent.lines, ['all messages committed']);
  assert.equal(await queueDepth(broker.port, queue), 30, 'every committed message is on the queue');
  const received = await run(PYTHON, [pythonExample('tx_recv.py'), '-a', `${hostPort}/${queue}`, '-m', '30', '-b', '10'], SHORT_MS);
  assert.equal(received.code, 0, explain('tx_recv.py failed', received));
  assert.deepEqual(sequenceNumbers(received.lines), oneTo(30));
  assert.equal(await queueDepth(broker.port, queue), 0, 'the committed dequeues took every message');
});

test('server_tx.py answers client.py: each response is sent and each request accepted in one transaction', async () => {
  await declareQueue(hostPort, 'examples');
  const server = startPython(pythonExampleAt('server_tx.py', hostPort), []);
  try {
    const client = await run(PYTHON, [pythonExample('client.py'), '-a', `${hostPort}/examples`], SHORT_MS);
    assert.equal(client.code, 0, explain('client.py failed', { ...client, stderr: `${client.stderr}\nserver_tx: ${server.stdout()} ${server.stderr()}` }));
    const inputs = ['Twas brillig, and the slithy toves', 'Did gire and gymble in the wabe.', 'All mimsy were the borogroves,', 'And the mome raths outgrabe.'];
    assert.deepEqual(client.lines, inputs.map((l) => `${l} => ${l.toUpperCase()}`));
    await server.waitForLine(() => server.lines().filter((l) => l === 'Request processed successfully').length === 4, SHORT_MS);
    assert.ok(!server.lines().includes('Request processing aborted'), explain('a transaction aborted', server));
    assert.equal(await queueDepth(broker.port, 'examples'), 0, 'every request was taken by a committed transaction');
  } finally {
    await server.stop();
  }
});

test('tx_recv_interactive.py driven through stdin: abort gives the message back (redelivered), commit takes it', async () => {
  await declareQueue(hostPort, 'examples');
  const sent = await run(PYTHON, [pythonExample('simple_send.py'), '-a', `${hostPort}/examples`, '-m', '3'], SHORT_MS);
  assert.equal(sent.code, 0, explain('simple_send.py failed', sent));
  const rx = startPython(pythonExampleAt('tx_recv_interactive.py', hostPort), [], { stdin: true });
  const count = (line: string): number => rx.lines().filter((l) => l === line).length;
  const step = async (input: string, done: () => boolean, what: string): Promise<void> => {
    rx.write(`${input}\n`);
    await rx.waitForLine(() => done(), SHORT_MS).catch((err: unknown) => {
      throw new Error(`after "${input}", expected ${what}: ${(err as Error).message}`);
    });
  };
  try {
    await rx.waitForLine(() => count('transaction declared') === 1, SHORT_MS);
    await step('fetch', () => count("{'sequence': 1}") === 1, 'message 1');
    await step('abort', () => count('transaction aborted') === 1 && count('transaction declared') === 2, 'the abort and a new transaction');
    assert.equal(await queueDepth(broker.port, 'examples'), 3, 'the aborted transaction took nothing');
    await step('fetch', () => count("{'sequence': 1}") === 2, 'message 1 again (given back by the abort)');
    await step('commit', () => count('transaction committed') === 1 && count('transaction declared') === 3, 'the commit and a new transaction');
    await step('fetch', () => count("{'sequence': 2}") === 1, 'message 2');
    await step('commit', () => count('transaction committed') === 2 && count('transaction declared') === 4, 'the second commit');
    assert.equal(await queueDepth(broker.port, 'examples'), 1, 'two committed dequeues: message 3 is left');
    rx.write('quit\n');
    rx.closeInput();
    const exit = await rx.finish(SHORT_MS);
    assert.equal(exit.code, 0, explain('tx_recv_interactive.py failed', rx));
    assert.deepEqual(sequenceNumbers(rx.lines()), [1, 1, 2]);
  } finally {
    await rx.stop();
  }
  const left = await run(PYTHON, [pythonExample('simple_recv.py'), '-a', `${hostPort}/examples`, '-m', '1'], SHORT_MS);
  assert.deepEqual(sequenceNumbers(left.lines), [3]);
});
