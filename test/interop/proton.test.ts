// Issue 3 with a second, independent AMQP 1.0 client: Debian's Python Qpid Proton (through
// /usr/bin/python3, which has the python3-qpid-proton package; another python3 on PATH may not).
// Small scripts in this directory send or receive N messages and print JSON; this file runs them
// against a real qpidd, alone and across clients (Proton to rhea and back).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, openReceiver, openSender, receiveN, sendAll, type TestConnection } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { queueNode, uniqueName } from '../integration/support.js';
import { timeThisFile } from './suite-clock.js';

timeThisFile(import.meta.url);

const PYTHON = '/usr/bin/python3';
// The scripts are not compiled: find them in the source tree (dist/test/interop -> test/interop).
const here = dirname(fileURLToPath(import.meta.url));
const SCRIPTS = join(here, '..', '..', '..', 'test', 'interop');

interface Outcome {
  readonly state: string;
  readonly condition?: string;
  readonly description?: string;
}
interface LinkError {
  readonly condition: string | null;
  readonly description: string | null;
}
interface SendResult {
  readonly outcomes: (Outcome | string | null)[];
  readonly error: LinkError | null;
}
interface ReceivedMessage {
  readonly body: unknown;
  readonly subject: string | null;
  readonly properties: Record<string, unknown> | null;
  readonly durable: boolean;
  readonly delivery_count: number;
  readonly first_acquirer: boolean;
}
interface ReceiveResult {
  readonly received: ReceivedMessage[];
  readonly error: LinkError | null;
}

function python(script: string, args: readonly string[], timeoutMs = 30_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [join(SCRIPTS, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${script} ${args.join(' ')} exited ${code}: ${stderr}`));
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`${script} ${args.join(" ")} printed no JSON: ${stdout} ${stderr}`));
      }
    });
  });
}

let broker: BrokerProcess;
let dataDir: string;
let url: string;
let conn: TestConnection;

const protonSend = (address: string, count: number, extra: string[] = []): Promise<SendResult> => python('proton_send.py', ['--url', url, '--address', address, '--count', String(count), ...extra]) as Promise<SendResult>;
const protonReceive = (address: string, count: number, extra: string[] = []): Promise<ReceiveResult> =>
  // --timeout ends a receive that asked for more than there is; receives that get what they ask
  // for end at once, so it is long enough for a loaded machine (the attach alone can take seconds).
  python('proton_receive.py', ['--url', url, '--address', address, '--count', String(count), '--timeout', '15', ...extra]) as Promise<ReceiveResult>;

before(async () => {
  try {
    execFileSync(PYTHON, ['-c', 'import proton'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`${PYTHON} cannot import proton: install Debian's python3-qpid-proton (.ci/run does): ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
  dataDir = tempDir();
  broker = await startQpidd({ dataDir });
  url = `127.0.0.1:${broker.port}`;
  conn = await connect(broker.port);
});

after(async () => {
  await conn?.close();
  await broker?.stop();
  if (dataDir) removeDir(dataDir);
});

test('Proton sends to a queue it creates on attach and receives every message back', async () => {
  const queue = uniqueName('proton-q');
  const sent = await protonSend(queue, 50, ['--create', 'queue', '--node-properties', '{"durable": true}', '--durable']);
  assert.equal(sent.error, null);
  assert.deepEqual(new Set(sent.outcomes.map((o) => (o as Outcome).state)), new Set(['accepted']));
  const got = await protonReceive(queue, 50);
  assert.equal(got.error, null);
  assert.deepEqual(got.received.map((m) => m.body), Array.from({ length: 50 }, (_, i) => `m${i}`));
  assert.ok(got.received.every((m) => m.durable));
});

test('across clients: Proton to rhea and rhea to Proton, with subject and properties intact', async () => {
  const queue = uniqueName('cross');
  (await openSender(conn.connection, queueNode(queue))).close();
  const sent = await protonSend(queue, 5, ['--subject', 'greeting', '--properties', '{"colour": "red", "n": 7}']);
  assert.equal(sent.error, null);
  const receiver = await openReceiver(conn.connection, queue);
  const got = await receiveN(receiver, 5);
  for (const r of got) r.delivery.accept();
  assert.deepEqual(got.map((r) => r.message.body), ['m0', 'm1', 'm2', 'm3', 'm4']);
  assert.equal(got[0]?.message.subject, 'greeting');
  assert.deepEqual(got[0]?.message.application_properties, { colour: 'red', n: 7 });

  const sender = await openSender(conn.connection, queue);
  await sendAll(sender, [{ body: 'from-rhea', subject: 's', application_properties: { k: 'v' } }]);
  const back = await protonReceive(queue, 1);
  assert.equal(back.received[0]?.body, 'from-rhea');
  assert.equal(back.received[0]?.subject, 's');
  assert.deepEqual(back.received[0]?.properties, { k: 'v' });
});

test('Proton through exchanges: topic patterns, a topic filter, direct exchange/key, fanout', async () => {
  // Subscribers first (each gets a private subscription queue), then the sends.
  const receives = Promise.all([
    protonReceive('amq.topic/news.*', 2),
    protonReceive('amq.topic', 1, ['--topic-filter', 'sport.#']),
    protonReceive('amq.direct/proton-key', 1),
    protonReceive('amq.fanout', 3),
  ]);
  // Give the four Python receivers time to attach: wait until their subscriptions show.
  const { management } = await import('../integration/support.js');
  const client = await management(broker.port);
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const bindings = await client.requestAll<{ exchange: string }>('bindings');
      const on = (x: string) => bindings.filter((b) => b.exchange === x).length;
      if (on('amq.topic') >= 2 && on('amq.direct') >= 1 && on('amq.fanout') >= 1) break;
      if (Date.now() > deadline) throw new Error('Proton receivers did not attach');
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.close();
  }
  const topic = await Promise.all([
    protonSend('amq.topic', 1, ['--subject', 'news.uk', '--body-prefix', 'news-uk-']),
    protonSend('amq.topic', 1, ['--subject', 'news.uk.london', '--body-prefix', 'deep-']),
    protonSend('amq.topic/news.fr', 1, ['--body-prefix', 'news-fr-']),
    protonSend('amq.topic', 1, ['--subject', 'sport.golf.open', '--body-prefix', 'golf-']),
  ]);
  // news.uk.london matches no binding: qpidd accepts and drops it (issue 11).
  assert.deepEqual(topic.map((t) => (t.outcomes[0] as Outcome).state), ['accepted', 'accepted', 'accepted', 'accepted']);
  const direct = await protonSend('amq.direct', 1, ['--subject', 'proton-key', '--body-prefix', 'direct-']);
  assert.equal((direct.outcomes[0] as Outcome).state, 'accepted');
  const fanout = await protonSend('amq.fanout', 3, ['--body-prefix', 'fan-']);
  assert.deepEqual(fanout.outcomes.map((o) => (o as Outcome).state), ['accepted', 'accepted', 'accepted']);
  const [news, sport, keyed, fan] = await receives;
  assert.deepEqual(news.received.map((m) => m.body).sort(), ['news-fr-0', 'news-uk-0']);
  assert.deepEqual(sport.received.map((m) => m.body), ['golf-0']);
  assert.deepEqual(keyed.received.map((m) => m.body), ['direct-0']);
  assert.deepEqual(fan.received.map((m) => m.body), ['fan-0', 'fan-1', 'fan-2']);
});

