// rhea 3's own examples (github.com/amqp/rhea examples/: the npm package does not ship them),
// written out against the library's documented API as a user would run them against qpidd:
// helloworld, send/receive, client/server over a dynamic reply-to and the anonymous relay, queue
// browser, durable subscription, drain, selector, pub/sub to amq.topic with and without a binding.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import rhea, { type Connection, type EventContext, type Receiver } from 'rhea';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { queueStats } from '../integration/support.js';
import { declareQueue, queueDepth } from './broker-tools.js';
import { timeThisFile } from './suite-clock.js';

timeThisFile(import.meta.url);

const SCENARIO_MS = 15_000;
let broker: BrokerProcess;
let dataDir: string;

before(async () => {
  dataDir = tempDir('qpidd-interop-rhea-');
  broker = await startQpidd({ dataDir });
});

after(async () => {
  await broker?.stop();
  if (dataDir) removeDir(dataDir);
});

/** One example program: its own container and connection, what it would print, and a deadline
 * (an example that would hang fails the test saying what it printed so far). */
function example(name: string, body: (io: { connect: (options?: Record<string, unknown>) => Connection; print: (line: string) => void; done: () => void; fail: (err: Error) => void }) => void, timeoutMs = SCENARIO_MS): Promise<string[]> {
  const printed: string[] = [];
  const connections: Connection[] = [];
  return new Promise<string[]>((resolve, reject) => {
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      for (const c of connections) if (c.is_open()) c.close();
      if (err) reject(err);
      else resolve(printed);
    };
    const timer = setTimeout(() => finish(new Error(`${name} did not finish in ${timeoutMs} ms; printed: ${JSON.stringify(printed.slice(-10))}`)), timeoutMs);
    const container = rhea.create_container();
    // An error nobody handles would end the process in a real example; here it fails the test.
    container.on('error', (ctx: EventContext) => finish(new Error(`${name}: unhandled error ${String((ctx as unknown as { error?: unknown }).error)}`)));
    body({
      connect: (options = {}) => {
        const c = container.connect({ host: '127.0.0.1', port: broker.port, reconnect: false, ...options } as never);
        connections.push(c);
        return c;
      },
      print: (line) => printed.push(line),
      done: () => finish(),
      fail: (err) => finish(err),
    });
  });
}

const times = (n: number, f: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => f(i + 1));

test('rhea helloworld.js: Hello World! through a queue', async () => {
  await declareQueue(`127.0.0.1:${broker.port}`, 'rhea-hello');
  const out = await example('helloworld.js', ({ connect, print, done }) => {
    const c = connect();
    c.on('connection_open', (ctx: EventContext) => {
      ctx.connection.open_receiver('rhea-hello');
      ctx.connection.open_sender('rhea-hello');
    });
    c.on('message', (ctx: EventContext) => {
      print(String(ctx.message?.body));
      done();
    });
    c.once('sendable', (ctx: EventContext) => {
      ctx.sender?.send({ body: 'Hello World!' });
      ctx.sender?.detach();
    });
  });
  assert.deepEqual(out, ['Hello World!']);
});

test('rhea simple_send.js and simple_recv.js: 100 messages confirmed and received in order', async () => {
  await declareQueue(`127.0.0.1:${broker.port}`, 'rhea-simple');
  const receiving = example('simple_recv.js', ({ connect, print, done }) => {
    let received = 0;
    const c = connect({ idle_time_out: 5000 });
    c.on('message', (ctx: EventContext) => {
      print(JSON.stringify(ctx.message?.body));
      if (++received === 100) {
        ctx.receiver?.detach();
        done();
      }
    });
    c.open_receiver('rhea-simple');
  });
  const sending = example('simple_send.js', ({ connect, print, done }) => {
    let sent = 0;
    let confirmed = 0;
    const c = connect();
    c.on('sendable', (ctx: EventContext) => {
      while (ctx.sender?.sendable() && sent < 100) {
        sent++;
        print(`sent ${sent}`);
        ctx.sender.send({ message_id: sent, body: { sequence: sent } });
      }
    });
    c.on('accepted', () => {
      if (++confirmed === 100) {
        print('all messages confirmed');
        done();
      }
    });
    c.open_sender('rhea-simple');
  });
  const [received, sent] = await Promise.all([receiving, sending]);
  // rhea's test_examples.js expects exactly this output of each.
  assert.deepEqual(sent, [...times(100, (i) => `sent ${i}`), 'all messages confirmed']);
  assert.deepEqual(received, times(100, (i) => `{"sequence":${i}}`));
});

