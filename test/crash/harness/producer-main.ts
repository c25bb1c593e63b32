// A crash-suite producer process: sends persistent messages numbered sn = 1, 2, ... to one
// durable queue through the failover client, at a steady rate, until SIGTERM; then waits for
// every message to be settled and exits. Each send, settlement and connection change is one
// history line, written before the client acts on it (send) or as soon as it is known.
import { connect, type SendOutcome } from '../../../src/client/index.js';
import { HistoryWriter } from './history.js';
import { connectOptions, parseArgs, PRODUCER_PROPERTY, SN_PROPERTY, type ProducerArgs } from './client-args.js';

/** After an outage, catch up at most this much of the missed schedule in a burst. */
const CATCH_UP_MS_MAX = 500;
/** After SIGTERM, how long to wait for the last settlements. */
const FLUSH_MS_MAX = 60_000;

async function main(): Promise<void> {
  const args = parseArgs<ProducerArgs>(process.argv.slice(2));
  const history = new HistoryWriter(args.historyDir, args.id);
  let stopping = false;
  process.on('SIGTERM', () => (stopping = true));
  process.on('SIGINT', () => (stopping = true));

  const connection = await connect(args.url, {
    ...connectOptions(args),
    onEvent: (event) => {
      if (event.kind === 'connected') history.write({ kind: 'connect', client: args.id, address: event.address, reconnect: event.reconnect });
      else if (event.kind === 'disconnected') history.write({ kind: 'disconnect', client: args.id, address: event.address, reason: event.reason });
      else if (event.kind === 'gave-up') history.write({ kind: 'note', text: `${args.id} gave up: ${event.reason}` });
    },
  });
  const sender = await connection.sender(args.queue, { capacity: args.capacity, createOnDemand: args.node });
  const body = 'x'.repeat(args.bodyBytes);
  const intervalMs = 1000 / args.ratePerS;
  let dueMs = performance.now();
  let sn = 0;
  let settled = 0;
  const record = (n: number, outcome: SendOutcome['outcome'] | 'failed'): void => {
    settled++;
    history.write({ kind: 'settle', producer: args.id, queue: args.queue, sn: n, outcome });
  };
  while (!stopping) {
    await sender.waitForCapacity();
    const waitMs = dueMs - performance.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    if (stopping) break;
    dueMs = Math.max(dueMs + intervalMs, performance.now() - CATCH_UP_MS_MAX);
    const n = ++sn;
    history.write({ kind: 'send', producer: args.id, queue: args.queue, sn: n });
    sender
      .send({ durable: true, message_id: `${args.id}:${n}`, body, application_properties: { [SN_PROPERTY]: n, [PRODUCER_PROPERTY]: args.id } })
      .then(
        (outcome) => record(n, outcome.outcome),
        () => record(n, 'failed'),
      );
  }
  const flushed = await Promise.race([sender.flush().then(() => true, () => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), FLUSH_MS_MAX))]);
  // Let the settlement callbacks of the last messages write their lines.
  await new Promise((resolve) => setImmediate(resolve));
  history.write({ kind: 'done', client: args.id, detail: { messages: sn, settlements: settled, flushed, client: sender.stats, reconnects: connection.stats.reconnects } });
  history.close();
  await connection.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`producer: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
