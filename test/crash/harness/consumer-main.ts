// A crash-suite consumer process: receives from one queue through the failover client, writes
// one history line per delivery and then accepts it, until SIGTERM. A receipt is logged before
// the accept, so that a message the broker considers consumed is always in the history.
import { connect } from '../../../src/client/index.js';
import { HistoryWriter } from './history.js';
import { connectOptions, parseArgs, PRODUCER_PROPERTY, SN_PROPERTY, type ConsumerArgs } from './client-args.js';

const RECEIVE_WAIT_MS = 200;

async function main(): Promise<void> {
  const args = parseArgs<ConsumerArgs>(process.argv.slice(2));
  const history = new HistoryWriter(args.historyDir, args.id);
  let stopping = false;
  let ratePerS = args.ratePerS;
  process.on('SIGTERM', () => (stopping = true));
  process.on('SIGINT', () => (stopping = true));
  // The harness lets a throttled consumer drain at full speed once the faults are over.
  process.on('SIGUSR2', () => (ratePerS = 0));

  const connection = await connect(args.url, {
    ...connectOptions(args),
    onEvent: (event) => {
      if (event.kind === 'connected') history.write({ kind: 'connect', client: args.id, address: event.address, reconnect: event.reconnect });
      else if (event.kind === 'disconnected') history.write({ kind: 'disconnect', client: args.id, address: event.address, reason: event.reason });
      else if (event.kind === 'gave-up') history.write({ kind: 'note', text: `${args.id} gave up: ${event.reason}` });
    },
  });
  const receiver = await connection.receiver(args.queue, { credit: args.credit, createOnDemand: args.node });
  let received = 0;
  let redelivered = 0;
  let dueMs = performance.now();
  while (!stopping) {
    if (ratePerS > 0) {
      const waitMs = dueMs - performance.now();
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
    const delivery = await receiver.receive(RECEIVE_WAIT_MS);
    if (!delivery) continue;
    if (ratePerS > 0) dueMs = Math.max(dueMs + 1000 / ratePerS, performance.now() - 1000);
    const properties = (delivery.message.application_properties ?? {}) as Record<string, unknown>;
    received++;
    if (delivery.redelivered) redelivered++;
    history.write({
      kind: 'receive',
      consumer: args.id,
      queue: args.queue,
      producer: String(properties[PRODUCER_PROPERTY] ?? ''),
      sn: Number(properties[SN_PROPERTY] ?? -1),
      deliveryCount: delivery.deliveryCount,
    });
    delivery.accept();
  }
  history.write({ kind: 'done', client: args.id, detail: { receipts: received, redelivered, reconnects: connection.stats.reconnects, client: receiver.stats } });
  history.close();
  receiver.close();
  await connection.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`consumer: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
