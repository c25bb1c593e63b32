// Producer flow control (issue 14), against a real qpidd with rhea producers and consumers: a
// queue with qpid.max_count=1000 stops its producers at 800 (--default-flow-stop-threshold 80)
// without refusing or losing a message, and gives them credit again once a consumer drains it
// below 700; a producer that also consumes from the queue on one session never deadlocks; a
// producer to an exchange stops when its messages land in a stopped queue; the state shows in
// the queue listing, /metrics and the log, once per transition; contradictory thresholds are
// refused, naming them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventContext, Message, Receiver, Sender } from 'rhea';
import { connect, openReceiver, openSender, sendAll, type Outcome, type TestConnection } from '../helpers/amqp.js';
import { freePort, removeDir, startQpidd, tempDir, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { exchangeNode, management, queueNode, queueStats, runQpidd, uniqueName } from './support.js';

// Each producer holds at most this much credit: four of them fit the 200 between stop and limit.
const WINDOW = 50;

let broker: BrokerProcess;
let dataDir: string;
let httpPort: number;
const connections: TestConnection[] = [];

before(async () => {
  dataDir = tempDir();
  httpPort = await freePort();
  broker = await startQpidd({ dataDir, args: ['--max-unsettled', String(WINDOW), '--http-port', String(httpPort)] });
});

after(async () => {
  for (const c of connections) await c.close().catch(() => {});
  await broker?.stop();
  removeDir(dataDir);
});

async function connection(): Promise<TestConnection> {
  const c = await connect(broker.port);
  connections.push(c);
  return c;
}

const numbered = (prefix: string, n: number): Message[] => Array.from({ length: n }, (_, i) => ({ body: `${prefix}-${i}`, durable: true }));

interface QueueRow {
  name: string;
  count: number;
  flowStopped: boolean;
  flowStopCount: number | null;
  flowResumeCount: number | null;
}

async function queueRow(name: string): Promise<QueueRow> {
  const client = await management(broker.port);
  try {
    const row = (await client.requestAll<QueueRow>('queues')).find((q) => q.name === name);
    assert.ok(row, `queue ${name} is listed`);
    return row;
  } finally {
    client.close();
  }
}

/** The depth once it has not changed for `quietMs`. */
async function settledDepth(name: string, quietMs = 600): Promise<number> {
  let last = -1;
  let since = Date.now();
  for (;;) {
    const count = (await queueStats(broker.port, name))?.count ?? 0;
    if (count !== last) {
      last = count;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return count;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function metric(name: string, queue: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{queue="${queue}",`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

const flowLogs = (queue: string, msg: string): number => broker.logs.filter((l) => l['queue'] === queue && l.msg === msg).length;

/** Consumes `n` messages, accepting each as it arrives (a consumer too holds at most
 * --max-unsettled unsettled deliveries), and returns their bodies. */
function take(receiver: Receiver, n: number, timeoutMs = 30_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const bodies: string[] = [];
    const timer = setTimeout(() => {
      receiver.removeListener('message', onMessage);
      reject(new Error(`received ${bodies.length} of ${n} messages in ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (ctx: EventContext): void => {
      if (bodies.length >= n) return;
      ctx.delivery?.accept();
      bodies.push(String(ctx.message?.body));
      if (bodies.length === n) {
        clearTimeout(timer);
        receiver.removeListener('message', onMessage);
        resolve(bodies);
      }
    };
    receiver.on('message', onMessage);
    receiver.add_credit(n);
  });
}

function allAccepted(outcomes: readonly Outcome[], what: string): void {
  const refused = outcomes.filter((o) => o.state !== 'accepted');
  assert.equal(refused.length, 0, `${what}: ${refused.length} not accepted, first: ${JSON.stringify(refused[0])}`);
}

test('a queue at its stop threshold stops its producers without refusing a message, and resumes them below the resume threshold', async () => {
  const name = uniqueName('flow');
  const consumerConn = await connection();
  const senders: Sender[] = [];
  senders.push(await openSender((await connection()).connection, queueNode(name, { 'qpid.max_count': 1000 })));
  for (let i = 1; i < 4; i++) senders.push(await openSender((await connection()).connection, name));
  // A consumer that takes nothing: the queue fills.
  const receiver = await openReceiver(consumerConn.connection, name);
  const row = await queueRow(name);
  assert.equal(row.flowStopCount, 800);
  assert.equal(row.flowResumeCount, 700);

  const sends = senders.map((s, i) => sendAll(s, numbered(`p${i}`, 300), 120_000));
  const stoppedAt = await settledDepth(name);
  assert.ok(stoppedAt >= 800 && stoppedAt <= 1000, `the queue stopped growing at ${stoppedAt}: between its stop threshold (800) and its limit (1000)`);
  assert.equal((await queueRow(name)).flowStopped, true);
  assert.equal(await metric('qpidd_queue_flow_stopped', name), 1);
  assert.equal(flowLogs(name, 'queue flow stopped: its producers get no credit'), 1, 'the stop is logged once');

  // Drained to 700 the queue is still stopped; below it, the producers go on.
  const taken = await take(receiver, stoppedAt - 700);
  assert.equal(await settledDepth(name, 400), 700, 'no producer was given credit at the resume threshold itself');
  assert.equal((await queueRow(name)).flowStopped, true);
  taken.push(...(await take(receiver, 1)));
  await waitFor(async () => ((await queueStats(broker.port, name))?.count ?? 0) > 699 || null, 'the producers to resume below 700');

  // The consumer takes the rest: every message arrives, none was refused.
  const rest = await take(receiver, 1200 - taken.length);
  const outcomes = await Promise.all(sends);
  outcomes.forEach((o, i) => allAccepted(o, `producer ${i}`));
  const all = [...taken, ...rest];
  assert.equal(new Set(all).size, 1200, 'every message once');
  assert.equal((await queueRow(name)).flowStopped, false);
  assert.equal(await metric('qpidd_queue_flow_stopped', name), 0);
  assert.ok(flowLogs(name, 'queue flow resumed') >= 1, 'the resume is logged');
  assert.equal(flowLogs(name, 'queue flow resumed'), flowLogs(name, 'queue flow stopped: its producers get no credit'), 'one line per transition');
});

test('a client producing to and consuming from the same queue on one session does not deadlock', async () => {
  const name = uniqueName('flow-loop');
  const conn = await connection();
  const sender = await openSender(conn.connection, queueNode(name, { 'qpid.max_count': 400 }));
  // rhea opens both links on the connection's one default session.
  const receiver = await openReceiver(conn.connection, name, { credit_window: 10, autoaccept: true });
  const bodies = new Set<string>();
  receiver.on('message', (ctx) => bodies.add(String(ctx.message?.body)));
  allAccepted(await sendAll(sender, numbered('loop', 3000), 120_000), 'the looping client');
  await waitFor(() => bodies.size === 3000 || null, 'every message back', 30_000);
});

test('a producer to an exchange stops once its messages land in a stopped queue', async () => {
  const exchange = uniqueName('flow-x');
  const name = uniqueName('flow-xq');
  const conn = await connection();
  (await openSender(conn.connection, queueNode(name, { 'qpid.max_count': 1000 }))).close();
  const sender = await openSender(conn.connection, exchangeNode(exchange, 'fanout'));
  const client = await management(broker.port);
  try {
    await client.request('bind', { exchange, queue: name, key: '', arguments: {} });
  } finally {
    client.close();
  }
  const receiver = await openReceiver((await connection()).connection, name);
  const sending = sendAll(sender, numbered('x', 1200), 120_000);
  const stoppedAt = await settledDepth(name);
  assert.ok(stoppedAt >= 800 && stoppedAt <= 1000, `the queue stopped growing at ${stoppedAt}`);
  assert.equal((await queueRow(name)).flowStopped, true);
  const got = await take(receiver, 1200);
  allAccepted(await sending, 'the exchange producer');
  assert.equal(new Set(got).size, 1200);
});

test('contradictory flow thresholds are refused, naming them', async () => {
  const conn = await connection();
  await assert.rejects(openSender(conn.connection, queueNode(uniqueName('flow-bad'), { 'qpid.flow_stop_count': 800, 'qpid.flow_resume_count': 900 })), (err: { condition?: string; description?: string }) => {
    assert.equal(err.condition, 'amqp:invalid-field');
    assert.match(err.description ?? '', /qpid\.flow_resume_count=900 is above qpid\.flow_stop_count=800/);
    return true;
  });
  await assert.rejects(openSender(conn.connection, queueNode(uniqueName('flow-bad'), { 'qpid.max_count': 100, 'qpid.flow_stop_count': 200 })), /qpid\.flow_stop_count=200 is above the queue's limit 100/);
  const d = tempDir();
  try {
    const result = await runQpidd(['--data-dir', d, '--default-flow-resume-threshold', '90']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /default-flow-resume-threshold 90 is above default-flow-stop-threshold 80/);
    const over = await runQpidd(['--data-dir', d, '--default-flow-stop-threshold', '101']);
    assert.equal(over.code, 2);
    assert.match(over.stderr, /default-flow-stop-threshold/);
  } finally {
    removeDir(d);
  }
});

test('explicit qpid.flow_stop_count and qpid.flow_resume_count apply without a limit', async () => {
  const name = uniqueName('flow-explicit');
  const conn = await connection();
  const sender = await openSender(conn.connection, queueNode(name, { 'qpid.flow_stop_count': 100, 'qpid.flow_resume_count': 50 }));
  const receiver = await openReceiver((await connection()).connection, name);
  const sending = sendAll(sender, numbered('e', 400), 60_000);
  const stoppedAt = await settledDepth(name);
  assert.ok(stoppedAt >= 100 && stoppedAt <= 100 + WINDOW, `stopped at ${stoppedAt}`);
  const got = await take(receiver, 400);
  allAccepted(await sending, 'the producer');
  assert.equal(new Set(got).size, 400);
});
