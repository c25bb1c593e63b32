// Proton C++'s reconnect_client (unmodified, its failover URLs as arguments) and a rhea client on
// rhea's documented reconnect options fail over across a 3-broker HA cluster: the primary is
// SIGKILLed mid-stream, a backup promoted at once by the test, and nothing sent is lost
// (duplicates counted), no client hung or crashed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Cluster } from '../helpers/cluster.js';
import { readHistory } from '../crash/harness/history.js';
import { buildExample } from './build-examples.js';
import { assertFinishedCleanly, promoteReadyBackup, QUEUE, startCluster, startPythonReceiver, urls } from './failover-support.js';
import { assertNothingLost, historyDir, ProducerProgress } from './history-check.js';
import { explain, INTEROP_DIST, sequenceNumbers, start } from './programs.js';
import { timeThisFile } from './suite-clock.js';

timeThisFile(import.meta.url);

async function withCluster(body: (cluster: Cluster) => Promise<void>): Promise<void> {
  const cluster = await startCluster(0);
  try {
    await body(cluster);
  } finally {
    await cluster.stop();
  }
}

test('Proton C++ reconnect_client with the backups as failover URLs: primary killed mid-stream, a ready backup promoted, every message sent is received', async () => {
  const binary = await buildExample('cpp', 'reconnect_client');
  await withCluster(async (cluster) => {
    const count = 150;
    const hostPort = (i: number): string => `127.0.0.1:${cluster.ports[i]}`;
    // reconnect_client CONNECTION-URL AMQP-ADDRESS MESSAGE-COUNT FAILOVER-URL...: it sends one
    // message, waits to receive it back, sends the next; on reconnect it sends again from the
    // last one received.
    const client = start(binary, [hostPort(0), QUEUE, String(count), hostPort(1), hostPort(2)]);
    try {
      await client.waitForLine(() => sequenceNumbers(client.lines().filter((l) => l.startsWith('{'))).length >= 50, 30_000);
      await cluster.kill(0);
      const promoted = await promoteReadyBackup(cluster, [1, 2]);
      const exit = await client.finish(60_000);
      assert.equal(exit.code, 0, explain('reconnect_client failed', client));
      await cluster.waitForState(promoted, 'active', 30_000);
      // It prints what it sends ("Sending: N") and each body it receives ({"sequence"=N}).
      // Its duplicate check (`id < received`) lets a duplicate of the last message through, so
      // it may stop one short: what it left on the queue is read back before judging.
      const sent = new Set(client.lines().filter((l) => l.startsWith('Sending: ')).map((l) => Number(l.slice('Sending: '.length))));
      const printed = sequenceNumbers(client.lines().filter((l) => l.startsWith('{')));
      const dir = historyDir();
      const leftover = startPythonReceiver({ urls: urls(cluster, [1, 2]), historyDir: dir, writer: 'leftover', expect: 0, idleS: 3, timeoutS: 30 });
      const leftoverExit = await leftover.finish(40_000);
      assertFinishedCleanly(leftover, leftoverExit);
      const drained = readHistory(dir).filter((e) => e.kind === 'receive').map((e) => Number((e as { sn: unknown }).sn));
      const got = new Set([...printed, ...drained]);
      const missing = [...sent].filter((sn) => !got.has(sn));
      const reconnects = client.lines().filter((l) => l.startsWith('simple_recv listening on')).length - 1;
      console.log(`[interop] C++ reconnect_client: sent ${sent.size} distinct, printed ${printed.length} (${printed.length - new Set(printed).size} duplicates), ${drained.length} left on the queue, ${reconnects} reconnect(s)`);
      assert.deepEqual(missing, [], `sent and never received: ${missing.slice(0, 20).join(',')}`);
      assert.equal(sent.size, count);
      assert.ok(reconnects >= 1, explain('reconnect_client never reconnected', client));
    } finally {
      await client.stop();
    }
  });
});

test('rhea with connection_details cycling over the brokers: primary killed mid-stream, a ready backup promoted, every accepted message received', async () => {
  await withCluster(async (cluster) => {
    const dir = historyDir();
    const count = 2000;
    const client = start(process.execPath, [join(INTEROP_DIST, 'rhea-failover-client.js'), JSON.stringify({ ports: cluster.ports, queue: QUEUE, count, historyDir: dir, writer: 'rhea-client' })], { name: 'rhea-failover-client' });
    try {
      const progress = new ProducerProgress(dir, 'rhea-client');
      const deadline = Date.now() + 30_000;
      while (progress.accepted < 600) {
        if (Date.now() > deadline) throw new Error(explain(`rhea client: ${progress.accepted} accepted after 30 s`, client));
        await new Promise((r) => setTimeout(r, 10));
      }
      await cluster.kill(0);
      await promoteReadyBackup(cluster, [2, 1]);
      const exit = await client.finish(60_000);
      assert.equal(exit.code, 0, explain('the rhea client failed', client));
      const verdict = assertNothingLost(dir, count, 'rhea connection_details over 3 brokers, one kill');
      console.log(`[interop] rhea connection_details failover: ${JSON.stringify(verdict.counts)}`);
    } finally {
      await client.stop();
    }
  });
});
