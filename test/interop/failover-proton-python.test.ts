// Proton Python producers fail over across a 3-broker HA cluster the way they do with qpidd: the
// primary is SIGKILLed mid-stream, the test (the cluster manager) promotes a backup at once, and
// every accepted message is received afterwards (duplicates counted, never loss), no client hung
// or crashed. Also prints issue 11's target: promotion to the producer's next acceptance, median
// over 5 kills.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { Cluster } from '../helpers/cluster.js';
import { assertNothingLost, historyDir, ProducerProgress } from './history-check.js';
import { assertFinishedCleanly, median, promotedAtMs, promoteReadyBackup, QUEUE, startCluster, startPythonReceiver, startPythonSender, stopFileIn, summaryOf, urls, waitForAccepted } from './failover-support.js';
import type { Program } from './programs.js';
import { timeThisFile } from './suite-clock.js';

timeThisFile(import.meta.url);

/** The target is under 1 s. The bound asserted leaves room for a loaded 2-core machine
 * and for Proton's reconnect backoff (each pass over the URLs waits twice as long as the last,
 * from 0.1 s: after a second or two of refusals the next try at the new primary can be 1-2 s
 * away). The figure is printed with its parts so that a regression shows where it is. */
const FAILOVER_MS_BOUND = 10_000;
const FAILOVER_MS_TARGET = 1_000;

async function withCluster(primary: number, body: (cluster: Cluster) => Promise<void>): Promise<void> {
  const cluster = await startCluster(primary);
  try {
    await body(cluster);
  } finally {
    await cluster.stop();
  }
}

/** After the producer is done: once the new primary is active (while it recovers it stalls its
 * clients), a Proton consumer over every broker's URL takes everything off it; then the checker
 * reads both histories. */
async function receiveAllAndCheck(cluster: Cluster, primary: number, dir: string, sender: Program, senderExit: { code: number | null; signal: NodeJS.Signals | null }, expected: number, context: string): Promise<void> {
  assertFinishedCleanly(sender, senderExit);
  await cluster.waitForState(primary, 'active', 30_000);
  const depths = await queueDepths(cluster);
  const receiver = startPythonReceiver({ urls: urls(cluster, [0, 1, 2]), historyDir: dir, writer: 'python-receiver', expect: expected, idleS: 10, timeoutS: 60 });
  const exit = await receiver.finish(70_000);
  assertFinishedCleanly(receiver, exit);
  // If something is missing, say where it was before the receive and what the receiver saw.
  const verdict = assertNothingLost(dir, expected, `${context} [b${primary} primary; queue depths before the receive: ${JSON.stringify(depths)}; receiver: ${receiver.lines().at(-1)?.slice(0, 400)}]`);
  const connects = (summaryOf(sender)['connects'] as unknown[]).length;
  assert.ok(connects >= 2, `${context}: the producer opened ${connects} connection(s): it never failed over (did it finish before the kill?)`);
  console.log(`[interop] ${context}: ${JSON.stringify(verdict.counts)}`);
}

/** Each running broker's depth of the failover queue, from its own store. */
async function queueDepths(cluster: Cluster): Promise<Record<string, number | string>> {
  const depths: Record<string, number | string> = {};
  for (let i = 0; i < cluster.brokers.length; i++) {
    if (!cluster.brokers[i]) continue;
    depths[`b${i}`] = await cluster.summary(i).then((s) => s.queues.find((q) => q.name === QUEUE)?.count ?? 'no queue', (err: Error) => err.message.slice(0, 80));
  }
  return depths;
}

test('Proton Python Container.connect(urls=[primary, backup1, backup2]) sends 5000 durable messages; primary killed mid-stream, backup promoted at once', async () => {
  await withCluster(0, async (cluster) => {
    const dir = historyDir();
    const count = 5000;
    const sender = startPythonSender({ urls: urls(cluster, [0, 1, 2]), historyDir: dir, writer: 'python-sender', count, timeoutS: 90 });
    try {
      await waitForAccepted(sender, new ProducerProgress(dir, 'python-sender'), 1500, 60_000);
      await cluster.kill(0);
      const promoted = await promoteReadyBackup(cluster, [1, 2]);
      const exit = await sender.finish(100_000);
      await receiveAllAndCheck(cluster, promoted, dir, sender, exit, count, 'Python urls=[primary, b1, b2], 5000 durable, one kill');
    } finally {
      await sender.stop();
    }
  });
});

