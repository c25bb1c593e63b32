// Issue 19, limits enforced while bytes arrive, and protocol discipline, against a real qpidd on
// a raw socket: a delivery streamed with more=true is detached with
// amqp:link:message-size-exceeded once it passes --max-message-size (one was buffered to 3 GB);
// unfinished deliveries on one connection are bounded by --max-connection-buffer; a transfer
// beyond the link's credit detaches it with amqp:link:transfer-limit-exceeded (AMQP 1.0 §2.6.7);
// one beyond the session's incoming window ends the session with amqp:session:window-violation
// (§2.5.6); an aborted delivery (§2.7.5) is discarded. Each case: the broker lives, stays small,
// serves another client within 100 ms, and loses no accepted message.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { composite, encode, frame, nul, PERFORMATIVE, uint } from '../helpers/amqp-encode.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { assertHealthy, assertServedDuring, figure, MiB, Probe, RawPeer, rssBytes, seedAccepted, textMessage, transferFrame } from './support.js';

const MAX_MESSAGE_BYTES = 100_000;
const MAX_FRAME_BYTES = 4096;
const MAX_CONNECTION_BUFFER_BYTES = 300_000;
const CREDIT = 5;

let broker: BrokerProcess;
let probe: Probe;
let dataDir: string;

before(async () => {
  dataDir = tempDir();
  broker = await startQpidd({
    dataDir,
    args: ['--max-message-size', String(MAX_MESSAGE_BYTES), '--max-frame-size', String(MAX_FRAME_BYTES), '--max-connection-buffer', String(MAX_CONNECTION_BUFFER_BYTES), '--max-unsettled', String(CREDIT)],
  });
  probe = await Probe.open(broker.port);
});

after(async () => {
  await probe?.close();
  await broker?.stop();
  removeDir(dataDir);
});

/** A peer with one session and a sending link per handle, each with its credit. */
async function producer(queue: string, handles = 1): Promise<RawPeer> {
  const peer = await RawPeer.connect(broker.port);
  await peer.open();
  await peer.begin();
  for (let h = 0; h < handles; h++) await peer.attachSender(h, queue);
  return peer;
}

const chunk = (n: number): Buffer => Buffer.alloc(n, 0x61);
/** The first frame of a delivery whose data section claims `sectionBytes`; its body follows. */
function dataSectionStart(sectionBytes: number, firstBytes: number): Buffer {
  const header = Buffer.from([0x00, 0x53, 0x75, 0xb0, (sectionBytes >>> 24) & 0xff, (sectionBytes >>> 16) & 0xff, (sectionBytes >>> 8) & 0xff, sectionBytes & 0xff]);
  return Buffer.concat([header, chunk(firstBytes - header.length)]);
}

test('issue 19: an endless multi-frame delivery is detached with amqp:link:message-size-exceeded past --max-message-size', async () => {
  const seeded = await seedAccepted(broker.port);
  const peer = await producer(seeded.queue, 2);
  const rssBefore = rssBytes(broker.child.pid as number);
  try {
    // 1500 frames of 4000 bytes (6 MB) in a row, never finishing: the broker must stop at 100 KB.
    const frames = [transferFrame({ handle: 0, deliveryId: 0, tag: 'endless', more: true }, dataSectionStart(0x7fff_ffff, 4000))];
    for (let i = 1; i < 1500; i++) frames.push(transferFrame({ handle: 0, more: true }, chunk(4000)));
    const started = Date.now();
    peer.write(Buffer.concat(frames));
    const detach = await peer.waitFor((f) => f.name === 'detach' && Number(f.fields['handle']) === 0, 'the detach');
    assert.equal(peer.errorOf('detach')?.condition, 'amqp:link:message-size-exceeded');
    assert.match(peer.errorOf('detach')?.description ?? '', /--max-message-size/);
    assert.ok(detach);
    figure({ what: 'endless delivery detached', ms: Date.now() - started });
    // The other link of the same session still publishes, and so does the connection.
    peer.write(transferFrame({ handle: 1, deliveryId: 1, tag: 'fine' }, textMessage('after the endless one')));
    assert.equal((await peer.outcomeOf(1)).state, 'accepted');
    assert.equal(peer.closed, false);
  } finally {
    peer.destroy();
  }
  const { rssBytes: rssAfter } = await assertHealthy(broker, probe);
  assert.ok(rssAfter - rssBefore < 64 * MiB, `RSS grew by ${Math.round((rssAfter - rssBefore) / MiB)} MiB`);
  await seeded.check(['after the endless one']);
});

