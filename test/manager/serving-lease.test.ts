// The primary's serving lease (issue 17): once a cluster manager set one (`qpid-ha lease`), a
// primary whose deadline passes settles no producer and gives no new credit, and says so in
// `qpid-ha status`, until it is renewed; a backup refuses a lease. Real brokers, a rhea producer.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, openSender } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/broker-process.js';

let cluster: Cluster | null = null;
after(async () => {
  await cluster?.stop();
});

test('a primary stops settling producers when its lease passes and resumes when it is renewed; a backup refuses a lease', async () => {
  cluster = await Cluster.start({ size: 2, heartbeatS: 0.5 });
  const c = cluster;
  await c.promoteAndWait(0);
  const target = `127.0.0.1:${c.ports[0]}`;

  const refused = await c.tool('qpid-ha', ['-b', `127.0.0.1:${c.ports[1]}`, 'lease', '--seconds', '1']);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /only a primary serves under a lease/);
  const bad = await c.tool('qpid-ha', ['-b', target, 'lease', '--seconds', 'soon']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--seconds/);
  assert.equal((await c.status(0)).lease, null, 'no lease before a manager sets one');

  const conn = await connect(c.ports[0] as number);
  const sender = await openSender(conn.connection, { address: 'orders', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  const acceptedAt: number[] = [];
  sender.on('accepted', () => acceptedAt.push(Date.now()));
  let sent = 0;
  const pump = setInterval(() => {
    // A steady trickle: 10 per 10 ms while credit lasts.
    for (let i = 0; i < 10 && sender.sendable(); i++) sender.send({ durable: true, body: `m${sent++}` });
  }, 10);
  try {
    await waitFor(() => acceptedAt.length >= 100, 'messages settled without a lease', 20_000);
    const set = await c.tool('qpid-ha', ['-b', target, 'lease', '--seconds', '1']);
    assert.equal(set.code, 0, set.stderr);
    await waitFor(() => acceptedAt.length >= 300, 'messages settled under a live lease', 20_000);
    const expired = await waitFor(async () => ((await c.status(0)).lease?.expired ? Date.now() : null), 'the lease to expire', 10_000);
    // Settlement stops with the deadline (the status poll may lag it by one round trip).
    await new Promise((r) => setTimeout(r, 1500));
    const late = acceptedAt.filter((t) => t > expired + 200).length;
    assert.equal(late, 0, `${late} messages settled after the lease expired`);
    // Either messages sent under the expired lease wait unsettled, or the producer had no credit
    // left to send them with (credit stops at the deadline too): both are the lease at work, and
    // which one a run sees depends on where the deadline fell in the producer's credit.
    assert.ok(sent > acceptedAt.length || !sender.sendable(), 'the producer had messages waiting, or no credit');
    // Credit runs out and is not renewed while paused.
    await waitFor(() => !sender.sendable(), 'the producer to run out of credit', 10_000);
    const status = await c.tool('qpid-ha', ['-b', target, 'status']);
    assert.match(status.stdout, /^active\nserving lease expired/);

    const settledBefore = acceptedAt.length;
    const renew = await c.tool('qpid-ha', ['-b', target, 'lease', '--seconds', '30']);
    assert.equal(renew.code, 0, renew.stderr);
    await waitFor(() => acceptedAt.length >= settledBefore + 200, 'settlement and credit to resume after the renewal', 20_000);
    assert.equal((await c.status(0)).lease?.expired, false);
  } finally {
    clearInterval(pump);
    conn.connection.close();
  }
});