test('rhea client.js and server.js: dynamic reply-to queue, the server answering through connection.send (the anonymous relay)', async () => {
  await declareQueue(`127.0.0.1:${broker.port}`, 'rhea-requests');
  const requests = ['Twas brillig, and the slithy toves', 'Did gire and gymble in the wabe.', 'All mimsy were the borogroves,', 'And the mome raths outgrabe.'];
  let stopServer = (): void => {};
  const server = example('server.js', ({ connect, print, done }) => {
    stopServer = done;
    const c = connect();
    c.on('connection_open', (ctx: EventContext) => ctx.connection.open_receiver('rhea-requests'));
    c.on('message', (ctx: EventContext) => {
      const request = ctx.message as { reply_to?: string; body: unknown; correlation_id?: unknown };
      print(`Received: ${String(request.body)}`);
      ctx.connection.send({ to: request.reply_to, body: String(request.body).toUpperCase(), ...(request.correlation_id ? { correlation_id: request.correlation_id } : {}) } as never);
    });
  });
  const client = await example('client.js', ({ connect, print, done }) => {
    const pending = [...requests];
    let sender: ReturnType<Connection['open_sender']>;
    const next = (receiver: Receiver): void => {
      const address = (receiver as unknown as { source?: { address?: string } }).source?.address;
      if (address) sender.send({ reply_to: address, body: pending[0] });
    };
    const c = connect();
    c.on('connection_open', (ctx: EventContext) => {
      sender = ctx.connection.open_sender('rhea-requests');
      ctx.connection.open_receiver({ source: { dynamic: true } } as never);
    });
    c.on('receiver_open', (ctx: EventContext) => next(ctx.receiver as Receiver));
    c.on('message', (ctx: EventContext) => {
      print(`${pending.shift()} => ${String(ctx.message?.body)}`);
      if (pending.length) next(ctx.receiver as Receiver);
      else done();
    });
  });
  stopServer();
  const served = await server;
  assert.deepEqual(client, requests.map((r) => `${r} => ${r.toUpperCase()}`));
  assert.deepEqual(served, requests.map((r) => `Received: ${r}`));
});

test('rhea queue_browser.js: browsing (distribution-mode copy) leaves the messages for simple_recv.js', async () => {
  const queue = 'rhea-browsed';
  await declareQueue(`127.0.0.1:${broker.port}`, queue);
  await example('send 4', ({ connect, done }) => {
    let confirmed = 0;
    const sender = connect().open_sender(queue);
    sender.on('sendable', () => {
      for (let i = 1; i <= 4; i++) sender.send({ body: { sequence: i } });
    });
    sender.on('accepted', () => {
      if (++confirmed === 4) done();
    });
  });
  const browsed = await example('queue_browser.js', ({ connect, print, done }) => {
    let received = 0;
    connect().open_receiver({ source: { address: queue, distribution_mode: 'copy' } }).on('message', (ctx: EventContext) => {
      print(JSON.stringify(ctx.message?.body));
      if (++received === 4) {
        ctx.receiver?.detach();
        done();
      }
    });
  });
  assert.deepEqual(browsed, times(4, (i) => `{"sequence":${i}}`));
  assert.equal(await queueDepth(broker.port, queue), 4);
});

test('rhea durable_subscription: what is published while the subscriber is detached waits for it', async () => {
  const topic = 'amq.topic/PRICE.STOCK.NYSE.*';
  const subscribe = (stopAt: string): Promise<string[]> =>
    example('durable_subscription/subscriber.js', ({ connect, print, done }) => {
      // The subscription is the container id with the link name (rhea's example comment).
      const c = connect({ container_id: 'rhea-interop-client' });
      c.on('receiver_open', () => print('subscribed'));
      c.on('message', (ctx: EventContext) => {
        const body = String(ctx.message?.body);
        if (body === stopAt) {
          ctx.receiver?.detach();
          done();
        } else print(body);
      });
      c.open_receiver({ name: 'rhea-interop-subscription', source: { address: topic, durable: 2, expiry_policy: 'never' } });
    });
  const publish = (bodies: string[]): Promise<string[]> =>
    example('durable_subscription/publisher.js', ({ connect, done }) => {
      let settled = 0;
      const sender = connect().open_sender('amq.topic');
      sender.once('sendable', () => {
        for (const body of bodies) sender.send({ subject: 'PRICE.STOCK.NYSE.RHT', body });
      });
      sender.on('settled', () => {
        if (++settled === bodies.length) done();
      });
    });
  const first = subscribe('detach');
  await waitForSubscriber('rhea-interop-client_rhea-interop-subscription');
  await publish(['RHT 100.1', 'detach']);
  assert.deepEqual(await first, ['subscribed', 'RHT 100.1']);
  await publish(['RHT 100.2', 'RHT 100.3', 'detach']);
  assert.deepEqual(await subscribe('detach'), ['subscribed', 'RHT 100.2', 'RHT 100.3']);
});

