// A plain rhea client for broker tests: independent of our own failover client, so that the
// broker is tested against the library's stock behaviour. Every call has a deadline.

import rhea, { type Connection, type Delivery, type EventContext, type Message, type Receiver, type Sender } from 'rhea';

export interface Outcome {
  readonly state: 'accepted' | 'rejected' | 'released' | 'modified';
  readonly condition?: string;
  readonly description?: string;
}

export interface TestConnection {
  readonly connection: Connection;
  close(): Promise<void>;
}

export function connect(port: number, options: { properties?: Record<string, unknown>; host?: string; idleTimeoutMs?: number } = {}): Promise<TestConnection> {
  const container = rhea.create_container();
  return new Promise((resolve, reject) => {
    const connection = container.connect({ host: options.host ?? '127.0.0.1', port, reconnect: false, properties: options.properties ?? {}, ...(options.idleTimeoutMs ? { idle_time_out: options.idleTimeoutMs } : {}) } as never);
    const timer = setTimeout(() => reject(new Error(`connect to ${port} timed out`)), 10_000);
    connection.once('connection_open', () => {
      clearTimeout(timer);
      resolve({
        connection,
        close: () =>
          new Promise<void>((done) => {
            if (!connection.is_open()) return done();
            connection.once('connection_close', () => done());
            connection.once('disconnected', () => done());
            connection.close();
            setTimeout(done, 1000).unref();
          }),
      });
    });
    connection.once('connection_error', (ctx: EventContext) => {
      clearTimeout(timer);
      const error = (ctx.connection as unknown as { error?: { condition?: string; description?: string; info?: unknown } }).error;
      reject(Object.assign(new Error(`connection refused: ${error?.condition} ${error?.description}`), { condition: error?.condition, description: error?.description, info: error?.info }));
    });
    connection.once('disconnected', (ctx: EventContext) => {
      clearTimeout(timer);
      reject(new Error(`disconnected: ${String((ctx as unknown as { error?: Error }).error?.message ?? '')}`));
    });
    connection.on('error', () => {});
  });
}

export function openSender(connection: Connection, target: Record<string, unknown> | string, extra: Record<string, unknown> = {}): Promise<Sender> {
  const sender = connection.open_sender({ target: typeof target === 'string' ? { address: target } : target, ...extra } as never);
  return linkOpened(sender);
}

export function openReceiver(connection: Connection, source: Record<string, unknown> | string, extra: Record<string, unknown> = {}): Promise<Receiver> {
  const receiver = connection.open_receiver({ source: typeof source === 'string' ? { address: source } : source, autoaccept: false, credit_window: 0, ...extra } as never);
  return linkOpened(receiver);
}

function linkOpened<T extends Sender | Receiver>(link: T): Promise<T> {
  const isSender = (link as unknown as { is_sender(): boolean }).is_sender();
  const event = isSender ? 'sender' : 'receiver';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('attach timed out')), 10_000);
    const refused = (): void => {
      clearTimeout(timer);
      const error = (link as unknown as { error?: { condition?: string; description?: string } }).error;
      // rhea's error is a composite with getters: copy the fields explicitly.
      const condition = error?.condition !== undefined ? String(error.condition) : undefined;
      const description = error?.description !== undefined ? String(error.description) : undefined;
      reject(Object.assign(new Error(`link refused: ${condition} ${description}`), { condition, description }));
    };
    link.once(`${event}_open`, () => {
      // A refused attach is answered with a null terminus, then a detach carrying the error
      // (AMQP 1.0 §2.6.3): wait for the detach in that case.
      const remote = (link as unknown as { remote: { attach?: { target?: unknown; source?: unknown } } }).remote.attach;
      const terminus = isSender ? remote?.target : remote?.source;
      const empty = terminus === null || terminus === undefined || (typeof terminus === 'object' && 'value' in (terminus as object) && (terminus as { value: unknown }).value === null);
      if (empty) return;
      clearTimeout(timer);
      resolve(link);
    });
    link.once(`${event}_error`, refused);
    link.once(`${event}_close`, refused);
  });
}

