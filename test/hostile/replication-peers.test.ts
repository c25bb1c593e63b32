// Hostile replication peers (issue 19) against a real 3-broker cluster: a stranger joining as a
// backup, joins and frames with absurd epochs, a fake backup under a real backup's name, and a
// fake backup that joins and never confirms. After each, the primary is still active, its
// memory bounded, another client's round trip quick, the real backups ready, and every message
// accepted before is still on the primary.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { connect, drain, openReceiver, openSender, receiveN, sendAll } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/broker-process.js';
import { ReplicationPeer } from '../helpers/replication-peer.js';

const CONFIRM_TIMEOUT_S = 1;
const RSS_BYTES_MAX = 400 * 1024 * 1024;
const queueNode = (address: string) => ({ address, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });

let cluster: Cluster;
const accepted: string[] = [];

before(async () => {
  cluster = await Cluster.start({ size: 3, extraArgs: ['--ha-confirm-timeout', String(CONFIRM_TIMEOUT_S)] });
  await cluster.promoteAndWait(0);
  await sendDurable(Array.from({ length: 200 }, (_, i) => `before-${i}`));
});

after(async () => {
  await cluster?.stop();
});

async function sendDurable(bodies: string[]): Promise<void> {
  const conn = await connect(cluster.ports[0] as number);
  try {
    const sender = await openSender(conn.connection, queueNode('orders'));
    const outcomes = await sendAll(sender, bodies.map((body) => ({ durable: true, body })));
    assert.deepEqual(new Set(outcomes.map((o) => o.state)), new Set(['accepted']));
    accepted.push(...bodies);
  } finally {
    await conn.close();
  }
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

/** A fresh client's send-and-receive on a non-replicated transient queue of the primary. */
async function roundTripMs(): Promise<number> {
  const conn = await connect(cluster.ports[0] as number);
  try {
    const queue = `probe-${randomUUID().slice(0, 8)}`;
    const sender = await openSender(conn.connection, { address: queue, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { 'qpid.replicate': 'none', 'auto-delete': true } });
    const receiver = await openReceiver(conn.connection, queue);
    const start = performance.now();
    sender.send({ body: 'ping' });
    const [got] = await receiveN(receiver, 1);
    got?.delivery.accept();
    return performance.now() - start;
  } finally {
    await conn.close();
  }
}

async function assertClusterUnharmed(what: string): Promise<void> {
  const status = await cluster.status(0);
  assert.equal(status.state, 'active', `${what}: the primary is still active`);
  assert.equal(cluster.broker(0).child.exitCode, null, `${what}: the primary did not exit`);
  assert.ok(rssBytes(cluster.broker(0).child.pid as number) < RSS_BYTES_MAX, `${what}: primary RSS bounded`);
  const ms = await roundTripMs();
  assert.ok(ms < 100, `${what}: another client's round trip took ${ms.toFixed(1)} ms`);
  for (const i of [1, 2]) assert.equal((await cluster.status(i)).state, 'ready', `${what}: b${i} is still a ready backup`);
}

function storeIdOf(status: { storeId: string }): string {
  return status.storeId;
}

test('a stranger (not a host of --ha-brokers-url) cannot join as a backup', async () => {
  const peer = new ReplicationPeer({ port: cluster.ports[0] as number, localAddress: '127.0.0.2' });
  await peer.opened;
  peer.send({ kind: 'join', epoch: 1, name: 'b9', storeId: randomUUID(), address: null, epochSeen: 1 });
  await waitFor(() => peer.ended, 'the stranger to be sent away');
  assert.match(String(peer.ended), /not a member of this cluster/);
  assert.equal(peer.frames.length, 0, 'the stranger got no frame (no hello, no snapshot)');
  await assertClusterUnharmed('stranger');
});

test('a join claiming epoch 2^32-1 closes that link and never the primary; so does a frame header claiming it', async () => {
  const peer = new ReplicationPeer({ port: cluster.ports[0] as number });
  await peer.opened;
  peer.send({ kind: 'join', epoch: 1, name: 'absurd', storeId: randomUUID(), address: null, epochSeen: 2 ** 32 - 1 });
  await waitFor(() => peer.ended, 'the absurd join to be refused');
  assert.match(String(peer.ended), /amqp:decode-error/);
  const header = new ReplicationPeer({ port: cluster.ports[0] as number });
  await header.opened;
  const raw = Buffer.concat([Buffer.from([1, 0xff, 0xff, 0xff, 0xff]), Buffer.from(JSON.stringify({ name: 'absurd2', storeId: randomUUID(), address: null, epochSeen: 1 }))]);
  header.sendRaw(raw);
  await waitFor(() => header.ended, 'the absurd header to be refused');
  assert.match(String(header.ended), /amqp:decode-error/);
  await assertClusterUnharmed('absurd epoch');
});

test('a second backup claiming a connected backup\'s name is refused; the real one stays ready', async () => {
  const joinsBefore = cluster.broker(0).logs.filter((l) => l.msg === 'backup joined; catch-up starts' && l['backup'] === 'b1').length;
  const peer = new ReplicationPeer({ port: cluster.ports[0] as number });
  await peer.opened;
  peer.send({ kind: 'join', epoch: 1, name: 'b1', storeId: randomUUID(), address: null, epochSeen: 1 });
  await waitFor(() => peer.ended, 'the impostor to be refused');
  assert.match(String(peer.ended), /already connected/);
  assert.equal(storeIdOf(await cluster.status(1)).length > 0, true);
  await assertClusterUnharmed('impostor');
  const joinsAfter = cluster.broker(0).logs.filter((l) => l.msg === 'backup joined; catch-up starts' && l['backup'] === 'b1').length;
  assert.equal(joinsAfter, joinsBefore, 'the real b1 was not made to resync');
});

test('a fake backup that joins and never confirms stalls producers for at most the confirm timeout', async () => {
  const peer = new ReplicationPeer({ port: cluster.ports[0] as number });
  await peer.opened;
  peer.send({ kind: 'join', epoch: 1, name: 'silent', storeId: randomUUID(), address: null, epochSeen: 1 });
  // It enters the gate once the snapshot and backlog are shipped to it (it never confirms).
  await cluster.broker(0).waitForLog((l) => l.msg === 'backup entered the ack gate' && l['backup'] === 'silent', 10_000);
  const start = performance.now();
  await sendDurable(['during-stall']);
  const stalledMs = performance.now() - start;
  assert.ok(stalledMs < CONFIRM_TIMEOUT_S * 1000 + 1500, `the producer waited ${stalledMs.toFixed(0)} ms (confirm timeout ${CONFIRM_TIMEOUT_S} s)`);
  await waitFor(() => peer.ended, 'the silent backup to be dropped');
  assert.ok(peer.frames.some((f) => f.kind === 'state' && f.state === 'catchup'), 'it was told it left the gate');
  await assertClusterUnharmed('silent backup');
});

test('every message accepted before and during the attacks is on the primary', async () => {
  const bodies = (await drain(cluster.ports[0] as number, 'orders')).map((m) => String(m.body));
  const missing = accepted.filter((b) => !bodies.includes(b));
  assert.deepEqual(missing, []);
});
