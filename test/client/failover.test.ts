// Failover end to end over loopback: redirects and forced refusals from "backups", dropped
// connections mid-send with in-order resend of everything unsettled, held settlements, a restart on
// the same port, heartbeat detection of a silent peer, receivers across a reconnect, give-up.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ClientError, connect, type ClientEvent, type Connection } from '../../src/client/index.js';
import { AmqpPeer, FreezableProxy, waitFor, type PeerQueues } from '../helpers/amqp-peer.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function peer(options: Parameters<typeof AmqpPeer.start>[0] = {}): Promise<AmqpPeer> {
  const started = await AmqpPeer.start(options);
  cleanups.push(() => started.stop());
  return started;
}

async function open(url: string, options: Parameters<typeof connect>[1] = {}): Promise<Connection> {
  const connection = await connect(url, options);
  cleanups.push(() => connection.close());
  return connection;
}

const FAST_RECONNECT = { limit: -1, initialDelayMs: 10, maxDelayMs: 100 };

/** Sequence numbers stored in a peer queue, in queue order. */
function sns(queues: PeerQueues, name: string): number[] {
  return (queues.get(name)?.messages ?? []).map((stored) => stored.message.application_properties?.['sn'] as number);
}

function assertEverySnOnce(stored: number[], count: number): void {
  const seen = new Set(stored);
  for (let sn = 1; sn <= count; sn++) assert.ok(seen.has(sn), `sn ${sn} missing`);
}

test('a backup that redirects sends the client to the primary it names', async () => {
  const primary = await peer();
  const backup = await peer({ mode: { kind: 'redirect', host: '127.0.0.1', port: primary.port } });
  const events: ClientEvent[] = [];
  const connection = await open(backup.url, { onEvent: (event) => events.push(event) });
  assert.equal(connection.stats.address, primary.url);
  assert.deepEqual(events, [
    { kind: 'attempt-failed', address: backup.url, reason: `redirected to ${primary.url}`, redirectTo: primary.url },
    { kind: 'connected', address: primary.url, reconnect: false },
  ]);
  const sender = await connection.sender('q');
  assert.equal((await sender.send({ body: 'via redirect' })).outcome, 'accepted');
  assert.equal(primary.queue('q').messages.length, 1);
});

test('amqp:connection:forced from a backup means: try the next address', async () => {
  const backup = await peer({ mode: { kind: 'forced', description: 'backup does not know the primary' } });
  const primary = await peer();
  const events: ClientEvent[] = [];
  const connection = await open(`amqp:${backup.url},${primary.url}`, { onEvent: (event) => events.push(event) });
  assert.equal(connection.stats.address, primary.url);
  assert.equal(events[0]?.kind, 'attempt-failed');
  assert.match((events[0] as { reason: string }).reason, /amqp:connection:forced \(backup does not know the primary\)/);
});

test('a refusal sent in a later write than the open is still a refused attempt, not a connection', async () => {
  const primary = await peer();
  const backup = await peer({ mode: { kind: 'forced', description: 'backup' } });
  backup.refuseDelayMs = 30;
  const events: ClientEvent[] = [];
  const connection = await open(`${backup.url},${primary.url}`, { reconnect: FAST_RECONNECT, onEvent: (event) => events.push(event) });
  assert.equal(connection.stats.address, primary.url);
  assert.deepEqual(
    events.map((event) => event.kind),
    ['attempt-failed', 'connected'],
  );
  assert.equal(connection.stats.reconnects, 0);
});

test('an admin connection is accepted by a backup', async () => {
  const backup = await peer({ mode: { kind: 'forced', description: 'backup' } });
  const connection = await open(backup.url, { admin: true });
  assert.equal(connection.stats.address, backup.url);
});

