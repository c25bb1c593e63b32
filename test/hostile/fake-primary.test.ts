// A fake primary (issue 19): after the primary is killed, a process answers on its port as a
// primary with a high epoch and an empty snapshot. The backups must not wipe themselves for it:
// its epoch history shares none of theirs. They stay ready with their data and their epoch, and
// promoting one of them afterwards recovers every message accepted before. And a process that
// answers a backup with the 37-byte frame that made rhea's decoder allocate gigabytes: the
// backup's own connection is guarded too.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { connect, drain, openSender, sendAll } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/broker-process.js';
import { FakePrimary } from '../helpers/replication-peer.js';

let cluster: Cluster | null = null;
let fake: FakePrimary | null = null;
after(async () => {
  fake?.stop();
  await cluster?.stop();
});

test('backups refuse a fake primary with a high epoch and an empty log, keep their stores, and one is promoted with every accepted message', async () => {
  cluster = await Cluster.start({ size: 3 });
  await cluster.promoteAndWait(0);
  const conn = await connect(cluster.ports[0] as number);
  const sender = await openSender(conn.connection, { address: 'orders', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  const bodies = Array.from({ length: 500 }, (_, i) => `m${i}`);
  const outcomes = await sendAll(sender, bodies.map((body) => ({ durable: true, body })));
  assert.ok(outcomes.every((o) => o.state === 'accepted'));
  await conn.close();
  await cluster.waitForReplication(0);
  const before = [await cluster.status(1), await cluster.status(2)];

  const wipesBefore = [1, 2].map((i) => (cluster as Cluster).broker(i).logs.filter((l) => /wiping the store/.test(l.msg)).length);
  await cluster.kill(0);
  fake = await FakePrimary.start({ port: cluster.ports[0] as number, epoch: 1000 });
  await waitFor(() => fake?.joined.includes('b1') && fake.joined.includes('b2'), 'both backups to try the fake primary', 15_000);
  for (const i of [1, 2]) {
    await cluster.broker(i).waitForLog((l) => l.msg.startsWith('refusing a primary whose epoch history'), 5000);
    const status = await cluster.status(i);
    assert.equal(status.state, 'ready', `b${i} is still ready`);
    assert.match(status.replicationError ?? '', /shares no epoch|does not hold|history/, `b${i} says what it refuses in its status: ${status.replicationError}`);
    assert.equal(status.lastLsn, before[i - 1]?.lastLsn, `b${i} kept its store`);
    assert.equal(status.epoch, before[i - 1]?.epoch, `b${i} did not take the fake epoch`);
    assert.equal(cluster.broker(i).logs.filter((l) => /wiping the store/.test(l.msg)).length, wipesBefore[i - 1], `b${i} never wiped for the fake`);
  }
  fake.stop();
  fake = null;

  await cluster.promote(1);
  await cluster.waitForState(1, 'active');
  const received = (await drain(cluster.ports[1] as number, 'orders')).map((m) => String(m.body));
  assert.deepEqual(bodies.filter((b) => !received.includes(b)), [], 'every accepted message is on the promoted backup');
});

test('a backup that connects to whatever answers on a dead primary\'s port survives the 37-byte frame', async () => {
  const c = await Cluster.start({ size: 2 });
  let raw: Server | null = null;
  try {
    await c.promoteAndWait(0);
    await c.kill(0);
    let knocks = 0;
    raw = createServer((socket) => {
      knocks++;
      socket.on('error', () => {});
      socket.write(Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'));
      socket.write(Buffer.from('0000002502000000005310d00000001500000003a10478787878' + '40f000000005ffffffff40', 'hex'));
    });
    await new Promise<void>((resolve) => raw?.listen(c.ports[0], '127.0.0.1', () => resolve()));
    await waitFor(() => knocks >= 3, 'the backup to try the hostile address a few times', 15_000);
    const pid = c.broker(1).child.pid as number;
    const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    assert.ok(rssKiB < 400 * 1024, `backup RSS ${rssKiB} KiB`);
    assert.equal(c.broker(1).child.exitCode, null, 'the backup is alive');
    assert.equal((await c.status(1)).state, 'ready', 'and still a ready backup');
  } finally {
    raw?.close();
    await c.stop();
  }
});
