// The heart of HA (issue 4): a cluster where backups stay hot, so that when the primary dies a
// promoted backup has every acknowledged message.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, drain, openSender, sendAll } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';

const durableQueue = (address: string) => ({ address, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });

let cluster: Cluster | null = null;
after(async () => {
  await cluster?.stop();
});

test('kill the primary, promote a backup: the queue holds every accepted message', async () => {
  cluster = await Cluster.start({ size: 3 });
  await cluster.promoteAndWait(0);
  const conn = await connect(cluster.ports[0] as number);
  const sender = await openSender(conn.connection, durableQueue('orders'));
  const outcomes = await sendAll(sender, Array.from({ length: 200 }, (_, i) => ({ durable: true, body: `order-${i}` })));
  assert.ok(outcomes.every((o) => o.state === 'accepted'));
  await conn.close();

  await cluster.kill(0);
  await cluster.promote(1);
  await cluster.waitForState(1, 'active');
  const bodies = (await drain(cluster.ports[1] as number, 'orders')).map((m) => m.body);
  assert.deepEqual(bodies, Array.from({ length: 200 }, (_, i) => `order-${i}`));
  // The other backup follows the new primary.
  await cluster.waitForState(2, 'ready');
});
