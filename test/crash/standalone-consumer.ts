// A consumer process for standalone-consumer-crash.test.ts: takes CREDIT messages from a queue,
// accepts the first ACCEPT of them, leaves the rest unsettled, prints "GOT <id>" per message and
// "HOLDING" once it has them all, then waits to be killed (SIGKILL: no detach, no close, the
// broker sees only the socket drop).
//
// usage: node standalone-consumer.js PORT QUEUE CREDIT ACCEPT
import rhea, { type EventContext } from 'rhea';

const [portText, queue, creditText, acceptText] = process.argv.slice(2);
const port = Number(portText);
const credit = Number(creditText);
const acceptCount = Number(acceptText);
if (!queue || !Number.isInteger(port) || !Number.isInteger(credit) || !Number.isInteger(acceptCount)) {
  process.stderr.write('usage: standalone-consumer PORT QUEUE CREDIT ACCEPT\n');
  process.exit(2);
}

const container = rhea.create_container();
const connection = container.connect({ host: '127.0.0.1', port, reconnect: false } as never);
connection.on('error', () => {});
const receiver = connection.open_receiver({ source: { address: queue }, autoaccept: false, credit_window: 0 } as never);
let got = 0;
receiver.on('message', (ctx: EventContext) => {
  got++;
  process.stdout.write(`GOT ${String(ctx.message?.message_id)}\n`);
  if (got <= acceptCount) ctx.delivery?.accept();
  if (got === credit) process.stdout.write('HOLDING\n');
});
receiver.once('receiver_open', () => receiver.add_credit(credit));
// Stay alive until killed.
setInterval(() => {}, 60_000);