async function waitForSubscriber(queue: string): Promise<void> {
  const deadline = Date.now() + SCENARIO_MS;
  for (;;) {
    const stats = await queueStats(broker.port, queue);
    if (stats && Number(stats['consumers'] ?? 1) > 0) return;
    if (Date.now() > deadline) throw new Error(`subscription queue ${queue} never appeared`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('rhea drain.js: credit 10 at a time with drain set; receiver_drained once the queue is empty', async () => {
  const queue = 'rhea-drain';
  await declareQueue(`127.0.0.1:${broker.port}`, queue);
  await example('send 25', ({ connect, done }) => {
    let confirmed = 0;
    const sender = connect().open_sender(queue);
    sender.once('sendable', () => {
      for (let i = 1; i <= 25; i++) sender.send({ body: i });
    });
    sender.on('accepted', () => {
      if (++confirmed === 25) done();
    });
  });
  const out = await example('drain.js', ({ connect, print, done }) => {
    const batch = 10;
    let received = 0;
    const c = connect();
    c.on('message', (ctx: EventContext) => {
      print(JSON.stringify(ctx.message?.body));
      if (++received === batch) {
        received = 0;
        ctx.receiver?.add_credit(batch);
      }
    });
    c.on('receiver_open', (ctx: EventContext) => {
      const receiver = ctx.receiver as unknown as { flow(credit: number): void; drain: boolean };
      receiver.flow(batch);
      receiver.drain = true;
    });
    c.on('receiver_drained', (ctx: EventContext) => {
      print('drained');
      ctx.receiver?.detach();
      done();
    });
    c.open_receiver({ source: { address: queue }, credit_window: 0 });
  });
  assert.deepEqual(out, [...times(25, (i) => String(i)), 'drained']);
});

test('rhea selector/recv.js and selector/send.js: the receiver gets only the red messages, and the reply echoes its selector (§3.5.3)', async () => {
  const queue = 'rhea-selector';
  await declareQueue(`127.0.0.1:${broker.port}`, queue);
  // send.js: its four default messages (red panda, green grasshopper, red squirrel, blue whale).
  const sent = await example('selector/send.js', ({ connect, print, done }) => {
    const connection = connect();
    const sender = connection.open_sender(queue);
    const messages = [
      { application_properties: { colour: 'red' }, body: 'panda' },
      { application_properties: { colour: 'green' }, body: 'grasshopper' },
      { application_properties: { colour: 'red' }, body: 'squirrel' },
      { application_properties: { colour: 'blue' }, body: 'whale' },
    ];
    sender.on('sendable', () => {
      for (const m of messages) {
        print(`sent ${JSON.stringify(m)}`);
        sender.send(m);
      }
      // The example closes at once; here the close waits for the broker's outcomes, so that the
      // receiver below is sure to find the messages queued.
      let settled = 0;
      sender.on('accepted', () => {
        if (++settled === messages.length) done();
      });
    });
  });
  assert.equal(sent.length, 4);
  // recv.js with its defaults: selector "colour = 'red'", -m 2 here (the two red ones).
  const out = await example('selector/recv.js', ({ connect, print, done }) => {
    let received = 0;
    const receiver = connect().open_receiver({ source: { address: queue, filter: rhea.filter.selector("colour = 'red'") } });
    receiver.on('receiver_open', () => {
      const remote = (receiver as unknown as { remote: { attach?: { source?: { filter?: Record<string, unknown> } } } }).remote.attach?.source?.filter;
      print(`reply filter: ${remote ? Object.keys(remote).join(',') : 'none'}`);
    });
    receiver.on('message', (ctx: EventContext) => {
      print(String(ctx.message?.body));
      if (++received === 2) {
        ctx.receiver?.detach();
        done();
      }
    });
  });
  assert.deepEqual(out, ['reply filter: jms-selector', 'panda', 'squirrel']);
  assert.equal(await queueDepth(broker.port, queue), 2, 'the green and blue messages stay on the queue');
});

test('rhea pub/sub to amq.topic: accepted with no binding (qpidd drops it), delivered to a subscriber when there is one', async () => {
  const out = await example('publish with no subscriber', ({ connect, print, done }) => {
    const sender = connect().open_sender('amq.topic');
    sender.once('sendable', () => sender.send({ subject: 'nobody.listens', body: 'lost in space' }));
    for (const outcome of ['accepted', 'rejected', 'released', 'modified']) {
      sender.on(outcome, (ctx: EventContext) => {
        const error = (ctx.delivery as unknown as { remote_state?: { error?: { condition?: string } } }).remote_state?.error;
        print(`${outcome}${error?.condition ? ` ${String(error.condition)}` : ''}`);
        done();
      });
    }
  });
  assert.deepEqual(out, ['accepted']);
  const delivered = await example('publish to a subscriber', ({ connect, print, done }) => {
    const c = connect();
    const receiver = c.open_receiver('amq.topic/news.#');
    receiver.on('message', (ctx: EventContext) => {
      print(String(ctx.message?.body));
      done();
    });
    receiver.once('receiver_open', () => {
      const sender = c.open_sender('amq.topic');
      sender.once('sendable', () => sender.send({ subject: 'news.uk', body: 'extra extra' }));
    });
  });
  assert.deepEqual(delivered, ['extra extra']);
});
