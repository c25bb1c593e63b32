// Scenario `selector`: what a selector costs a consumer (issue 12). A queue holds 10^5 1 KiB
// messages of which 1 in 100 has colour = 'red'; a consumer with the selector "colour = 'red'"
// takes the 1,000 matches. Beside it, in the same run, a plain consumer takes 1,000 messages from
// a queue holding only those. Reported: delivered messages/s from attach to the last delivery,
// and the broker's CPU per delivered message (from /proc). The selective consumer's cursor
// (src/broker/selection.ts) evaluates each queued message once, so its cost is about 100
// evaluations per delivery, not a scan of the queue per delivery. A third row has every message
// match, to show the per-message cost of evaluating a selector beside the plain consumer.
import rhea, { type Connection, type EventContext } from 'rhea';
import { describeMachine } from '../lib/machine.js';
import { processCpuS } from '../lib/proc-cpu.js';
import type { ResultRow, ScenarioResult, TableColumn } from '../lib/results.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { startBroker, type BenchServer } from '../lib/servers.js';
import { round } from '../lib/stats.js';

export const name = 'selector';
export const description = "A selector consumer (colour = 'red') on a queue of 10^5 1 KiB messages where 1 in 100 match, beside a plain consumer on a queue of only the matches: delivered msgs/s and broker CPU per delivered message (tiny: 3,000)";

const PLANS = { tiny: { depth: 3_000, warmUp: 300 }, full: { depth: 100_000, warmUp: 5000 } } as const;
const MATCH_EVERY = 100;
const BODY_BYTES = 1024;
const CREDIT = 1000;
const SEND_WINDOW = 1000;
const SELECTOR = "colour = 'red'";

const columns: readonly TableColumn[] = [
  { key: 'consumer', header: 'consumer' },
  { key: 'queued', header: 'queued' },
  { key: 'delivered', header: 'delivered' },
  { key: 'msgsPerS', header: 'delivered msgs/s' },
  { key: 'cpuUsPerDelivered', header: 'broker CPU µs per delivered message', digits: 1 },
  { key: 'cpuUsPerQueued', header: 'broker CPU µs per queued message', digits: 2 },
  { key: 'elapsedS', header: 'attach to last delivery s', digits: 2 },
];

function encoded(colour: string, index: number): Buffer {
  return rhea.message.encode({ application_properties: { colour, index }, body: rhea.message.data_section(Buffer.alloc(BODY_BYTES, 0x78)) }) as Buffer;
}

function open(server: BenchServer): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const connection = rhea.create_container().connect({ host: server.host, port: server.port, reconnect: false } as never);
    connection.once('connection_open', () => resolve(connection));
    connection.once('disconnected', (ctx: EventContext) => reject(new Error(`disconnected: ${String((ctx as unknown as { error?: Error }).error?.message)}`)));
  });
}

/** Creates the queue (create-on-demand) and sends `count` messages, `red` deciding each colour;
 * resolves once every one is accepted. */
function fill(connection: Connection, queue: string, count: number, red: (i: number) => boolean): Promise<void> {
  const redBytes = encoded('red', 0);
  const blueBytes = encoded('blue', 0);
  return new Promise((resolve, reject) => {
    // qpid.max_size 0: no limit (the default, --default-queue-limit, is below 10^5 KiB).
    const sender = connection.open_sender({ target: { address: queue, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { 'qpid.max_size': 0 } } } as never);
    let sent = 0;
    let settled = 0;
    const pump = (): void => {
      while (sent < count && sent - settled < SEND_WINDOW && sender.sendable()) {
        sender.send((red(sent) ? redBytes : blueBytes) as never, undefined, 0);
        sent++;
      }
    };
    sender.on('sendable', pump);
    sender.on('accepted', () => {
      if (++settled === count) {
        sender.close();
        resolve();
      } else pump();
    });
    sender.on('rejected', () => reject(new Error(`a message to ${queue} was rejected`)));
    sender.on('released', () => reject(new Error(`a message to ${queue} was released`)));
  });
}

/** Waits until the broker's CPU stops rising (at most 5 s). */
async function quiet(server: BenchServer): Promise<void> {
  let last = processCpuS(server.pid) ?? 0;
  for (let i = 0; i < 25; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const now = processCpuS(server.pid) ?? 0;
    if (now - last < 0.02) return;
    last = now;
  }
}

