// After a total cluster failure (issue 15): the first broker promoted recovers from its own
// store, and the others rejoin it. By default they wipe and copy a snapshot, as the reference
// (§1.12.4) has it; with `--ha-total-failure-resync incremental` they catch up by the delta, which
// here is nothing: every broker held the same log when the cluster died. Real brokers, SIGKILL
// of all three at once, restart on the same data dirs. The queue holds TOTAL_FAILURE_MESSAGES
// durable 1 KiB messages (default 2,000; the 10^5 with TOTAL_FAILURE_MESSAGES=100000).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventContext, Sender } from 'rhea';
import { connect, openSender } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/broker-process.js';

const MESSAGES = Number(process.env['TOTAL_FAILURE_MESSAGES'] ?? 2000);
const PAD = 'x'.repeat(1000);
const TIMEOUT_MS = Math.max(60_000, MESSAGES * 3);

const clusters: Cluster[] = [];
after(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
});

/** Sends `count` durable messages as fast as credit allows; resolves with the accepted bodies. */
async function fill(port: number, queue: string, count: number): Promise<Set<string>> {
  const conn = await connect(port);
  const sender: Sender = await openSender(conn.connection, { address: queue, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  const accepted = new Set<string>();
  let sent = 0;
  const pump = (): void => {
    while (sent < count && sender.sendable()) {
      const body = `m${sent++}-${PAD}`;
      (sender.send({ durable: true, body }) as unknown as { body: string }).body = body;
    }
  };
  sender.on('accepted', (ctx: EventContext) => accepted.add((ctx.delivery as unknown as { body: string }).body));
  sender.on('sendable', pump);
  pump();
  await waitFor(() => accepted.size >= count, `${count} accepted`, TIMEOUT_MS);
  await conn.close();
  return accepted;
}

// The two modes run side by side (each on its own cluster): the suite's time is shared.
test('total failure, both resync modes', { concurrency: 2 }, async (outer) => {
  await Promise.all((['wipe', 'incremental'] as const).map((mode) => outer.test(`total failure with ${MESSAGES} queued, --ha-total-failure-resync ${mode}: the others rejoin the first promoted by ${mode === 'wipe' ? 'a snapshot' : 'the delta'}, and hold every message`, async (t) => {
    const extraArgs = mode === 'incremental' ? ['--ha-total-failure-resync', 'incremental'] : [];
    const c = await Cluster.start({ size: 3, extraArgs });
    clusters.push(c);
    await c.promoteAndWait(0);
    const accepted = await fill(c.ports[0] as number, 'orders', MESSAGES);
    await c.waitForReplication(0, TIMEOUT_MS);
    await Promise.all([0, 1, 2].map((i) => c.kill(i)));
    for (const i of [0, 1, 2]) await c.startBroker(i);
    const promotedAt = Date.now();
    await c.promote(0);
    await c.waitForState(0, 'active', TIMEOUT_MS);
    await c.waitForState(1, 'ready', TIMEOUT_MS);
    await c.waitForState(2, 'ready', TIMEOUT_MS);
    t.diagnostic(`both backups ready ${Date.now() - promotedAt} ms after the promotion (${mode})`);
    const members = (await c.status(0)).members;
    const bodyBytes = MESSAGES * PAD.length;
    for (const name of ['b1', 'b2']) {
      const member = members.find((m) => m.name === name);
      t.diagnostic(`${name}: ${JSON.stringify(member?.catchUp)}, ${member?.shippedBytes ?? '?'} bytes shipped`);
      if (mode === 'wipe') {
        assert.equal(member?.catchUp?.kind, 'snapshot', `${name} caught up ${JSON.stringify(member?.catchUp)}`);
        // A full copy: of the order of the queue (snapshot frames count what they carry).
        assert.ok((member?.shippedBytes ?? 0) >= bodyBytes / 2, `${name} was sent the whole queue: ${member?.shippedBytes} bytes`);
      } else {
        assert.equal(member?.catchUp?.kind, 'incremental', `${name} caught up ${JSON.stringify(member?.catchUp)}`);
        assert.ok((member?.shippedBytes ?? 0) < bodyBytes / 10, `${name} was sent only the delta: ${member?.shippedBytes} bytes`);
      }
    }
    const onPrimary = (await c.storedBodies(0, 'orders')).map(String);
    assert.equal(onPrimary.length, MESSAGES, 'the first promoted recovered the whole queue from its store');
    assert.deepEqual([...accepted].filter((b) => !onPrimary.includes(b)), [], 'every accepted message survived');
    for (const i of [1, 2]) assert.deepEqual((await c.storedBodies(i, 'orders')).map(String), onPrimary, `b${i} holds what the primary holds, in order, once`);
  })));
});