test('a connection dropped mid-send: every unsettled message is resent in order, none lost', async () => {
  const broker = await peer();
  const connection = await open(broker.url, { reconnect: FAST_RECONNECT });
  const sender = await connection.sender('q', { capacity: 50 });
  broker.dropAfter(120);
  const count = 400;
  const outcomes = await Promise.all(Array.from({ length: count }, (_, index) => sender.send({ body: index, application_properties: { sn: index + 1 } })));
  assert.ok(outcomes.every((outcome) => outcome.outcome === 'accepted'));
  const stored = sns(broker.queues, 'q');
  assertEverySnOnce(stored, count);
  // Resends follow their originals in order: after the drop, the stored sequence never goes back
  // except once, to the first message the broker had not settled.
  const backSteps = stored.filter((sn, index) => index > 0 && sn <= (stored[index - 1] as number));
  assert.equal(backSteps.length, 1);
  assert.equal(connection.stats.reconnects, 1);
  assert.ok(connection.stats.resent >= 1, `resent ${connection.stats.resent}`);
  assert.equal(connection.stats.resent, sender.stats.resent);
  // Duplicates are possible (stored, then the drop lost the settlement), never more than resent.
  assert.ok(stored.length - count <= connection.stats.resent);
});

test('settlements held by a recovering primary: sends wait, then complete after a reconnect', async () => {
  const broker = await peer();
  const connection = await open(broker.url, { reconnect: FAST_RECONNECT });
  const sender = await connection.sender('q');
  broker.holdSettlements = true;
  const sends = Array.from({ length: 10 }, (_, index) => sender.send({ body: index, application_properties: { sn: index + 1 } }));
  await waitFor('ten held messages', () => broker.heldCount === 10);
  assert.equal(sender.stats.unsettled, 10);
  broker.dropConnections();
  await waitFor('the resend', () => broker.transfersReceived === 20);
  assert.equal(connection.stats.resent, 10);
  broker.releaseHeld();
  const outcomes = await Promise.all(sends);
  assert.ok(outcomes.every((outcome) => outcome.outcome === 'accepted'));
  assert.deepEqual(sns(broker.queues, 'q'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test('a broker restarted on the same port: the client reconnects and counts the time disconnected', async () => {
  const queues: PeerQueues = new Map();
  const first = await AmqpPeer.start({ queues });
  const connection = await open(first.url, { reconnect: FAST_RECONNECT });
  const sender = await connection.sender('q');
  assert.equal((await sender.send({ body: 'before' })).outcome, 'accepted');
  await first.stop();
  await waitFor('the client to notice', () => !connection.isOpen);
  const during = sender.send({ body: 'during' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  await peer({ port: first.port, queues });
  assert.equal((await during).outcome, 'accepted');
  assert.equal(connection.stats.reconnects, 1);
  assert.ok(connection.stats.disconnectedMs >= 150, `disconnectedMs ${connection.stats.disconnectedMs}`);
  assert.deepEqual(queues.get('q')?.bodies(), ['before', 'during']);
});

test('primary lost, backup promoted: the client rotates to it and resends (shared queues = replication)', async () => {
  const queues: PeerQueues = new Map();
  const primary = await AmqpPeer.start({ queues });
  const backup = await peer({ queues, mode: { kind: 'redirect', host: '127.0.0.1', port: primary.port } });
  const events: ClientEvent[] = [];
  const connection = await open(`${primary.url},${backup.url}`, { reconnect: FAST_RECONNECT, onEvent: (event) => events.push(event) });
  const sender = await connection.sender('q', { capacity: 20 });
  primary.dropAfter(30);
  const sending = Promise.all(Array.from({ length: 100 }, (_, index) => sender.send({ body: index, application_properties: { sn: index + 1 } })));
  await waitFor('the drop', () => !connection.isOpen || primary.transfersReceived >= 30);
  await primary.stop();
  backup.mode = { kind: 'broker' };
  const outcomes = await sending;
  assert.ok(outcomes.every((outcome) => outcome.outcome === 'accepted'));
  assertEverySnOnce(sns(queues, 'q'), 100);
  assert.equal(connection.stats.address, backup.url);
  assert.ok(events.some((event) => event.kind === 'connected' && event.reconnect && event.address === backup.url));
});

test('a silent peer is detected by heartbeat within about twice the interval', async () => {
  const broker = await peer();
  const proxy = await FreezableProxy.start(broker.port);
  cleanups.push(() => proxy.stop());
  const events: ClientEvent[] = [];
  const connection = await open(`127.0.0.1:${proxy.port},${broker.url}`, {
    reconnect: FAST_RECONNECT,
    heartbeatS: 0.3,
    onEvent: (event) => events.push(event),
  });
  assert.equal(connection.stats.address, `127.0.0.1:${proxy.port}`);
  // Heartbeats keep an idle connection up well past the interval.
  await new Promise((resolve) => setTimeout(resolve, 900));
  assert.equal(connection.stats.address, `127.0.0.1:${proxy.port}`);
  const frozenAt = Date.now();
  proxy.frozen = true;
  await waitFor('failover to the direct address', () => connection.stats.address === broker.url, 5000);
  const detectedMs = Date.now() - frozenAt;
  assert.ok(detectedMs >= 500 && detectedMs < 1500, `detected after ${detectedMs} ms`);
  const lost = events.find((event) => event.kind === 'disconnected');
  assert.match((lost as { reason: string }).reason, /heartbeat/);
});

test('a receiver keeps its place across a reconnect; unsettled deliveries come back redelivered', async () => {
  const broker = await peer();
  for (let sn = 1; sn <= 10; sn++) broker.queue('work').push({ body: sn, application_properties: { sn } });
  const connection = await open(broker.url, { reconnect: FAST_RECONNECT });
  const receiver = await connection.receiver('work', { credit: 4 });
  const accepted = new Set<number>();
  const redelivered = new Set<number>();
  let dropped = false;
  for await (const delivery of receiver) {
    const sn = delivery.message.body as number;
    if (delivery.redelivered) redelivered.add(sn);
    if (sn === 3 && !dropped) {
      dropped = true;
      broker.dropConnections(); // sn 3 is never accepted on this connection
      continue;
    }
    delivery.accept();
    accepted.add(sn);
    if (accepted.size === 10) break;
  }
  assert.ok(redelivered.has(3), 'sn 3 came back marked redelivered');
  assert.equal(broker.queue('work').messages.length, 0);
  assert.equal(connection.stats.reconnects, 1);
});

test('reconnect limit: gives up with CONNECT_FAILED after limit+1 passes, backing off between them', async () => {
  const broker = await peer();
  await broker.stop();
  const events: ClientEvent[] = [];
  const started = Date.now();
  await assert.rejects(
    connect(broker.url, { reconnect: { limit: 2, initialDelayMs: 40, maxDelayMs: 1000 }, onEvent: (event) => events.push(event) }),
    (error: ClientError) => error.code === 'CONNECT_FAILED' && /reconnect limit 2/.test(error.message),
  );
  const elapsedMs = Date.now() - started;
  assert.equal(events.filter((event) => event.kind === 'attempt-failed').length, 3);
  assert.ok(elapsedMs >= 40 + 80 - 5, `waited ${elapsedMs} ms`);
});

test('without reconnect a lost connection rejects pending sends with DISCONNECTED', async () => {
  const broker = await peer();
  broker.holdSettlements = true;
  const connection = await open(broker.url);
  const sender = await connection.sender('q');
  const pending = assert.rejects(sender.send({ body: 'x' }), (error: ClientError) => error.code === 'DISCONNECTED');
  await waitFor('held', () => broker.heldCount === 1);
  broker.dropConnections();
  await pending;
  await assert.rejects(sender.send({ body: 'y' }), (error: ClientError) => error.code === 'DISCONNECTED');
});

test('reconnect timeout: gives up with DISCONNECTED once disconnected that long', async () => {
  const broker = await AmqpPeer.start();
  const connection = await open(broker.url, { reconnect: { ...FAST_RECONNECT, timeoutMs: 300 } });
  const sender = await connection.sender('q');
  await broker.stop();
  const started = Date.now();
  await assert.rejects(sender.send({ body: 'x' }), (error: ClientError) => error.code === 'DISCONNECTED');
  assert.ok(Date.now() - started >= 250);
});
