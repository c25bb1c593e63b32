// The standalone durability contract under kill -9 (DESIGN.md §5): a producer process sends
// persistent messages unsettled to a durable queue and records each `accepted`; the broker is
// SIGKILLed at a seeded random moment and restarted on the same data dir; a consumer then gets
// every accepted message exactly once (messages never accepted may or may not be there, and
// may be duplicated: the producer would resend them). Ten kills per run by default, on one data dir, so
// recovery also runs on a store that has been killed before. Messages consumed in an earlier
// round must not come back in a later one (their dequeues were committed before the next kill).
//
// STANDALONE_CRASH_SEED=N replays a run; STANDALONE_CRASH_KILLS and STANDALONE_CRASH_COUNT
// change the number of kills (10; 20 or more for a longer run) and the messages a producer tries to send per round (10,000).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../../src/core/random.js';
import { connect, openReceiver, receiveN } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { queueStats } from '../integration/support.js';

const here = dirname(fileURLToPath(import.meta.url));
const PRODUCER = join(here, 'standalone-producer.js');
const KILLS = Number(process.env['STANDALONE_CRASH_KILLS'] ?? 10);
const COUNT = Number(process.env['STANDALONE_CRASH_COUNT'] ?? 10_000);
const SEED = Number(process.env['STANDALONE_CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const QUEUE = 'crash-durable';

interface ProducerRun {
  readonly accepted: Set<string>;
  readonly refused: string[];
  /** Resolves when the producer exits, with how many it sent. */
  readonly done: Promise<number>;
  /** Resolves at the first acceptance. */
  readonly firstAccepted: Promise<void>;
}

function runProducer(port: number, prefix: string): ProducerRun {
  const child = spawn(process.execPath, [PRODUCER, String(port), QUEUE, String(COUNT), prefix], { stdio: ['ignore', 'pipe', 'pipe'] });
  const accepted = new Set<string>();
  const refused: string[] = [];
  let sent = -1;
  let stderr = '';
  let buffered = '';
  let tail = '';
  let onFirst: () => void = () => {};
  const firstAccepted = new Promise<void>((resolve) => (onFirst = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    tail = (tail + chunk).slice(-200);
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const [kind, id, detail] = buffered.slice(0, newline).split(' ');
      buffered = buffered.slice(newline + 1);
      if (kind === 'A' && id) {
        accepted.add(id);
        if (accepted.size === 1) onFirst();
      } else if (kind === 'X' && id) refused.push(`${id} ${detail}`);
      else if (kind === 'END') sent = Number(id);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<number>((resolve, reject) => {
    // 'close', not 'exit': only then has every line of its stdout been read.
    child.once('close', (code) => {
      if (code !== 0) reject(new Error(`producer exited ${code}: ${stderr}`));
      else if (sent < 0) reject(new Error(`producer exited without its END line; stdout ends ${JSON.stringify(tail)}; stderr: ${stderr}`));
      else resolve(sent);
    });
  });
  return { accepted, refused, done, firstAccepted };
}

/** Consumes everything on the queue (the management count says how much), accepting it. */
async function consumeAll(port: number): Promise<Map<string, number>> {
  const depth = (await queueStats(port, QUEUE))?.count ?? 0;
  const seen = new Map<string, number>();
  const conn = await connect(port);
  try {
    const receiver = await openReceiver(conn.connection, QUEUE);
    let received = 0;
    while (received < depth) {
      const batch = await receiveN(receiver, Math.min(1000, depth - received), { timeoutMs: 20_000 });
      for (const r of batch) {
        const id = String(r.message.message_id);
        seen.set(id, (seen.get(id) ?? 0) + 1);
        r.delivery.accept();
      }
      received += batch.length;
    }
    // Nothing beyond what the count said.
    const extra = await receiveN(receiver, 1, { timeoutMs: 200, atMost: true });
    assert.equal(extra.length, 0, 'more messages than the queue depth said');
    await waitFor(async () => (await queueStats(port, QUEUE))?.count === 0, 'the consumed messages to be dequeued');
  } finally {
    await conn.close();
  }
  return seen;
}

test(`kill -9 a standalone broker ${KILLS} times under durable load: every accepted message survives exactly once (seed ${SEED})`, { timeout: 180_000 }, async (t) => {
  t.diagnostic(`seed=${SEED} (replay with STANDALONE_CRASH_SEED=${SEED}); ${KILLS} kills, up to ${COUNT} messages per round`);
  const random = seededRandom(SEED);
  const dataDir = tempDir('qpidd-crash-');
  let broker: BrokerProcess | undefined;
  let totalAccepted = 0;
  let totalUnacceptedSeen = 0;
  try {
    broker = await startQpidd({ dataDir });
    const earlier = new Set<string>();
    for (let round = 0; round < KILLS; round++) {
      const prefix = `r${round}`;
      const producer = runProducer(broker.port, prefix);
      const killAfterMs = random.int(0, 600);
      await Promise.race([producer.firstAccepted, producer.done]);
      await new Promise((r) => setTimeout(r, killAfterMs));
      broker.kill('SIGKILL');
      assert.equal((await broker.exited).signal, 'SIGKILL');
      const sent = await producer.done;
      assert.deepEqual(producer.refused, [], `round ${round}: the broker refused sends`);

      broker = await startQpidd({ dataDir });
      const seen = await consumeAll(broker.port);
      const lost = [...producer.accepted].filter((id) => !seen.has(id));
      const duplicated = [...producer.accepted].filter((id) => (seen.get(id) ?? 0) > 1);
      const resurrected = [...seen.keys()].filter((id) => earlier.has(id));
      const foreign = [...seen.keys()].filter((id) => !id.startsWith(`${prefix}-`) && !earlier.has(id));
      assert.deepEqual(lost.slice(0, 10), [], `round ${round} (seed ${SEED}): ${lost.length} accepted messages lost`);
      assert.deepEqual(duplicated.slice(0, 10), [], `round ${round} (seed ${SEED}): accepted messages delivered twice`);
      assert.deepEqual(resurrected.slice(0, 10), [], `round ${round} (seed ${SEED}): messages consumed in an earlier round came back`);
      assert.deepEqual(foreign, [], `round ${round}: messages nobody sent`);
      const unaccepted = [...seen.keys()].filter((id) => !producer.accepted.has(id)).length;
      totalAccepted += producer.accepted.size;
      totalUnacceptedSeen += unaccepted;
      for (const id of seen.keys()) earlier.add(id);
      t.diagnostic(`round ${round}: kill after ${killAfterMs} ms; sent ${sent}, accepted ${producer.accepted.size}, recovered ${seen.size} (${unaccepted} never acknowledged)`);
    }
    t.diagnostic(`total: ${totalAccepted} accepted messages checked over ${KILLS} kills; ${totalUnacceptedSeen} unacknowledged ones also recovered`);
    assert.ok(totalAccepted > 0, 'the rounds accepted something');
  } finally {
    await broker?.stop();
    removeDir(dataDir);
  }
});
