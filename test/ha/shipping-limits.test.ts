// The shipping limits as options (issue 15: --ha-frame-window, --ha-log-batch,
// --ha-snapshot-batch, --ha-live-pending-entries): set to their smallest, a cluster still
// replicates every message in order, through a snapshot, a backlog and the live stream, with the
// live backup falling back to the store whenever its few pending entries overflow.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, openSender, sendAll } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';

let cluster: Cluster | null = null;
after(async () => {
  await cluster?.stop();
});

test('tiny frames, batches and live buffers: every message reaches every backup, in order', async () => {
  cluster = await Cluster.start({ size: 3, extraArgs: ['--ha-frame-window', '1', '--ha-log-batch', '3', '--ha-snapshot-batch', '2', '--ha-live-pending-entries', '4'] });
  const c = cluster;
  await c.promoteAndWait(0);
  const conn = await connect(c.ports[0] as number);
  const sender = await openSender(conn.connection, { address: 'q', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  const first = Array.from({ length: 120 }, (_, i) => ({ durable: true, body: `m${i}` }));
  assert.ok((await sendAll(sender, first, 60_000)).every((o) => o.state === 'accepted'));
  // b2 leaves; more arrives; it comes back for a backlog while the live stream goes on.
  await c.kill(2);
  const second = Array.from({ length: 120 }, (_, i) => ({ durable: true, body: `m${120 + i}` }));
  assert.ok((await sendAll(sender, second, 60_000)).every((o) => o.state === 'accepted'));
  await c.startBroker(2);
  const third = Array.from({ length: 120 }, (_, i) => ({ durable: true, body: `m${240 + i}` }));
  assert.ok((await sendAll(sender, third, 60_000)).every((o) => o.state === 'accepted'));
  await c.waitForState(2, 'ready', 60_000);
  await c.waitForReplication(0, 60_000);
  const expected = Array.from({ length: 360 }, (_, i) => `m${i}`);
  assert.deepEqual(await c.storedBodies(1, 'q'), expected);
  assert.deepEqual(await c.storedBodies(2, 'q'), expected);
  await conn.close();
});