test('unfinished deliveries on one connection are bounded by --max-connection-buffer: the link that passes it is detached', async () => {
  const seeded = await seedAccepted(broker.port);
  const peer = await producer(seeded.queue, 4);
  try {
    // Three deliveries of 90 KB each, left unfinished: 270 KB of the 300 KB allowed.
    const body = 90_000;
    for (let h = 0; h < 3; h++) {
      const frames = [transferFrame({ handle: h, deliveryId: h, tag: `d${h}`, more: true }, dataSectionStart(body, 3000))];
      for (let sent = 3000; sent < body; sent += 3000) frames.push(transferFrame({ handle: h, more: true }, chunk(3000)));
      peer.write(Buffer.concat(frames));
    }
    // A fourth link pushes the connection over.
    const fourth = [transferFrame({ handle: 3, deliveryId: 3, tag: 'd3', more: true }, dataSectionStart(body, 3000))];
    for (let i = 0; i < 15; i++) fourth.push(transferFrame({ handle: 3, more: true }, chunk(3000)));
    peer.write(Buffer.concat(fourth));
    await peer.waitFor((f) => f.name === 'detach' && Number(f.fields['handle']) === 3, 'the fourth link\'s detach');
    assert.equal(peer.errorOf('detach')?.condition, 'amqp:resource-limit-exceeded');
    assert.match(peer.errorOf('detach')?.description ?? '', /--max-connection-buffer/);
    // The three within the limit finish and are accepted.
    for (let h = 0; h < 3; h++) peer.write(transferFrame({ handle: h, more: false }, chunk(8)));
    for (let h = 0; h < 3; h++) assert.equal((await peer.outcomeOf(h)).state, 'accepted', `delivery ${h}`);
  } finally {
    peer.destroy();
  }
  await assertHealthy(broker, probe);
  const rest = await seedAccepted(broker.port, 0);
  await rest.check();
  const { drain } = await import('../helpers/amqp.js');
  const got = await drain(broker.port, seeded.queue);
  assert.equal(got.length, 20 + 3, 'the seeded messages and the three finished deliveries');
});

test('a transfer beyond the link\'s credit detaches the link with amqp:link:transfer-limit-exceeded (§2.6.7)', async () => {
  const seeded = await seedAccepted(broker.port);
  const peer = await producer(seeded.queue);
  try {
    // Durable messages: their settlement waits for the disk, so no new credit comes in between.
    const durable = Buffer.from([0x00, 0x53, 0x70, 0xc0, 0x02, 0x01, 0x41]);
    const burst: Buffer[] = [];
    for (let i = 0; i <= CREDIT; i++) burst.push(transferFrame({ handle: 0, deliveryId: i, tag: `c${i}` }, Buffer.concat([durable, textMessage(`credit-${i}`)])));
    const trips = probe.during(1000);
    peer.write(Buffer.concat(burst));
    await peer.waitFor((f) => f.name === 'detach', 'the detach');
    assert.equal(peer.errorOf('detach')?.condition, 'amqp:link:transfer-limit-exceeded');
    assertServedDuring(await trips, 'over-credit transfers');
    assert.equal(peer.closed, false, 'the connection goes on');
  } finally {
    peer.destroy();
  }
  await assertHealthy(broker, probe);
  // The five sent within credit were accepted by the broker: they are on the queue.
  await seeded.check(Array.from({ length: CREDIT }, (_, i) => `credit-${i}`));
});

test('a transfer beyond the session\'s incoming window ends the session with amqp:session:window-violation (§2.5.6)', async () => {
  const seeded = await seedAccepted(broker.port);
  const peer = await producer(seeded.queue);
  try {
    const begin = peer.frames.find((f) => f.name === 'begin');
    const window = Number(begin?.fields['incoming_window']);
    assert.ok(window > 0 && window <= 4096, `the broker's window: ${window}`);
    // One delivery in tiny frames (no credit needed after the first), three windows' worth at once.
    const frames = [transferFrame({ handle: 0, deliveryId: 0, tag: 'w', more: true }, dataSectionStart(3 * window, 9))];
    for (let i = 1; i < 3 * window; i++) frames.push(transferFrame({ handle: 0, more: true }, chunk(1)));
    peer.write(Buffer.concat(frames));
    await peer.waitFor((f) => f.name === 'end', 'the end');
    assert.equal(peer.errorOf('end')?.condition, 'amqp:session:window-violation');
    assert.equal(peer.closed, false, 'the connection goes on');
    // A new session on the same connection works.
    peer.write(frame(encode(composite(PERFORMATIVE.begin, [nul, uint(0), uint(100), uint(100)])), { channel: 1 }));
    await peer.waitFor((f) => f.name === 'begin' && f.channel !== 0, 'a second begin');
  } finally {
    peer.destroy();
  }
  await assertHealthy(broker, probe);
  await seeded.check();
});

test('an aborted delivery is discarded (§2.7.5); its link goes on', async () => {
  const seeded = await seedAccepted(broker.port);
  const peer = await producer(seeded.queue);
  try {
    // A message started, then aborted: it must not reach the queue.
    peer.write(transferFrame({ handle: 0, deliveryId: 0, tag: 'a', more: true }, textMessage('aborted halfway').subarray(0, 8)));
    peer.write(transferFrame({ handle: 0, more: true }, textMessage('aborted halfway').subarray(8)));
    peer.write(transferFrame({ handle: 0, aborted: true }, Buffer.alloc(0)));
    // An aborted first frame, complete in itself: not published either.
    peer.write(transferFrame({ handle: 0, deliveryId: 1, tag: 'b', aborted: true }, textMessage('aborted at once')));
    peer.write(transferFrame({ handle: 0, deliveryId: 2, tag: 'c' }, textMessage('kept')));
    assert.equal((await peer.outcomeOf(2)).state, 'accepted');
    assert.equal(peer.frames.some((f) => f.name === 'disposition' && Number(f.fields['first']) <= 1 && Number(f.fields['last'] ?? f.fields['first']) >= 0 && f.fields['state']), false, 'no outcome for the aborted ones');
  } finally {
    peer.destroy();
  }
  await assertHealthy(broker, probe);
  await seeded.check(['kept']);
});


