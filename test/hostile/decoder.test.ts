// Issue 19, the bounded decoder, against a real qpidd on a raw socket: the 37-byte open frame
// whose max-frame-size is an array32 claiming 2^32-1 nulls (it took the broker to 5.8 GB and
// SIGABRT), the 33-byte message whose application properties hold such an array (4.9 GB), and
// every other count, length and depth a peer chooses. A bad frame closes that connection with
// amqp:decode-error; a bad message is rejected with it (the link goes on); nesting is bounded by
// --max-decode-depth. Each case: the broker lives, stays small, serves another client within
// 100 ms, and still holds every message it accepted.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { composite, described, encode, frame, hollowArray32, list, map, nul, PERFORMATIVE, raw, SASL, SASL_HEADER, smallulong, str, sym, uint, type Encoded } from '../helpers/amqp-encode.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { assertHealthy, Probe, RawPeer, seedAccepted, textMessage, transferFrame } from './support.js';

let broker: BrokerProcess;
let probe: Probe;
const dirs: string[] = [];

before(async () => {
  dirs.push(tempDir());
  broker = await startQpidd({ dataDir: dirs[0] as string });
  probe = await Probe.open(broker.port);
});

after(async () => {
  await probe?.close();
  await broker?.stop();
  for (const dir of dirs) removeDir(dir);
});

/** A list nested `levels` deep around a null (wide lists, so any depth fits). */
function nested(levels: number): Encoded {
  let value: Encoded = nul;
  for (let i = 0; i < levels; i++) value = list([value], true);
  return value;
}

/** Opens a raw connection, sends `bad` after the open and expects the broker's close with
 * `condition`, and the socket closed. */
async function expectClose(port: number, bad: Buffer, condition: string, options: { begin?: boolean } = {}): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  try {
    await peer.open();
    if (options.begin) await peer.begin();
    peer.write(bad);
    await peer.waitFor((f) => f.name === 'close', 'the broker\'s close');
    assert.equal(peer.errorOf('close')?.condition, condition, JSON.stringify(peer.errorOf('close')));
    await peer.waitClosed();
    return peer;
  } finally {
    peer.destroy();
  }
}

