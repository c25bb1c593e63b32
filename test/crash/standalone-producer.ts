// A producer process for the standalone crash test (standalone-kill.test.ts): sends COUNT
// persistent messages, unsettled, to a durable queue it creates on attach, and writes one line
// per outcome to stdout as it arrives: "A <id>" accepted, "X <id> <condition>" refused. Only the
// broker is killed, never this process: it exits when every message is settled or the connection
// drops, writing "END <sent>" and waiting for stdout to drain (a pipe the test reads more slowly
// than we write queues lines in memory, and process.exit would drop them).
//
// usage: node standalone-producer.js PORT QUEUE COUNT ID_PREFIX
import rhea, { type EventContext } from 'rhea';

const [portText, queue, countText, prefix] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
if (!queue || !prefix || !Number.isInteger(port) || !Number.isInteger(count)) {
  process.stderr.write('usage: standalone-producer PORT QUEUE COUNT ID_PREFIX\n');
  process.exit(2);
}

const write = (line: string): void => void process.stdout.write(`${line}\n`);
let sent = 0;
let settled = 0;
let ended = false;
const end = (): void => {
  if (ended) return;
  ended = true;
  process.stdout.write(`END ${sent}\n`, () => process.exit(0));
};

const container = rhea.create_container();
const connection = container.connect({ host: '127.0.0.1', port, reconnect: false } as never);
connection.on('disconnected', end);
connection.on('connection_close', end);
connection.on('connection_error', end);
connection.on('error', end);

const sender = connection.open_sender({
  target: { address: queue, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } },
} as never);
const idOf = (ctx: EventContext): string => (ctx.delivery as unknown as { id_text: string }).id_text;
const settle = (line: string): void => {
  write(line);
  if (++settled === count) end();
};
sender.on('accepted', (ctx: EventContext) => settle(`A ${idOf(ctx)}`));
sender.on('rejected', (ctx: EventContext) => settle(`X ${idOf(ctx)} ${String((ctx.delivery as unknown as { remote_state?: { error?: { condition?: unknown } } }).remote_state?.error?.condition)}`));
sender.on('released', (ctx: EventContext) => settle(`X ${idOf(ctx)} released`));
sender.on('modified', (ctx: EventContext) => settle(`X ${idOf(ctx)} modified`));
sender.on('sender_error', end);
sender.on('sendable', () => {
  while (sent < count && sender.sendable()) {
    const id = `${prefix}-${sent}`;
    const delivery = sender.send({ durable: true, message_id: id, body: id }) as unknown as { id_text: string };
    delivery.id_text = id;
    sent++;
  }
});
