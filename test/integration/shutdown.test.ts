// Stopping (issue 3, and issue 11: as qpidd does it): on SIGTERM or SIGINT qpidd stops
// accepting, lets in-flight commits finish and settles what is durable, then drops every client
// socket with no AMQP close frame (Proton Python never answers amqp:connection:forced and hangs)
// and exits 0; every message a producer was told `accepted` is there after the restart
// (messages in flight but not yet settled may be there too: a resend, an allowed duplicate).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Connection, EventContext } from 'rhea';
import { connect, drain, openReceiver, openSender, receiveN } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, waitFor } from '../helpers/broker-process.js';
import { queueNode } from './support.js';

/** Resolves with the error condition the broker closes the connection with (or 'none'). */
function closeCondition(connection: Connection): Promise<string> {
  return new Promise((resolve) => {
    const done = (ctx: EventContext): void => {
      const error = (ctx.connection as unknown as { error?: { condition?: unknown } }).error;
      resolve(error?.condition !== undefined ? String(error.condition) : 'none');
    };
    connection.once('connection_close', done);
    connection.once('connection_error', done);
    connection.once('disconnected', () => resolve('disconnected without close'));
  });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} with durable sends in flight: exit 0, client sockets dropped with no close frame, every accepted message survives`, async (t) => {
    const dataDir = tempDir();
    try {
      let broker = await startQpidd({ dataDir });
      const producer = await connect(broker.port);
      const consumer = await connect(broker.port);
      const producerClosed = closeCondition(producer.connection);
      const consumerClosed = closeCondition(consumer.connection);
      const sender = await openSender(producer.connection, queueNode('shutdown', { durable: true }));
      // A consumer holding unsettled deliveries of another durable queue: they must survive too.
      const held = await openSender(producer.connection, queueNode('held', { durable: true }));
      for (let i = 0; i < 5; i++) held.send({ durable: true, body: `held-${i}` });
      const holder = await openReceiver(consumer.connection, 'held');
      await receiveN(holder, 5);

      // Send as fast as credit allows; record which sends were accepted.
      const accepted = new Set<number>();
      let sent = 0;
      const total = 20_000;
      sender.on('accepted', (ctx: EventContext) => accepted.add((ctx.delivery as unknown as { index: number }).index));
      const pump = (): void => {
        while (sent < total && sender.sendable()) {
          const delivery = sender.send({ durable: true, message_id: sent, body: `m${sent}` }) as unknown as { index: number };
          delivery.index = sent++;
        }
      };
      sender.on('sendable', pump);
      pump();
      await waitFor(() => accepted.size >= 500, 'some sends accepted before the signal', 20_000);
      broker.kill(signal);
      const exit = await broker.exited;
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.equal(await producerClosed, 'disconnected without close');
      assert.equal(await consumerClosed, 'disconnected without close');
      t.diagnostic(`${sent} sent, ${accepted.size} accepted when the broker stopped`);
      const msgs = broker.logs.map((l) => l.msg);
      assert.ok(msgs.includes('signal received') && msgs.indexOf('signal received') < msgs.indexOf('stopped'), JSON.stringify(msgs.slice(-8)));

      broker = await startQpidd({ dataDir });
      try {
        const bodies = new Set((await drain(broker.port, 'shutdown')).map((m) => String(m.body)));
        const missing = [...accepted].filter((i) => !bodies.has(`m${i}`));
        assert.deepEqual(missing, [], `${missing.length} accepted messages missing after the restart`);
        const heldAgain = await drain(broker.port, 'held');
        assert.deepEqual(heldAgain.map((m) => String(m.body)).sort(), ['held-0', 'held-1', 'held-2', 'held-3', 'held-4']);
        assert.ok(heldAgain.every((m) => (m.delivery_count ?? 0) >= 1), 'redelivered messages say they may have been seen');
      } finally {
        assert.equal((await broker.stop()).code, 0);
      }
    } finally {
      removeDir(dataDir);
    }
  });
}

test('a stopping broker accepts no new connections', async () => {
  const dataDir = tempDir();
  try {
    const broker = await startQpidd({ dataDir });
    const port = broker.port;
    broker.kill('SIGTERM');
    assert.equal((await broker.exited).code, 0);
    await assert.rejects(connect(port), /disconnected|refused|ECONNREFUSED/);
  } finally {
    removeDir(dataDir);
  }
});
