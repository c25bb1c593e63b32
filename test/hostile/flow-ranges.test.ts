// Issue 19, "no peer-chosen number drives a loop", against a real qpidd: a flow with drain and
// link-credit 2^32-1 on an empty queue (the next client waited 99 s), a flow whose counts are
// both 2^32-1, dispositions for delivery ids 0..2^32-1 in both directions (16-24 s), and the
// numbers of an open: a max-frame-size below 512 (rhea looped forever cutting messages into
// frames of it) and an idle-time-out of 1 ms or 2^32-1 (heartbeats every millisecond). While
// each attack is under way another client's round trips stay under 100 ms; the broker stays
// small, and every message it accepted is still there (or settled exactly as the frame said).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { bool, composite, described, encode, frame, list, nul, PERFORMATIVE, smallulong, str, uint } from '../helpers/amqp-encode.js';
import { drain as drainQueue } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { assertHealthy, assertServedDuring, Probe, RawPeer, seedAccepted, type RoundTrips } from './support.js';

const UINT32_MAX = 0xffff_ffff;
let broker: BrokerProcess;
let probe: Probe;
let dataDir: string;

before(async () => {
  dataDir = tempDir();
  broker = await startQpidd({ dataDir });
  probe = await Probe.open(broker.port);
});

after(async () => {
  await probe?.close();
  await broker?.stop();
  removeDir(dataDir);
});

/** A flow for link `handle` (§2.7.4). */
function flowFrame(handle: number, fields: { deliveryCount: number; linkCredit: number; drain: boolean }): Buffer {
  return frame(encode(composite(PERFORMATIVE.flow, [uint(0), uint(2048), uint(0), uint(2048), uint(handle), uint(fields.deliveryCount), uint(fields.linkCredit), nul, bool(fields.drain)])));
}

/** A disposition (§2.7.6); role true: we are the receiver settling the broker's transfers. */
function dispositionFrame(role: boolean, first: number, last: number): Buffer {
  const accepted = described(smallulong(0x24), list([]));
  return frame(encode(composite(PERFORMATIVE.disposition, [bool(role), uint(first), uint(last), bool(true), accepted])));
}

/** The probe's round trips while `attack` runs and for a second after. */
async function tripsDuring(attack: () => void): Promise<RoundTrips> {
  attack();
  return probe.during(1000);
}

test('issue 19: drain with link-credit 2^32-1 on an empty queue is answered at once, and nobody waits', async () => {
  const seeded = await seedAccepted(broker.port);
  const empty = (await seedAccepted(broker.port, 0)).queue;
  const peer = await RawPeer.connect(broker.port);
  try {
    await peer.open();
    await peer.begin();
    await peer.attachReceiver(0, empty);
    const trips = await tripsDuring(() => peer.write(flowFrame(0, { deliveryCount: 0, linkCredit: UINT32_MAX, drain: true })));
    assertServedDuring(trips, 'during the attack');
    // §2.6.7: the drained sender reports its delivery-count advanced by all the credit, credit 0.
    const echo = await peer.waitFor((f) => f.name === 'flow' && f.fields['drain'] === true, 'the drained flow');
    assert.equal(Number(echo.fields['delivery_count']), UINT32_MAX);
    assert.equal(Number(echo.fields['link_credit']), 0);
    // Counts at the top of the range wrap instead of overflowing the uint the flow carries.
    const tripsAgain = await tripsDuring(() => peer.write(flowFrame(0, { deliveryCount: UINT32_MAX, linkCredit: UINT32_MAX, drain: true })));
    assertServedDuring(tripsAgain, 'during the attack');
    await peer.waitFor((f) => f.name === 'flow' && f.fields['drain'] === true && Number(f.fields['delivery_count']) === UINT32_MAX - 1, 'the second drained flow');
    assert.equal(peer.closed, false);
  } finally {
    peer.destroy();
  }
  await assertHealthy(broker, probe);
  await seeded.check();
});

