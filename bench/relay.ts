// The baseline: a minimal in-memory AMQP 1.0 relay on rhea's server side, i.e. the ceiling of a
// Node AMQP process on this machine. Any address is a FIFO; producers' deliveries are accepted on
// receipt, consumers with credit get messages round-robin, and their dispositions settle. Every
// message is decoded and re-encoded (rhea's default `sender.send(message)`), as a naive relay does.
// It stores nothing and does not redeliver a message whose consumer vanished before settling it:
// it measures the AMQP path, not a broker's guarantees.
//
//   node dist/bench/relay.js --port 0 [--host 127.0.0.1] [--max-depth 2000] [--credit 500]
// prints {"msg":"listening","port":N} on stdout, and stops cleanly on SIGTERM or SIGINT.
import { parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import rhea from 'rhea';
import type { Connection, EventContext, Message, Receiver, Sender } from 'rhea';
import { Fifo } from './lib/fifo.js';

export interface RelayOptions {
  readonly host: string;
  readonly port: number;
  /** Messages held per address before producers stop getting credit (bounded memory and latency). */
  readonly depthMax: number;
  /** Credit window granted to each producer link. */
  readonly creditWindow: number;
}

interface Address {
  readonly name: string;
  readonly messages: Fifo<Message>;
  readonly consumers: Sender[];
  readonly producers: Set<Receiver>;
  nextConsumer: number;
}

/** rhea keeps a link's credit and local attach frame in fields its typings do not declare. */
interface LinkInternals {
  credit: number;
  local: { attach: { snd_settle_mode: number; rcv_settle_mode: number } };
}

export interface RunningRelay {
  readonly port: number;
  close(): Promise<void>;
}

export function startRelay(options: RelayOptions): Promise<RunningRelay> {
  const container = rhea.create_container({ id: 'bench-relay' });
  // Producer credit is granted by hand so that a full address pushes back on its producers.
  container.options['credit_window'] = 0;
  const addresses = new Map<string, Address>();
  const linksOf = new Map<Connection, Set<Sender | Receiver>>();

  const addressNamed = (name: string): Address => {
    let address = addresses.get(name);
    if (!address) {
      address = { name, messages: new Fifo<Message>(1024), consumers: [], producers: new Set(), nextConsumer: 0 };
      addresses.set(name, address);
    }
    return address;
  };
  const addressOf = (link: Sender | Receiver): Address =>
    addressNamed((link.is_sender() ? link.source?.address : link.target?.address) ?? '');
  const remember = (link: Sender | Receiver): void => {
    let links = linksOf.get(link.connection);
    if (!links) linksOf.set(link.connection, (links = new Set()));
    links.add(link);
  };

  const grantCredit = (receiver: Receiver, address: Address): void => {
    if (address.messages.length >= options.depthMax) return;
    const credit = (receiver as unknown as LinkInternals).credit;
    // Top up in batches (a quarter of the window) so that a flow frame is not sent per message.
    if (options.creditWindow - credit >= options.creditWindow / 4) receiver.add_credit(options.creditWindow - credit);
  };

  const pump = (address: Address): void => {
    const consumers = address.consumers;
    let idle = 0;
    while (address.messages.length > 0 && consumers.length > 0 && idle < consumers.length) {
      const index = address.nextConsumer++ % consumers.length;
      const sender = consumers[index] as Sender;
      if (sender.sendable()) {
        sender.send(address.messages.shift() as Message);
        idle = 0;
      } else {
        idle++;
      }
    }
    if (address.nextConsumer > 1e9) address.nextConsumer = 0;
    // Producers blocked by a full address get credit again once it has drained below half.
    if (address.messages.length < options.depthMax / 2) {
      for (const receiver of address.producers) grantCredit(receiver, address);
    }
  };

  const forget = (link: Sender | Receiver): void => {
    const address = addressOf(link);
    if (link.is_sender()) {
      const at = address.consumers.indexOf(link as Sender);
      if (at >= 0) address.consumers.splice(at, 1);
    } else {
      address.producers.delete(link as Receiver);
    }
    linksOf.get(link.connection)?.delete(link);
  };
  const forgetConnection = (connection: Connection): void => {
    for (const link of linksOf.get(connection) ?? []) forget(link);
    linksOf.delete(connection);
  };

  container.on('sender_open', (context: EventContext) => {
    const sender = context.sender as Sender;
    // Echo the consumer's source and settle mode, so an at-most-once consumer gets pre-settled
    // transfers (rhea settles on send when the local snd_settle_mode is 1).
    sender.set_source(sender.source);
    (sender as unknown as LinkInternals).local.attach.snd_settle_mode = sender.snd_settle_mode ?? 2;
    const address = addressOf(sender);
    address.consumers.push(sender);
    remember(sender);
    pump(address);
  });
  container.on('receiver_open', (context: EventContext) => {
    const receiver = context.receiver as Receiver;
    receiver.set_target(receiver.target);
    const address = addressOf(receiver);
    address.producers.add(receiver);
    remember(receiver);
    grantCredit(receiver, address);
  });
  container.on('sendable', (context: EventContext) => pump(addressOf(context.sender as Sender)));
  container.on('message', (context: EventContext) => {
    // The delivery is accepted on receipt by rhea's autoaccept (the receiver default).
    const receiver = context.receiver as Receiver;
    const address = addressOf(receiver);
    address.messages.push(context.message as Message);
    pump(address);
    grantCredit(receiver, address);
  });
  container.on('sender_close', (context: EventContext) => forget(context.sender as Sender));
  container.on('receiver_close', (context: EventContext) => forget(context.receiver as Receiver));
  container.on('connection_close', (context: EventContext) => forgetConnection(context.connection));
  container.on('disconnected', (context: EventContext) => forgetConnection(context.connection));
  container.on('error', () => {
    // A peer's protocol error closes that connection; the relay keeps serving the others.
  });

  return new Promise((resolve, reject) => {
    const server = container.listen({ host: options.host, port: options.port });
    server.once('error', reject);
    server.once('listening', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const connection of linksOf.keys()) connection.close();
            server.close(() => done());
            // Connections that do not answer the close do not hold the process.
            setTimeout(done, 500).unref();
          }),
      });
    });
  });
}

export function parseRelayArgs(argv: readonly string[]): RelayOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      'max-depth': { type: 'string', default: '2000' },
      credit: { type: 'string', default: '500' },
    },
    strict: true,
  });
  const port = Number(values.port);
  const depthMax = Number(values['max-depth']);
  const creditWindow = Number(values.credit);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${values.port} is not a port`);
  if (!Number.isInteger(depthMax) || depthMax < 1) throw new Error(`--max-depth ${values['max-depth']} must be a positive integer`);
  if (!Number.isInteger(creditWindow) || creditWindow < 1) throw new Error(`--credit ${values.credit} must be a positive integer`);
  return { host: values.host as string, port, depthMax, creditWindow };
}

async function main(): Promise<void> {
  let options: RelayOptions;
  try {
    options = parseRelayArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`relay: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const relay = await startRelay(options);
  process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, msg: 'listening', port: relay.port })}\n`);
  const stop = (): void => {
    void relay.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
