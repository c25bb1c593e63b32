// Scenario `queue-types`: what each queue type (issue 12, src/broker/strategies/) costs beside a
// plain queue, in the same run. Each row fills a queue with 1 KiB transient messages and then
// one consumer drains it: a plain FIFO queue (the baseline); a priority queue of 10 levels with
// the priorities 0-9 in turn; a last-value queue where the messages cycle over depth/10 keys (so
// 9 in 10 enqueues replace a queued message, and only the last value of each key is drained);
// and a grouped queue with 100 groups in turn (one consumer, which so owns every group it holds
// a message of: the worst case of its next(), which compares the heads of the groups it owns).
// Reported: fill and drain messages/s and the broker's CPU (from /proc) per message, and each
// type's CPU as a ratio of the FIFO row's.
import rhea, { type Connection, type EventContext } from 'rhea';
import { describeMachine } from '../lib/machine.js';
import { processCpuS } from '../lib/proc-cpu.js';
import type { ResultRow, ScenarioResult, TableColumn } from '../lib/results.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { startBroker, type BenchServer } from '../lib/servers.js';
import { round } from '../lib/stats.js';

export const name = 'queue-types';
export const description = 'Fill then drain a plain, a 10-level priority, a last-value (depth/10 keys) and a grouped (100 groups) queue of 1 KiB messages: msgs/s and broker CPU per message, each type against the plain queue (full 50,000 per row, tiny 2,000)';

const PLANS = { tiny: { depth: 2_000, warmUp: 200 }, full: { depth: 50_000, warmUp: 5000 } } as const;
const BODY = rhea.message.data_section(Buffer.alloc(1024, 0x78));
const CREDIT = 1000;
const SEND_WINDOW = 1000;
const GROUPS = 100;

interface Plan {
  readonly type: string;
  readonly properties: Record<string, unknown>;
  /** The encoded message number i. */
  readonly message: (i: number, depth: number) => Buffer;
  /** How many remain to drain after a fill of `depth`. */
  readonly remaining: (depth: number) => number;
}

const plain = (): Buffer => rhea.message.encode({ body: BODY }) as Buffer;
const PLANS_BY_TYPE: readonly Plan[] = [
  { type: 'fifo', properties: {}, message: plain, remaining: (d) => d },
  { type: 'priority, 10 levels', properties: { 'qpid.priorities': 10 }, message: (i) => rhea.message.encode({ priority: i % 10, body: BODY }) as Buffer, remaining: (d) => d },
  { type: 'last-value, depth/10 keys', properties: { 'qpid.last_value_queue_key': 'key' }, message: (i, d) => rhea.message.encode({ application_properties: { key: `k${i % (d / 10)}` }, body: BODY }) as Buffer, remaining: (d) => d / 10 },
  { type: `groups, ${GROUPS} groups`, properties: { 'qpid.group_header_key': 'g', 'qpid.shared_msg_group': 1 }, message: (i) => rhea.message.encode({ application_properties: { g: `g${i % GROUPS}` }, body: BODY }) as Buffer, remaining: (d) => d },
];

const columns: readonly TableColumn[] = [
  { key: 'type', header: 'queue type' },
  { key: 'filled', header: 'filled' },
  { key: 'fillMsgsPerS', header: 'fill msgs/s' },
  { key: 'fillCpuUs', header: 'broker CPU µs per enqueue', digits: 1 },
  { key: 'drained', header: 'drained' },
  { key: 'drainMsgsPerS', header: 'drain msgs/s' },
  { key: 'drainCpuUs', header: 'broker CPU µs per delivery', digits: 1 },
];

function open(server: BenchServer): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const connection = rhea.create_container().connect({ host: server.host, port: server.port, reconnect: false } as never);
    connection.once('connection_open', () => resolve(connection));
    connection.once('disconnected', (ctx: EventContext) => reject(new Error(`disconnected: ${String((ctx as unknown as { error?: Error }).error?.message)}`)));
  });
}

/** Creates the queue (create-on-demand, no size limit) and sends `count` pre-encoded messages;
 * resolves once every one is accepted. */
function fill(connection: Connection, queue: string, properties: Record<string, unknown>, messages: readonly Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const sender = connection.open_sender({ target: { address: queue, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { 'qpid.max_size': 0, ...properties } } } as never);
    let sent = 0;
    let settled = 0;
    const pump = (): void => {
      while (sent < messages.length && sent - settled < SEND_WINDOW && sender.sendable()) sender.send(messages[sent++] as never, undefined, 0);
    };
    sender.on('sendable', pump);
    sender.on('accepted', () => {
      if (++settled === messages.length) {
        sender.close();
        resolve();
      } else pump();
    });
    sender.on('rejected', () => reject(new Error(`a message to ${queue} was rejected`)));
  });
}

