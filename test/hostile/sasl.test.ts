// Issue 19, every SASL failure ends in a sasl-outcome and a closed socket (AMQP 1.0 §5.3): an
// unknown mechanism and a 60 KB SASL response got an outcome and then kept their sockets open.
// Also: a response with no init, a frame of the wrong type, garbage in the SASL layer. The
// broker lives, stays small and serves another client within 100 ms throughout; a good SASL
// exchange (ANONYMOUS, and PLAIN with --auth yes) still opens.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AMQP_HEADER, bin, composite, encode, frame, PERFORMATIVE, SASL, SASL_HEADER, str, sym } from '../helpers/amqp-encode.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { assertHealthy, Probe, RawPeer } from './support.js';

let broker: BrokerProcess;
let probe: Probe;
let dataDir: string;

before(async () => {
  dataDir = tempDir();
  broker = await startQpidd({ dataDir, args: ['--auth', 'yes'] });
  probe = await Probe.open(broker.port);
});

after(async () => {
  await probe?.close();
  await broker?.stop();
  removeDir(dataDir);
});

const saslFrame = (code: number, fields: Parameters<typeof composite>[1]): Buffer => frame(encode(composite(code, fields)), { type: 1 });

/** SASL header, then `frames` once the mechanisms arrive: expect an outcome with `code` and the
 * socket closed by the broker. */
async function expectFailedOutcome(frames: Buffer[], code = 1): Promise<void> {
  const peer = await RawPeer.connect(broker.port);
  try {
    peer.write(SASL_HEADER);
    await peer.waitFor((f) => f.name === 'sasl_mechanisms', 'the mechanisms');
    for (const f of frames) peer.write(f);
    const outcome = await peer.waitFor((f) => f.name === 'sasl_outcome', 'the outcome');
    assert.equal(Number(outcome.fields['code']), code);
    await peer.waitClosed(3000);
  } finally {
    peer.destroy();
  }
}

test('issue 19: an unknown SASL mechanism gets outcome auth and a closed socket', async () => {
  await expectFailedOutcome([saslFrame(SASL.init, [sym('NO-SUCH-MECH'), bin(Buffer.from('x'))])]);
  await assertHealthy(broker, probe);
});

test('issue 19: a 60 KB SASL response (SASL frames are at most 512 bytes, §5.3.1) gets an outcome and a closed socket', async () => {
  const started = Date.now();
  await expectFailedOutcome([saslFrame(SASL.init, [sym('PLAIN'), bin(Buffer.alloc(60 * 1024, 0x61))])]);
  await expectFailedOutcome([saslFrame(SASL.response, [bin(Buffer.alloc(60 * 1024, 0x62))])]);
  assert.ok(Date.now() - started < 3000);
  await assertHealthy(broker, probe);
});

test('a SASL response with no init, an AMQP frame in the SASL layer, garbage: outcome and a closed socket', async () => {
  await expectFailedOutcome([saslFrame(SASL.response, [bin(Buffer.from('unasked'))])]);
  await expectFailedOutcome([frame(encode(composite(PERFORMATIVE.open, [str('wrong-layer')])), { type: 0 })]);
  await expectFailedOutcome([Buffer.from([0, 0, 0, 12, 2, 1, 0, 0, 0xde, 0xad, 0xbe, 0xef])]);
  await assertHealthy(broker, probe);
});

test('a good SASL exchange still opens: PLAIN, then the AMQP header and open', async () => {
  const peer = await RawPeer.connect(broker.port);
  try {
    peer.write(SASL_HEADER);
    await peer.waitFor((f) => f.name === 'sasl_mechanisms', 'the mechanisms');
    // The client sends its init, the AMQP header and its open at once (pipelined): the broker
    // holds the AMQP bytes until the SASL exchange is done, then reads them.
    peer.write(Buffer.concat([saslFrame(SASL.init, [sym('PLAIN'), bin(Buffer.from('\0guest\0guest'))]), AMQP_HEADER, frame(encode(composite(PERFORMATIVE.open, [str('pipelined')])))]));
    const outcome = await peer.waitFor((f) => f.name === 'sasl_outcome', 'the outcome');
    assert.equal(Number(outcome.fields['code']), 0);
    await peer.waitFor((f) => f.name === 'open', 'the broker\'s open');
    assert.equal(peer.closed, false);
  } finally {
    peer.destroy();
  }
  await assertHealthy(broker, probe);
});