test('the backups listed first in the URL list: the client passes them to reach the primary, and again after a failover', async () => {
  await withCluster(0, async (cluster) => {
    const dir = historyDir();
    const count = 1000;
    // b1 and b2 are backups when the client starts: each must turn it away (qpidd drops the TCP
    // connection) so that it goes on to b0. After b0 dies, b2 is promoted: b1, first in the list
    // and still a backup, must turn it away again.
    // Paced, so that the kill lands mid-stream however fast the machine is.
    const sender = startPythonSender({ urls: urls(cluster, [1, 2, 0]), historyDir: dir, writer: 'python-sender', count, ratePerS: 250, timeoutS: 90 });
    try {
      await waitForAccepted(sender, new ProducerProgress(dir, 'python-sender'), 300, 60_000);
      await cluster.kill(0);
      const promoted = await promoteReadyBackup(cluster, [2, 1]);
      const exit = await sender.finish(100_000);
      await receiveAllAndCheck(cluster, promoted, dir, sender, exit, count, 'Python urls=[backup, backup, primary], one kill');
    } finally {
      await sender.stop();
    }
  });
});

test('failover of a Proton Python sender: promotion to its next accepted message, median over 5 kills (target under 1 s)', async () => {
  await withCluster(0, async (cluster) => {
    const dir = historyDir();
    const stopFile = stopFileIn(dir);
    const sender = startPythonSender({ urls: urls(cluster, [0, 1, 2]), historyDir: dir, writer: 'python-sender', count: 0, ratePerS: 100, stopFile, timeoutS: 150 });
    const progress = new ProducerProgress(dir, 'python-sender');
    let senderExited = false;
    void sender.exited.then(() => (senderExited = true));
    const failovers: { fromPromotionMs: number; fromKillMs: number; promoteToolMs: number; recoveringMs: number; activeToAcceptMs: number }[] = [];
    try {
      let primary = 0;
      for (let kill = 0; kill < 5; kill++) {
        const others = [(primary + 1) % 3, (primary + 2) % 3];
        // The producer is flowing on the current primary, and a broker to promote is ready.
        await waitForAccepted(sender, progress, progress.accepted + 50, 30_000);
        await cluster.waitForState(others[0] as number, 'ready');
        const killedAtMs = Date.now();
        await cluster.kill(primary);
        const promoteIssuedMs = Date.now();
        const next = await promoteReadyBackup(cluster, others);
        const promotedMs = await promotedAtMs(cluster.broker(next), killedAtMs);
        const activeLine = await cluster.broker(next).waitForLog((l) => l.msg === 'HA state changed' && l['to'] === 'active' && Date.parse(String(l['time'])) >= promotedMs, 30_000);
        const activeMs = Date.parse(String(activeLine['time']));
        const deadline = Date.now() + 30_000;
        let acceptedMs: number | undefined;
        while ((acceptedMs = progress.firstAcceptAfterDisconnect(killedAtMs)) === undefined) {
          if (senderExited) throw new Error(`kill ${kill + 1}: the sender exited before its next acceptance: ${sender.stdout().slice(-800)}; stderr: ${sender.stderr().slice(0, 2500)}`);
          if (Date.now() > deadline) throw new Error(`kill ${kill + 1}: no acceptance within 30 s of promoting b${next}; sender stderr: ${sender.stderr().slice(-1500)}`);
          await new Promise((r) => setTimeout(r, 10));
        }
        // Kill to promotion is the cluster manager's (the qpid-ha tool starting); promotion to
        // active is the broker's recovery; active to the next acceptance is the client's.
        failovers.push({ fromPromotionMs: acceptedMs - promotedMs, fromKillMs: acceptedMs - killedAtMs, promoteToolMs: promotedMs - promoteIssuedMs, recoveringMs: activeMs - promotedMs, activeToAcceptMs: acceptedMs - activeMs });
        // The killed broker comes back as a backup of the new primary, for the next round.
        await cluster.startBroker(primary);
        await cluster.waitForState(next, 'active');
        primary = next;
      }
      writeFileSync(stopFile, '');
      const exit = await sender.finish(60_000);
      const sent = Number((JSON.parse(sender.lines().at(-1) ?? '{}') as { sent?: number }).sent ?? 0);
      await receiveAllAndCheck(cluster, primary, dir, sender, exit, sent, 'Python sender across 5 kills at 100 msg/s');
    } finally {
      await sender.stop();
    }
    const fromPromotion = median(failovers.map((f) => f.fromPromotionMs));
    const part = (k: keyof (typeof failovers)[number]): number => median(failovers.map((f) => f[k]));
    console.log(`[interop] Proton Python failover, promotion to next accepted message: median ${fromPromotion} ms over ${failovers.length} kills (target < ${FAILOVER_MS_TARGET} ms); medians: qpid-ha promote ${part('promoteToolMs')} ms, recovering ${part('recoveringMs')} ms, active to accepted ${part('activeToAcceptMs')} ms; each: ${JSON.stringify(failovers)}`);
    assert.equal(failovers.length, 5);
    assert.ok(fromPromotion < FAILOVER_MS_BOUND, `median failover ${fromPromotion} ms from promotion to the next acceptance (bound ${FAILOVER_MS_BOUND} ms, target ${FAILOVER_MS_TARGET} ms)`);
  });
});