function drain(connection: Connection, queue: string, expected: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const timer = setTimeout(() => reject(new Error(`${queue}: ${received} of ${expected} delivered in 300 s`)), 300_000);
    const receiver = connection.open_receiver({ source: { address: queue }, credit_window: CREDIT, autoaccept: true } as never);
    receiver.on('message', () => {
      if (++received === expected) {
        clearTimeout(timer);
        receiver.close();
        resolve();
      }
    });
  });
}

/** Runs `work`, returning its seconds and the broker's CPU seconds over it. */
async function measured(server: BenchServer, work: () => Promise<void>): Promise<{ elapsedS: number; cpuS: number }> {
  const cpuBefore = processCpuS(server.pid) ?? NaN;
  const started = performance.now();
  await work();
  return { elapsedS: (performance.now() - started) / 1000, cpuS: (processCpuS(server.pid) ?? NaN) - cpuBefore };
}

export async function run(options: ScenarioOptions): Promise<ScenarioResult> {
  const machine = describeMachine();
  const { depth, warmUp } = PLANS[options.size];
  const notes: string[] = [`load average (1 min) at start: ${machine.loadAverage1m}`, `transient 1 KiB messages on non-durable queues; consumer credit ${CREDIT}; a fresh broker per row, warmed up with ${warmUp} messages through the same type`];
  const rows: ResultRow[] = [];
  let ok = true;
  for (const plan of PLANS_BY_TYPE) {
    const server = await startBroker({ storeSync: 'none' });
    try {
      const connection = await open(server);
      const warm = Array.from({ length: warmUp }, (_, i) => plan.message(i, warmUp));
      await fill(connection, 'bench-qtypes-warm-up', plan.properties, warm);
      await drain(connection, 'bench-qtypes-warm-up', plan.remaining(warmUp));
      const messages = Array.from({ length: depth }, (_, i) => plan.message(i, depth));
      options.log(`${plan.type}: filling with ${depth.toLocaleString('en-US')} messages`);
      const filled = await measured(server, () => fill(connection, 'bench-qtypes', plan.properties, messages));
      const remaining = plan.remaining(depth);
      options.log(`  draining ${remaining.toLocaleString('en-US')}`);
      const drained = await measured(server, () => drain(connection, 'bench-qtypes', remaining));
      const rowOk = !server.exitedEarly();
      if (!rowOk) ok = false;
      rows.push({
        type: plan.type,
        filled: depth,
        fillMsgsPerS: round(depth / filled.elapsedS),
        fillCpuUs: round((filled.cpuS * 1e6) / depth, 1),
        drained: remaining,
        drainMsgsPerS: round(remaining / drained.elapsedS),
        drainCpuUs: round((drained.cpuS * 1e6) / remaining, 1),
        ok: rowOk,
      });
      connection.close();
    } catch (err) {
      ok = false;
      notes.push(`${plan.type}: ${(err as Error).message}`);
      rows.push({ type: plan.type, filled: depth, ok: false, problem: (err as Error).message });
    } finally {
      await server.stop();
    }
  }
  const baseline = rows[0];
  for (const row of rows.slice(1)) {
    const ratio = (key: string): string => (typeof row[key] === 'number' && typeof baseline?.[key] === 'number' ? (row[key] / baseline[key]).toFixed(2) : '?');
    notes.push(`${String(row['type'])}: CPU per enqueue ${ratio('fillCpuUs')}x, per delivery ${ratio('drainCpuUs')}x the plain queue's`);
  }
  return {
    scenario: name,
    size: options.size,
    machine,
    rows,
    columns,
    ok,
    notes,
    chart: {
      kind: 'bar',
      title: 'Queue types: broker CPU µs per enqueue and per delivery',
      yLabel: 'µs per message',
      categories: rows.map((r) => String(r['type'])),
      series: [
        { name: 'per enqueue', values: rows.map((r) => (typeof r['fillCpuUs'] === 'number' ? r['fillCpuUs'] : null)) },
        { name: 'per delivery', values: rows.map((r) => (typeof r['drainCpuUs'] === 'number' ? r['drainCpuUs'] : null)) },
      ],
    },
  };
}
