// Debian's Proton Python examples, unmodified (only host:port passed; a copy with only
// `localhost:5672` replaced where it is hard-coded), against a real qpidd process, with the
// output Proton's own test_examples.py expects of them against a broker.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { removeDir, startQpidd, tempDir, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { management } from '../integration/support.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { declareQueue, queueDepth } from './broker-tools.js';
import { explain, oneTo, PYTHON, pythonExample, pythonExampleAt, requireProtonPython, run, sequenceNumbers, startPython } from './programs.js';
import { timeThisFile } from './suite-clock.js';

timeThisFile(import.meta.url);

const SHORT_MS = 20_000;
let broker: BrokerProcess;
let dataDir: string;
let hostPort: string;

before(async () => {
  requireProtonPython();
  dataDir = tempDir('qpidd-interop-python-');
  broker = await startQpidd({ dataDir });
  hostPort = `127.0.0.1:${broker.port}`;
  // The examples' default node; with qpidd it is declared beforehand (qpid-config add queue).
  await declareQueue(hostPort, 'examples');
});

after(async () => {
  await broker?.stop();
  if (dataDir) removeDir(dataDir);
});

test('helloworld.py prints Hello World! (a copy with only its localhost:5672 replaced)', async () => {
  const result = await run(PYTHON, [pythonExampleAt('helloworld.py', hostPort)], SHORT_MS);
  assert.equal(result.code, 0, explain('helloworld.py failed', result));
  assert.deepEqual(result.lines, ['Hello World!']);
});

test('simple_recv.py gets all 10,000 messages of simple_send.py through a durable queue, in order, once each', async () => {
  const queue = 'simple-10k';
  await declareQueue(hostPort, queue, { durable: true });
  const count = 10_000;
  // As test_examples.py does it: the receiver first, then the sender.
  const receiver = startPython(pythonExample('simple_recv.py'), ['-a', `${hostPort}/${queue}`, '-m', String(count)]);
  const sent = await run(PYTHON, [pythonExample('simple_send.py'), '-a', `${hostPort}/${queue}`, '-m', String(count)], 90_000);
  assert.equal(sent.code, 0, explain('simple_send.py failed', sent));
  assert.deepEqual(sent.lines, ['all messages confirmed']);
  const received = await receiver.finish(60_000);
  assert.equal(received.code, 0, explain('simple_recv.py failed', receiver));
  const lines = receiver.lines();
  assert.equal(lines.length, count, `simple_recv.py printed ${lines.length} lines`);
  assert.deepEqual(lines.slice(0, 2), ["{'sequence': 1}", "{'sequence': 2}"]);
  assert.deepEqual(sequenceNumbers(lines), oneTo(count));
  assert.equal(await queueDepth(broker.port, queue), 0);
});

test('client.py and server.py: request/response over a dynamic reply-to queue and the anonymous relay', async () => {
  await declareQueue(hostPort, 'requests');
  const server = startPython(pythonExample('server.py'), ['-a', `${hostPort}/requests`]);
  try {
    await server.waitForLine(/^Listening on/, SHORT_MS);
    const client = await run(PYTHON, [pythonExample('client.py'), '-a', `${hostPort}/requests`], SHORT_MS);
    assert.equal(client.code, 0, explain('client.py failed', client));
    const inputs = ['Twas brillig, and the slithy toves', 'Did gire and gymble in the wabe.', 'All mimsy were the borogroves,', 'And the mome raths outgrabe.'];
    assert.deepEqual(client.lines, inputs.map((l) => `${l} => ${l.toUpperCase()}`), explain('client.py output', { ...client, stderr: `${client.stderr}\nserver: ${server.stdout()} ${server.stderr()}` }));
  } finally {
    // test_examples.py terminates the server the same way.
    await server.stop();
  }
});

test('queue_browser.py prints every message without consuming it: they are all still there afterwards', async () => {
  const count = 10;
  const sent = await run(PYTHON, [pythonExample('simple_send.py'), '-a', `${hostPort}/examples`, '-m', String(count)], SHORT_MS);
  assert.equal(sent.code, 0, explain('simple_send.py failed', sent));
  const browser = startPython(pythonExampleAt('queue_browser.py', hostPort), []);
  await browser.waitForLine(() => sequenceNumbers(browser.lines()).length >= count, SHORT_MS);
  // The browser closes once its receiver is drained; a broker that does not drain its credit
  // (qpidd does not either, unless asked to) leaves it browsing for new messages, as a user would
  // see, so Ctrl-C (the example catches KeyboardInterrupt) ends it.
  const exitedAlone = await Promise.race([browser.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1000))]);
  if (!exitedAlone) browser.signal('SIGINT');
  const exit = await browser.finish(SHORT_MS);
  assert.equal(exit.code, 0, explain('queue_browser.py failed', browser));
  assert.deepEqual(sequenceNumbers(browser.lines()), oneTo(count));
  assert.equal(await queueDepth(broker.port, 'examples'), count, 'the browsed messages are still on the queue');
  const drained = await run(PYTHON, [pythonExample('simple_recv.py'), '-a', `${hostPort}/examples`, '-m', String(count)], SHORT_MS);
  assert.equal(drained.code, 0, explain('simple_recv.py failed', drained));
  assert.deepEqual(sequenceNumbers(drained.lines), oneTo(count));
});

