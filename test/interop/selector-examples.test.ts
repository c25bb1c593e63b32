// Proton's selector examples, unmodified, against a real qpidd process (issue 12): Python
// `selected_recv.py` with `colour_send.py`, and C++ `selected_recv` with `colour_send`, built at
// test time from /usr/share/proton/examples. colour_send sends green, red, green, ... with the
// application property `colour`; selected_recv asks for "colour = 'green'" and must print only
// the green ones, leaving the red ones on the queue for someone else. (rhea's selector example
// is in rhea-examples.test.ts.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { declareQueue, queueDepth } from './broker-tools.js';
import { buildExamples } from './build-examples.js';
import { explain, PYTHON, pythonExample, requireProtonPython, run, start, startPython } from './programs.js';
import { timeThisFile } from './suite-clock.js';

timeThisFile(import.meta.url);

const SHORT_MS = 30_000;
const COUNT = 100;
let broker: BrokerProcess;
let dataDir: string;
let hostPort: string;

before(async () => {
  requireProtonPython();
  dataDir = tempDir('qpidd-interop-selectors-');
  broker = await startQpidd({ dataDir });
  hostPort = `127.0.0.1:${broker.port}`;
});

after(async () => {
  await broker?.stop();
  if (dataDir) removeDir(dataDir);
});

/** What colour_send sends: message i (1-based) is green when i is odd. */
const greens = Array.from({ length: COUNT / 2 }, (_, i) => `green ${2 * i + 1}`);

test('selected_recv.py prints only the green messages of colour_send.py; the red ones stay on the queue', async () => {
  const queue = 'python-colours';
  await declareQueue(hostPort, queue);
  // -m: selected_recv.py closes once it has that many.
  const receiver = startPython(pythonExample('selected_recv.py'), ['-a', `${hostPort}/${queue}`, '-m', String(COUNT / 2)]);
  const sent = await run(PYTHON, [pythonExample('colour_send.py'), '-a', `${hostPort}/${queue}`, '-m', String(COUNT)], SHORT_MS);
  assert.equal(sent.code, 0, explain('colour_send.py failed', sent));
  assert.deepEqual(sent.lines, ['all messages confirmed']);
  const exit = await receiver.finish(SHORT_MS);
  assert.equal(exit.code, 0, explain('selected_recv.py failed', receiver));
  assert.deepEqual(receiver.lines(), greens);
  assert.equal(await queueDepth(broker.port, queue), COUNT / 2, 'the red messages are still on the queue');
});

test('C++ selected_recv prints only the green messages of C++ colour_send', async () => {
  const bin = await buildExamples('cpp', ['selected_recv', 'colour_send']);
  const queue = 'cpp-colours';
  await declareQueue(hostPort, queue);
  // selected_recv takes the connection URL and the address as arguments, and runs until stopped.
  const receiver = start(bin['selected_recv'] as string, [`//${hostPort}`, queue]);
  try {
    const sent = await run(bin['colour_send'] as string, ['-a', `${hostPort}/${queue}`, '-m', String(COUNT)], SHORT_MS);
    assert.equal(sent.code, 0, explain('colour_send failed', sent));
    await receiver.waitForLine(() => receiver.lines().length >= COUNT / 2, SHORT_MS);
    // Anything red would have come by now: the queue holds it.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await receiver.stop();
  }
  assert.deepEqual(receiver.lines(), greens, explain('selected_recv output', receiver));
  assert.equal(await queueDepth(broker.port, queue), COUNT / 2, 'the red messages are still on the queue');
});