/** Sends each message unsettled and resolves with every outcome, in order. */
export function sendAll(sender: Sender, messages: readonly Message[], timeoutMs = 20_000): Promise<Outcome[]> {
  return new Promise((resolve, reject) => {
    const outcomes: (Outcome | undefined)[] = new Array(messages.length);
    let next = 0;
    let done = 0;
    const timer = setTimeout(() => reject(new Error(`only ${done} of ${messages.length} sends settled in ${timeoutMs} ms`)), timeoutMs);
    const record = (index: number, outcome: Outcome): void => {
      if (outcomes[index]) return;
      outcomes[index] = outcome;
      if (++done === messages.length) {
        clearTimeout(timer);
        resolve(outcomes as Outcome[]);
      }
    };
    const pump = (): void => {
      while (next < messages.length && sender.sendable()) {
        const index = next++;
        const delivery = sender.send(messages[index] as Message) as Delivery & { index?: number };
        delivery.index = index;
      }
    };
    const outcomeOf = (ctx: EventContext, state: Outcome['state']): void => {
      const delivery = ctx.delivery as Delivery & { index?: number; remote_state?: { error?: { condition?: string; description?: string } } };
      const error = delivery.remote_state?.error;
      record(delivery.index ?? -1, { state, ...(error?.condition ? { condition: String(error.condition) } : {}), ...(error?.description ? { description: String(error.description) } : {}) });
    };
    sender.on('accepted', (ctx: EventContext) => outcomeOf(ctx, 'accepted'));
    sender.on('rejected', (ctx: EventContext) => outcomeOf(ctx, 'rejected'));
    sender.on('released', (ctx: EventContext) => outcomeOf(ctx, 'released'));
    sender.on('modified', (ctx: EventContext) => outcomeOf(ctx, 'modified'));
    sender.on('sendable', pump);
    if (messages.length === 0) {
      clearTimeout(timer);
      resolve([]);
      return;
    }
    pump();
  });
}

export interface Received {
  readonly message: Message;
  readonly delivery: Delivery;
}

/** Grants credit and collects `count` messages (or as many as arrive before the deadline when
 * `atMost` is set), leaving them unsettled for the caller to settle. */
export function receiveN(receiver: Receiver, count: number, options: { timeoutMs?: number; atMost?: boolean } = {}): Promise<Received[]> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const received: Received[] = [];
    const onMessage = (ctx: EventContext): void => {
      received.push({ message: ctx.message as Message, delivery: ctx.delivery as Delivery });
      if (received.length >= count) finish();
    };
    const timer = setTimeout(() => {
      if (options.atMost) finish();
      else {
        receiver.removeListener('message', onMessage);
        reject(new Error(`received ${received.length} of ${count} messages in ${timeoutMs} ms`));
      }
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      receiver.removeListener('message', onMessage);
      resolve(received);
    };
    receiver.on('message', onMessage);
    if (count === 0) finish();
    else receiver.add_credit(count);
  });
}

/** Everything currently on a queue, accepted (so it is consumed), until `quietMs` passes with
 * nothing new. The queue's depth is asked first (management), and that many are waited for with
 * a generous deadline: on a loaded machine the first delivery can take longer than the quiet
 * period, and an early "nothing came" read as an empty queue would look like lost messages. */
export async function drain(port: number, address: string, quietMs = 500): Promise<Message[]> {
  const depth = await queueDepth(port, address);
  const conn = await connect(port);
  try {
    const receiver = await openReceiver(conn.connection, address);
    return await new Promise<Message[]>((resolve) => {
      const out: Message[] = [];
      let timer: ReturnType<typeof setTimeout> | undefined;
      // Below the depth asked for, a generous wait for the next message; at it, the quiet period.
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          receiver.removeAllListeners('message');
          resolve(out);
        }, out.length < depth ? 30_000 : quietMs);
      };
      receiver.on('message', (ctx: EventContext) => {
        out.push(ctx.message as Message);
        (ctx.delivery as Delivery).accept();
        // Accepting frees the broker's unsettled limit for this link; credit keeps up too.
        receiver.add_credit(1);
        arm();
      });
      receiver.add_credit(500);
      arm();
    });
  } finally {
    await conn.close();
  }
}

/** How many of the queue's messages are there for a new consumer, from the broker's management
 * node (0 when it cannot say). */
async function queueDepth(port: number, queue: string): Promise<number> {
  const { managementRequestAll } = await import('../../src/management/client.js');
  try {
    const rows = await managementRequestAll<{ name: string; count: number; acquired?: number }>({ transport: 'tcp', host: '127.0.0.1', port }, 'queues', {}, { admin: true, timeoutMs: 10_000 });
    const row = rows.find((r) => r.name === queue);
    // Messages other consumers hold (acquired) will not come to us.
    return row ? Math.max(0, row.count - (row.acquired ?? 0)) : 0;
  } catch {
    return 0;
  }
}
