// A rhea 3 client written against rhea's documented reconnect options, after its own
// examples/reconnect/client.js: `connection_details` cycling over every broker of the cluster,
// `reconnect: true` with the documented delays, a sender and a receiver on one queue, and the
// resend the README asks for ("unsettled messages ... are lost on reconnect ... resend them on a
// disconnected event"). Run as its own process (a crash must be a crash); writes the crash
// harness's history and exits 0 once every message was accepted and received.
//
// usage: node rhea-failover-client.js '{"ports":[P,...],"queue":"Q","count":N,"historyDir":"D","writer":"W"}'
import rhea, { type Delivery, type EventContext, type Sender } from 'rhea';
import { HistoryWriter } from '../crash/harness/history.js';

interface Args {
  readonly ports: readonly number[];
  readonly queue: string;
  readonly count: number;
  readonly historyDir: string;
  readonly writer: string;
  /** Messages sent but not yet accepted, at most (rhea's session queue holds 2048). */
  readonly windowMax?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const history = new HistoryWriter(args.historyDir, args.writer);
const windowMax = args.windowMax ?? 200;

let attempt = 0;
let currentPort = 0;
const container = rhea.create_container({ id: args.writer });
const connection = container.connect({
  // rhea's README: "connection_details - a function which if specified will be invoked to get
  // the options to use (e.g. this can be used to alternate between a set of different host/port
  // combinations)". As in examples/reconnect/client.js, one per attempt, in turn.
  connection_details: () => {
    currentPort = args.ports[attempt % args.ports.length] as number;
    attempt++;
    return { host: '127.0.0.1', port: currentPort };
  },
  reconnect: true,
  initial_reconnect_delay: 20,
  max_reconnect_delay: 500,
} as never);

let nextSn = 1;
const resend: number[] = [];
const outstanding = new Map<Delivery, number>();
const settled = new Set<number>();
const received = new Set<number>();
let connects = 0;
let finished = false;

const sender: Sender = connection.open_sender({ target: { address: args.queue } });
const receiver = connection.open_receiver({ source: { address: args.queue }, credit_window: 100 });

function pump(): void {
  while (!finished && sender.sendable() && outstanding.size < windowMax) {
    let sn: number;
    if (resend.length > 0) {
      sn = resend.shift() as number;
      if (settled.has(sn)) continue;
    } else if (nextSn <= args.count) {
      sn = nextSn++;
      history.write({ kind: 'send', producer: args.writer, queue: args.queue, sn });
    } else return;
    const delivery = sender.send({ message_id: sn, durable: true, body: `m${sn}`, application_properties: { sn, 'sender-id': args.writer } });
    outstanding.set(delivery, sn);
  }
}

function settle(ctx: EventContext, outcome: 'accepted' | 'rejected' | 'modified'): void {
  const delivery = ctx.delivery as Delivery;
  const sn = outstanding.get(delivery);
  if (sn === undefined) return;
  outstanding.delete(delivery);
  if (settled.has(sn)) return;
  settled.add(sn);
  history.write({ kind: 'settle', producer: args.writer, queue: args.queue, sn, outcome });
  maybeFinish();
  pump();
}

function maybeFinish(): void {
  if (settled.size === args.count && received.size === args.count) finish(0, 'done');
}

function finish(code: number, why: string, detail: Record<string, unknown> = {}): void {
  if (finished) return;
  finished = true;
  process.exitCode = code;
  history.write({ kind: 'done', client: args.writer, detail: { why, settled: settled.size, received: received.size, connects, ...detail } });
  process.stdout.write(`${JSON.stringify({ why, settled: settled.size, received: received.size, connects, ...detail })}\n`);
  connection.close();
  // Let the close go out; the process ends with exitCode when nothing is left to do.
  setTimeout(() => process.exit(code), 1000).unref();
}

connection.on('connection_open', () => {
  connects++;
  history.write({ kind: 'connect', client: args.writer, address: `127.0.0.1:${currentPort}`, reconnect: connects > 1 });
});
connection.on('disconnected', (ctx: EventContext) => {
  if (finished) return;
  // The README: unsettled messages are lost on reconnect; send them again.
  for (const sn of outstanding.values()) if (!settled.has(sn)) resend.push(sn);
  resend.sort((a, b) => a - b);
  outstanding.clear();
  const error = (ctx as unknown as { error?: Error }).error;
  history.write({ kind: 'disconnect', client: args.writer, address: `127.0.0.1:${currentPort}`, reason: error ? String(error.message ?? error) : 'disconnected' });
});
sender.on('sendable', pump);
sender.on('accepted', (ctx: EventContext) => settle(ctx, 'accepted'));
sender.on('rejected', (ctx: EventContext) => settle(ctx, 'rejected'));
sender.on('modified', (ctx: EventContext) => settle(ctx, 'modified'));
sender.on('released', (ctx: EventContext) => {
  const sn = outstanding.get(ctx.delivery as Delivery);
  outstanding.delete(ctx.delivery as Delivery);
  if (sn !== undefined && !settled.has(sn)) resend.push(sn);
});
receiver.on('message', (ctx: EventContext) => {
  const properties = (ctx.message?.application_properties ?? {}) as { sn?: number; 'sender-id'?: string };
  const sn = Number(properties.sn);
  history.write({ kind: 'receive', consumer: args.writer, queue: args.queue, producer: String(properties['sender-id'] ?? ''), sn, deliveryCount: Number(ctx.message?.delivery_count ?? 0) });
  received.add(sn);
  maybeFinish();
});

// A refused link or an error close ends a rhea application that does not handle it (an unhandled
// error event); this one says which, and exits non-zero, which the test reports as a crash.
for (const [emitter, event] of [[connection, 'connection_error'], [sender, 'sender_error'], [receiver, 'receiver_error']] as const) {
  (emitter as unknown as { on(e: string, f: (ctx: EventContext) => void): void }).on(event, (ctx: EventContext) => {
    const error = (ctx.connection as unknown as { error?: unknown }).error ?? (ctx.sender as unknown as { error?: unknown } | undefined)?.error ?? (ctx.receiver as unknown as { error?: unknown } | undefined)?.error;
    const e = error as { condition?: unknown; description?: unknown } | undefined;
    finish(3, event, { condition: e?.condition !== undefined ? String(e.condition) : null, description: e?.description !== undefined ? String(e.description) : null });
  });
}

// rhea that has stopped reconnecting leaves nothing to wait for, and node would exit 0: that is
// a client that gave up, not one that finished.
process.on('exit', () => {
  if (finished) return;
  process.stdout.write(`${JSON.stringify({ why: 'gave up: rhea stopped reconnecting', settled: settled.size, received: received.size, connects })}\n`);
  history.write({ kind: 'done', client: args.writer, detail: { why: 'gave up', settled: settled.size, received: received.size, connects } });
  process.exitCode = 4;
});