test('issue 19: the 37-byte open frame with an array32 of 2^32-1 nulls closes that connection with amqp:decode-error', async () => {
  const seeded = await seedAccepted(broker.port);
  const open = frame(encode(composite(PERFORMATIVE.open, [str('xxxx'), nul, raw(hollowArray32())], true)));
  assert.equal(open.length, 37);
  assert.equal(open.toString('hex'), '0000002502000000005310d00000001500000003a10478787878' + '40f000000005ffffffff40');
  const peer = await RawPeer.connect(broker.port);
  const started = Date.now();
  try {
    peer.write(Buffer.concat([Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'), open]));
    await peer.waitClosed();
    assert.deepEqual(peer.names(), ['open', 'close'], 'our open (the header exchange is complete), then the close');
    assert.equal(peer.errorOf('close')?.condition, 'amqp:decode-error');
    assert.match(peer.errorOf('close')?.description ?? '', /claims 4294967295 zero-width elements/);
    assert.ok(Date.now() - started < 1000, `closed in ${Date.now() - started} ms`);
  } finally {
    peer.destroy();
  }
  await assertHealthy(broker, probe);
  await seeded.check();
});

test('issue 19: the 33-byte message with such an array in its application properties is rejected with amqp:decode-error; the link goes on', async () => {
  const seeded = await seedAccepted(broker.port);
  const message = Buffer.concat([encode(described(smallulong(0x74), map([str('k'), raw(hollowArray32())]))), textMessage('xxxxxxxxx')]);
  assert.equal(message.length, 33);
  const peer = await RawPeer.connect(broker.port);
  try {
    await peer.open();
    await peer.begin();
    await peer.attachSender(0, seeded.queue);
    peer.write(transferFrame({ handle: 0, deliveryId: 0, tag: '0' }, message));
    const outcome = await peer.outcomeOf(0, 2000);
    assert.equal(outcome.state, 'rejected');
    assert.equal(outcome.condition, 'amqp:decode-error');
    assert.match(outcome.description ?? '', /zero-width elements/);
    // The same link still publishes.
    peer.write(transferFrame({ handle: 0, deliveryId: 1, tag: '1' }, textMessage('after the bad one')));
    assert.equal((await peer.outcomeOf(1)).state, 'accepted');
    assert.equal(peer.closed, false);
  } finally {
    peer.destroy();
  }
  await assertHealthy(broker, probe);
  await seeded.check(['after the bad one']);
});

test('every count and length in a frame is bounded by the frame: amqp:decode-error, nothing allocated', async () => {
  const seeded = await seedAccepted(broker.port);
  const u32 = (n: number): Buffer => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  const cases: [string, Buffer, { begin?: boolean }][] = [
    // An attach whose source is a list32 claiming 2^32-1 elements.
    ['list32 count', frame(encode(composite(PERFORMATIVE.attach, [str('l'), uint(0), { kind: 'fixed', code: 0x42, bytes: Buffer.alloc(0) }, nul, nul, raw(Buffer.concat([Buffer.from([0xd0]), u32(5), u32(0xffff_ffff), Buffer.from([0x40])]))]))), { begin: true }],
    // A begin whose handle-max is a map32 claiming a billion entries.
    ['map32 count', frame(encode(composite(PERFORMATIVE.begin, [nul, uint(0), uint(10), uint(10), raw(Buffer.concat([Buffer.from([0xd1]), u32(4), u32(1_000_000_000)]))]))), {}],
    // A flow whose properties map has an odd count.
    ['odd map', frame(encode(composite(PERFORMATIVE.flow, [uint(0), uint(10), uint(0), uint(10), nul, nul, nul, nul, nul, nul, raw(Buffer.from([0xc1, 2, 1, 0x40]))]))), { begin: true }],
    // binary, string and symbol lengths past the end of the frame
    ['vbin32 length', frame(encode(composite(PERFORMATIVE.attach, [raw(Buffer.concat([Buffer.from([0xb0]), u32(0x7fff_ffff), Buffer.from('abc')]))]))), { begin: true }],
    ['str32 length', frame(encode(composite(PERFORMATIVE.end, [raw(Buffer.concat([Buffer.from([0xb1]), u32(0xffff_fff0)]))]))), { begin: true }],
    ['sym8 length', frame(encode(composite(PERFORMATIVE.close, [raw(Buffer.from([0xa3, 200, 0x61]))]))), {}],
    // An array32 of 2^32-1 uints (4-byte elements) in a detach
    ['array32 of uints', frame(encode(composite(PERFORMATIVE.detach, [uint(0), raw(Buffer.concat([Buffer.from([0xf0]), u32(9), u32(0xffff_ffff), Buffer.from([0x70, 0, 0, 0, 1])]))]))), { begin: true }],
    // A descriptor described 10,000 times over
    ['described chain', frame(Buffer.concat([Buffer.alloc(10_000, 0x00), Buffer.from([0x53, 0x13, 0x45])])), { begin: true }],
    // Nesting past --max-decode-depth (100): described(1) list(2) properties map(3) + 98 lists
    ['nesting 101', frame(encode(composite(PERFORMATIVE.open, [str('deep'), nul, nul, nul, nul, nul, nul, nul, nul, map([sym('deep'), nested(98)])]))), {}],
    // A performative that is not a described list
    ['not a list', frame(encode(described(smallulong(PERFORMATIVE.flow), str('flow')))), { begin: true }],
  ];
  for (const [name, bad, options] of cases) {
    const started = Date.now();
    const peer = await expectClose(broker.port, bad, 'amqp:decode-error', options).catch((err: Error) => {
      throw new Error(`${name}: ${err.message}`);
    });
    assert.ok(Date.now() - started < 2000, `${name}: closed in ${Date.now() - started} ms`);
    assert.ok(peer.names().includes('close'), name);
  }
  await assertHealthy(broker, probe);
  await seeded.check();
});

test('nesting up to --max-decode-depth is accepted: a frame exactly 100 deep opens normally', async () => {
  // described(1) list(2) map(3) + 97 lists = 100 levels.
  const peer = await RawPeer.connect(broker.port);
  try {
    await peer.open([str('deep-ok'), nul, nul, nul, nul, nul, nul, nul, nul, map([sym('deep'), nested(97)])]);
    await peer.begin();
    assert.equal(peer.closed, false);
    assert.equal(peer.errorOf('close'), undefined);
  } finally {
    peer.destroy();
  }
  await assertHealthy(broker, probe);
});

test('a bad SASL frame gets a sasl-outcome and a closed socket', async () => {
  const peer = await RawPeer.connect(broker.port);
  try {
    peer.write(SASL_HEADER);
    await peer.waitFor((f) => f.name === 'sasl_mechanisms', 'the mechanisms');
    // sasl-init whose mechanism is an array32 claiming 2^32-1 nulls
    peer.write(frame(encode(composite(SASL.init, [raw(hollowArray32())])), { type: 1 }));
    const outcome = await peer.waitFor((f) => f.name === 'sasl_outcome', 'the outcome');
    assert.equal(Number(outcome.fields['code']), 1, 'auth');
    await peer.waitClosed();
  } finally {
    peer.destroy();
  }
  await assertHealthy(broker, probe);
});

test('--max-decode-depth 5: frames and messages nested deeper are refused, 5 levels are not', async () => {
  const dir = tempDir();
  dirs.push(dir);
  const shallow = await startQpidd({ dataDir: dir, args: ['--max-decode-depth', '5'] });
  const shallowProbe = await Probe.open(shallow.port);
  try {
    const seeded = await seedAccepted(shallow.port);
    // open: described(1) list(2) properties map(3) + list(4) + list(5) is the limit.
    await expectClose(shallow.port, frame(encode(composite(PERFORMATIVE.flow, [uint(0), uint(10), uint(0), uint(10), nul, nul, nul, nul, nul, nul, map([sym('k'), nested(3)])]))), 'amqp:decode-error', { begin: true });
    const peer = await RawPeer.connect(shallow.port);
    try {
      await peer.open([str('five'), nul, nul, nul, nul, nul, nul, nul, nul, map([sym('k'), nested(2)])]);
      await peer.begin();
      await peer.attachSender(0, seeded.queue);
      // application-properties: described(1) map(2) + 3 lists = 5: accepted (4 lists: refused)
      const five = Buffer.concat([encode(described(smallulong(0x74), map([str('k'), nested(3)]))), textMessage('five levels')]);
      const six = Buffer.concat([encode(described(smallulong(0x74), map([str('k'), nested(4)]))), textMessage('six levels')]);
      peer.write(transferFrame({ handle: 0, deliveryId: 0, tag: 'a' }, six));
      const refusedOutcome = await peer.outcomeOf(0);
      assert.equal(refusedOutcome.state, 'rejected');
      assert.equal(refusedOutcome.condition, 'amqp:decode-error');
      assert.match(refusedOutcome.description ?? '', /nested deeper than 5/);
      peer.write(transferFrame({ handle: 0, deliveryId: 1, tag: 'b' }, five));
      assert.equal((await peer.outcomeOf(1)).state, 'accepted');
    } finally {
      peer.destroy();
    }
    await assertHealthy(shallow, shallowProbe);
  } finally {
    await shallowProbe.close();
    await shallow.stop();
  }
});