test('db_send.py and db_recv.py move 100 rows from one sqlite database to another (test_examples.py\'s test_db_send_recv)', async () => {
  await declareQueue(hostPort, 'db-rows');
  // The examples open ./src_db and ./dst_db: run them in a fresh directory of their own.
  const cwd = makeTmpDir('proton-db-examples');
  const ctrl = pythonExample('db_ctrl.py');
  for (const db of ['./src_db', './dst_db']) {
    const init = await run(PYTHON, [ctrl, 'init', db], SHORT_MS, { cwd });
    assert.equal(init.code, 0, explain('db_ctrl.py init failed', init));
  }
  const rows = Array.from({ length: 100 }, (_, i) => `Message-${i + 1}`).join('\n');
  execFileSync(PYTHON, [ctrl, 'insert', './src_db'], { cwd, input: `${rows}\n`, timeout: SHORT_MS });
  const address = `${hostPort}/db-rows`;
  const receiver = startPython(pythonExample('db_recv.py'), ['-a', address, '-m', '100'], { cwd });
  const sender = await run(PYTHON, [pythonExample('db_send.py'), '-a', address, '-m', '100'], 60_000, { cwd });
  assert.equal(sender.code, 0, explain('db_send.py failed', sender));
  const exit = await receiver.finish(60_000);
  assert.equal(exit.code, 0, explain('db_recv.py failed', receiver));
  assert.deepEqual(receiver.lines(), oneTo(100).map((i) => `inserted message ${i}`));
  const listed = await run(PYTHON, [ctrl, 'list', './dst_db'], SHORT_MS, { cwd });
  assert.deepEqual(listed.lines, oneTo(100).map((i) => `(${i}, 'Message-${i}')`));
});

test('simple_send.py to amq.topic with no binding: every message is accepted (qpidd accepts and drops them)', async () => {
  const result = await run(PYTHON, [pythonExample('simple_send.py'), '-a', `${hostPort}/amq.topic`, '-m', '10'], 10_000);
  assert.equal(result.code, 0, explain('simple_send.py to amq.topic failed', result));
  assert.deepEqual(result.lines, ['all messages confirmed']);
});

test('with --queue-patterns and --topic-patterns (qpidd\'s node policies), the examples need no qpid-config beforehand', async () => {
  const patternDir = tempDir('qpidd-interop-patterns-');
  const patterned = await startQpidd({ dataDir: patternDir, args: ['--queue-patterns', 'auto\\..*', '--topic-patterns', 'prices\\..*'] });
  try {
    const at = `127.0.0.1:${patterned.port}`;
    // A queue made on the first attach: the sender's message waits there for the receiver.
    const sent = await run(PYTHON, [pythonExample('simple_send.py'), '-a', `${at}/auto.orders`, '-m', '5'], SHORT_MS);
    assert.equal(sent.code, 0, explain('simple_send.py to auto.orders failed', sent));
    const received = await run(PYTHON, [pythonExample('simple_recv.py'), '-a', `${at}/auto.orders`, '-m', '5'], SHORT_MS);
    assert.deepEqual(sequenceNumbers(received.lines), oneTo(5));
    // A topic made on the first attach: a subscriber first, then the publisher.
    const subscriber = startPython(pythonExample('simple_recv.py'), ['-a', `${at}/prices.nyse`, '-m', '5']);
    await waitFor(async () => {
      const client = await management(patterned.port);
      try {
        return (await client.requestAll<{ exchange: string }>('bindings')).some((b) => b.exchange === 'prices.nyse');
      } finally {
        client.close();
      }
    }, `a subscription on prices.nyse (${subscriber.stderr().slice(-300)})`, SHORT_MS, 50);
    const published = await run(PYTHON, [pythonExample('simple_send.py'), '-a', `${at}/prices.nyse`, '-m', '5'], SHORT_MS);
    assert.equal(published.code, 0, explain('simple_send.py to prices.nyse failed', published));
    const exit = await subscriber.finish(SHORT_MS);
    assert.equal(exit.code, 0, explain('simple_recv.py on prices.nyse failed', subscriber));
    assert.deepEqual(sequenceNumbers(subscriber.lines()), oneTo(5));
  } finally {
    await patterned.stop();
    removeDir(patternDir);
  }
});
