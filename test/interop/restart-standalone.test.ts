// A clean stop the qpidd way: a standalone broker SIGTERMed mid-stream, then restarted on the
// same port and data dir, with a Proton Python producer and a simple_recv.py-style consumer
// connected across it (both on Proton's default reconnect). qpidd drops client sockets on
// shutdown; a close frame with amqp:connection:forced strands Proton Python (FACTS.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { declareQueue } from './broker-tools.js';
import { assertFinishedCleanly, QUEUE, startPythonReceiver, startPythonSender, summaryOf, waitForAccepted } from './failover-support.js';
import { assertNothingLost, historyDir, ProducerProgress } from './history-check.js';
import { timeThisFile } from './suite-clock.js';

timeThisFile(import.meta.url);

test('SIGTERM, restart on the same data dir: a Proton Python producer and consumer connected across it lose nothing and finish', async () => {
  const dataDir = tempDir('qpidd-interop-restart-');
  const port = await freePort();
  let broker: BrokerProcess | null = await startQpidd({ dataDir, port });
  const dir = historyDir();
  const count = 2000;
  const url = `127.0.0.1:${port}`;
  await declareQueue(url, QUEUE, { durable: true });
  const receiver = startPythonReceiver({ urls: url, historyDir: dir, writer: 'python-receiver', expect: count, idleS: 0, timeoutS: 60 });
  const sender = startPythonSender({ urls: url, historyDir: dir, writer: 'python-sender', count, ratePerS: 500, timeoutS: 60 });
  try {
    await waitForAccepted(sender, new ProducerProgress(dir, 'python-sender'), 700, 30_000);
    const stopped = await broker.stop();
    broker = null;
    assert.equal(stopped.code, 0, `qpidd exited ${stopped.code ?? stopped.signal} on SIGTERM`);
    broker = await startQpidd({ dataDir, port });
    const [senderExit, receiverExit] = await Promise.all([sender.finish(70_000), receiver.finish(70_000)]);
    assertFinishedCleanly(sender, senderExit);
    assertFinishedCleanly(receiver, receiverExit);
    const verdict = assertNothingLost(dir, count, 'Python producer and consumer across a SIGTERM and restart');
    for (const client of [sender, receiver]) {
      const connects = (summaryOf(client)['connects'] as unknown[]).length;
      assert.ok(connects >= 2, `${client.name} opened ${connects} connection(s): it never reconnected across the restart`);
    }
    console.log(`[interop] SIGTERM and restart: ${JSON.stringify(verdict.counts)}`);
  } finally {
    await Promise.all([sender.stop(), receiver.stop()]);
    await broker?.stop();
    removeDir(dataDir);
  }
});