/** Attaches a consumer and takes `expected` messages; the broker's CPU is read around it. */
async function consume(connection: Connection, server: BenchServer, queue: string, expected: number, selector: string | null): Promise<{ elapsedS: number; cpuS: number; wrongColour: number }> {
  const cpuBefore = processCpuS(server.pid) ?? NaN;
  const started = performance.now();
  let wrongColour = 0;
  await new Promise<void>((resolve, reject) => {
    let received = 0;
    const timer = setTimeout(() => reject(new Error(`${queue}: ${received} of ${expected} delivered in 300 s`)), 300_000);
    const source = selector ? { address: queue, filter: rhea.filter.selector(selector) } : { address: queue };
    const receiver = connection.open_receiver({ source, credit_window: CREDIT, autoaccept: true } as never);
    receiver.on('message', (ctx: EventContext) => {
      const colour = (ctx.message?.application_properties as Record<string, unknown> | undefined)?.['colour'];
      if (selector && colour !== 'red') wrongColour++;
      if (++received === expected) {
        clearTimeout(timer);
        receiver.close();
        resolve();
      }
    });
  });
  const elapsedS = (performance.now() - started) / 1000;
  return { elapsedS, cpuS: (processCpuS(server.pid) ?? NaN) - cpuBefore, wrongColour };
}

export async function run(options: ScenarioOptions): Promise<ScenarioResult> {
  const machine = describeMachine();
  // warmUp: messages sent and taken through the row's path on its fresh broker before measuring.
  const { depth, warmUp } = PLANS[options.size];
  const matches = depth / MATCH_EVERY;
  const notes: string[] = [`load average (1 min) at start: ${machine.loadAverage1m}`, `selector: ${SELECTOR}; consumer credit ${CREDIT}; transient messages on non-durable queues`];
  const rows: ResultRow[] = [];
  let ok = true;
  const plans: readonly { consumer: string; queue: string; queued: number; delivered: number; red: (i: number) => boolean; selector: string | null }[] = [
    { consumer: `selector, 1 in ${MATCH_EVERY} match`, queue: 'bench-selector-sparse', queued: depth, delivered: matches, red: (i) => i % MATCH_EVERY === MATCH_EVERY - 1, selector: SELECTOR },
    { consumer: 'plain, queue of only the matches', queue: 'bench-selector-plain', queued: matches, delivered: matches, red: () => true, selector: null },
    { consumer: 'selector, every message matches', queue: 'bench-selector-all', queued: depth, delivered: depth, red: () => true, selector: SELECTOR },
    { consumer: 'plain, same queue', queue: 'bench-selector-plain-all', queued: depth, delivered: depth, red: () => true, selector: null },
  ];
  for (const plan of plans) {
    // A fresh broker per row, warmed up through the same path: no row pays for another's
    // leftovers or for the JIT.
    const server = await startBroker({ storeSync: 'none' });
    try {
      const connection = await open(server);
      await fill(connection, `${plan.queue}-warm-up`, warmUp, () => true);
      await consume(connection, server, `${plan.queue}-warm-up`, warmUp, plan.selector);
      options.log(`${plan.consumer}: filling ${plan.queue} with ${plan.queued.toLocaleString('en-US')} messages`);
      await fill(connection, plan.queue, plan.queued, plan.red);
      // Let the broker finish with the fill (writes, GC) so that its CPU below is the consumer's.
      await quiet(server);
      options.log(`  consuming ${plan.delivered.toLocaleString('en-US')}`);
      const result = await consume(connection, server, plan.queue, plan.delivered, plan.selector);
      const rowOk = result.wrongColour === 0 && !server.exitedEarly();
      if (!rowOk) ok = false;
      rows.push({
        consumer: plan.consumer,
        queued: plan.queued,
        delivered: plan.delivered,
        msgsPerS: round(plan.delivered / result.elapsedS),
        cpuUsPerDelivered: round((result.cpuS * 1e6) / plan.delivered, 1),
        cpuUsPerQueued: round((result.cpuS * 1e6) / plan.queued, 2),
        elapsedS: round(result.elapsedS, 2),
        wrongColour: result.wrongColour,
        ok: rowOk,
      });
      options.log(`  ${round(plan.delivered / result.elapsedS)} msgs/s, ${round((result.cpuS * 1e6) / plan.delivered, 1)} µs CPU per delivered message`);
      connection.close();
    } catch (err) {
      ok = false;
      notes.push(`${plan.consumer}: ${(err as Error).message}`);
      rows.push({ consumer: plan.consumer, queued: plan.queued, delivered: plan.delivered, ok: false, problem: (err as Error).message });
    } finally {
      await server.stop();
    }
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
      title: 'Selector consumer vs plain consumer: broker CPU µs per delivered message',
      yLabel: 'µs per delivered message',
      categories: rows.map((r) => String(r['consumer'])),
      series: [{ name: 'CPU µs per delivered message', values: rows.map((r) => (typeof r['cpuUsPerDelivered'] === 'number' ? r['cpuUsPerDelivered'] : null)) }],
    },
  };
}