test('issue 19: huge credit on a queue with messages sends what there is (bounded by --max-unsettled), nobody waits', async () => {
  const seeded = await seedAccepted(broker.port, 300);
  const peer = await RawPeer.connect(broker.port);
  try {
    await peer.open();
    await peer.begin();
    await peer.attachReceiver(0, seeded.queue);
    const trips = await tripsDuring(() => peer.write(flowFrame(0, { deliveryCount: 0, linkCredit: UINT32_MAX, drain: false })));
    assertServedDuring(trips, 'during the attack');
    await peer.waitFor(() => peer.frames.filter((f) => f.name === 'transfer').length === 300, 'all 300 transfers');
  } finally {
    peer.destroy();
  }
  // The raw peer never settled: every message comes back.
  await assertHealthy(broker, probe);
  await seeded.check();
});

test('issue 19: a disposition for delivery ids 0..2^32-1 settles the deliveries held in it, in no time', async () => {
  const seeded = await seedAccepted(broker.port, 5);
  const untouched = await seedAccepted(broker.port);
  const peer = await RawPeer.connect(broker.port);
  try {
    await peer.open();
    await peer.begin();
    await peer.attachReceiver(0, seeded.queue);
    peer.write(flowFrame(0, { deliveryCount: 0, linkCredit: 5, drain: false }));
    await peer.waitFor(() => peer.frames.filter((f) => f.name === 'transfer').length === 5, 'five transfers');
    const trips = await tripsDuring(() => peer.write(dispositionFrame(true, 0, UINT32_MAX)));
    assertServedDuring(trips, 'during the attack');
  } finally {
    peer.destroy();
  }
  // The five were accepted by that disposition: consumed, not redelivered.
  assert.deepEqual(await drainQueue(broker.port, seeded.queue), []);
  await assertHealthy(broker, probe);
  await untouched.check();
});

test('issue 19: a sender\'s disposition for ids 0..2^32-1 (settling its own transfers) costs nothing', async () => {
  const seeded = await seedAccepted(broker.port);
  const peer = await RawPeer.connect(broker.port);
  try {
    await peer.open();
    await peer.begin();
    await peer.attachSender(0, seeded.queue);
    const trips = await tripsDuring(() => {
      for (let i = 0; i < 20; i++) peer.write(dispositionFrame(false, 0, UINT32_MAX));
    });
    assertServedDuring(trips, 'during the attack');
    assert.equal(peer.closed, false);
  } finally {
    peer.destroy();
  }
  await assertHealthy(broker, probe);
  await seeded.check();
});

test('a consumer announcing max-frame-size 20 (below the 512 minimum, §2.7.1) gets frames of 512; nothing loops', async () => {
  const seeded = await seedAccepted(broker.port, 3);
  const untouched = await seedAccepted(broker.port);
  const peer = await RawPeer.connect(broker.port);
  try {
    await peer.open([str('tiny-frames'), nul, uint(20)]);
    await peer.begin();
    await peer.attachReceiver(0, seeded.queue);
    const trips = await tripsDuring(() => peer.write(flowFrame(0, { deliveryCount: 0, linkCredit: 3, drain: false })));
    assertServedDuring(trips, 'a max-frame-size of 20');
    await peer.waitFor(() => peer.frames.filter((f) => f.name === 'transfer').length === 3, 'three transfers, one frame each');
  } finally {
    peer.destroy();
  }
  await assertHealthy(broker, probe);
  await untouched.check();
  await seeded.check();
});

test('an idle-time-out of 1 ms or 2^32-1 does not make the broker beat every millisecond (§2.4.5)', async () => {
  for (const idle of [1, UINT32_MAX]) {
    const peer = await RawPeer.connect(broker.port);
    try {
      await peer.open([str('heartbeats'), nul, nul, nul, uint(idle)]);
      const before = peer.frames.length;
      await new Promise((r) => setTimeout(r, 1000));
      const beats = peer.frames.slice(before).filter((f) => f.name === 'empty').length;
      // 1 ms is kept at 100 ms (a beat every 50 ms); 2^32-1 overflowed rhea's timer into 1 ms.
      assert.ok(beats <= (idle === 1 ? 25 : 0), `${beats} heartbeats in a second for idle-time-out ${idle}`);
      if (idle === 1) assert.ok(beats >= 5, `${beats} heartbeats: the peer still gets them`);
    } finally {
      peer.destroy();
    }
  }
  await assertHealthy(broker, probe);
});