test('Proton sees a released message again with its delivery count unchanged (§3.4.4), a modified{delivery-failed} one counted, and browses without taking', async () => {
  const queue = uniqueName('proton-redeliver');
  await protonSend(queue, 2, ['--create', 'queue']);
  const browsed = await protonReceive(queue, 2, ['--browse']);
  assert.deepEqual(browsed.received.map((m) => m.body), ['m0', 'm1']);
  // AMQP 1.0 §3.4.4: released is not a delivery attempt; §3.4.5: modified with delivery-failed
  // is (proton_receive.py --modify sets the flag: Proton's release(delivered=True) does not).
  const released = await protonReceive(queue, 1, ['--release']);
  assert.equal(released.received[0]?.body, 'm0');
  const afterRelease = await protonReceive(queue, 1, ['--modify']);
  assert.equal(afterRelease.received[0]?.body, 'm0');
  assert.equal(afterRelease.received[0]?.delivery_count, 0, 'released counted as a delivery attempt');
  const again = await protonReceive(queue, 2);
  assert.deepEqual(again.received.map((m) => m.body), ['m0', 'm1']);
  assert.equal(again.received[0]?.delivery_count, 1, 'modified{delivery-failed} not counted');
  assert.equal(again.received[0]?.first_acquirer, false);
  assert.equal(again.received[1]?.delivery_count, 0);
});

test('Proton gets the broker\'s errors: not-found on attach, resource-limit-exceeded on a full queue', async () => {
  const missing = await protonReceive(uniqueName('absent'), 1);
  assert.equal(missing.error?.condition, 'amqp:not-found');
  const queue = uniqueName('proton-full');
  const sent = await protonSend(queue, 4, ['--create', 'queue', '--node-properties', '{"qpid.max_count": 2}']);
  assert.deepEqual(sent.outcomes.map((o) => (o as Outcome).state), ['accepted', 'accepted', 'rejected', 'rejected']);
  assert.equal((sent.outcomes[2] as Outcome).condition, 'amqp:resource-limit-exceeded');
  const badArgument = await protonSend(uniqueName('proton-bad'), 1, ['--create', 'queue', '--node-properties', '{"qpid.max_count": "lots"}']);
  assert.equal(badArgument.error?.condition, 'amqp:invalid-field');
  assert.match(badArgument.error?.description ?? '', /qpid\.max_count/);
});

test('Proton at-most-once: pre-settled sends arrive', async () => {
  const queue = uniqueName('proton-presettled');
  (await openSender(conn.connection, queueNode(queue))).close();
  const sent = await protonSend(queue, 10, ['--presettled']);
  assert.equal(sent.error, null);
  const got = await protonReceive(queue, 10);
  assert.equal(got.received.length, 10);
});

test("the README's Python example: a BlockingConnection's sender and receiver share the queue's name", async () => {
  const result = (await python('proton_blocking.py', [url, 'readme-orders'])) as { body: string };
  assert.equal(result.body, 'order 1');
});
