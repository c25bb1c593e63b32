// The intake rules (src/amqp/intake.ts): session window in serial arithmetic, credit for new
// deliveries, bytes of a delivery in progress and of the connection, aborts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDLE_LINK, judgeTransfer, sessionBegun, transferArrived, windowAnnounced, type LinkIntake, type TransferFacts } from '../../src/amqp/intake.js';

const LIMITS = { maxMessageSizeBytes: 1000, maxConnectionBufferBytes: 1500 };
const facts = (f: Partial<TransferFacts>): TransferFacts => ({ continuing: false, deliveryId: 7, credit: 1, payloadBytes: 100, more: false, aborted: false, ...f });

test('the session window: transfers from the announced id, as many as announced, across the 2^32 wrap', () => {
  let window = sessionBegun(2 ** 32 - 2);
  assert.equal(transferArrived(window).ok, false, 'nothing before a window is announced');
  window = windowAnnounced(window, undefined, 3);
  for (let i = 0; i < 3; i++) {
    const arrived = transferArrived(window);
    assert.ok(arrived.ok, `transfer ${i}`);
    window = arrived.window;
  }
  assert.equal(window.nextTransferId, 1, 'wrapped');
  assert.equal(transferArrived(window).ok, false, 'the fourth is beyond the window');
  window = windowAnnounced(window, 1, 1);
  assert.ok(transferArrived(window).ok, 'a flow opened the window again');
  assert.equal(sessionBegun('junk').nextTransferId, 0);
});

test('a new delivery needs credit; a continued one does not', () => {
  const refused = judgeTransfer(IDLE_LINK, facts({ credit: 0 }), 0, LIMITS);
  assert.equal(refused.verdict.kind, 'detach');
  assert.equal(refused.verdict.kind === 'detach' && refused.verdict.condition, 'amqp:link:transfer-limit-exceeded');
  assert.equal(refused.link.refused, true);
  const inProgress: LinkIntake = { deliveryBytes: 100, refused: false };
  assert.equal(judgeTransfer(inProgress, facts({ credit: 0, continuing: true }), 100, LIMITS).verdict.kind, 'pass');
  assert.equal(judgeTransfer(refused.link, facts({}), 0, LIMITS).verdict.kind, 'drop', 'a detached link\'s transfers are ignored');
});

test('a delivery in frames: counted while it grows, refused past --max-message-size, released when done', () => {
  let link: LinkIntake = IDLE_LINK;
  let buffered = 0;
  for (let i = 0; i < 9; i++) {
    const j = judgeTransfer(link, facts({ continuing: i > 0, more: true, payloadBytes: 100 }), buffered, LIMITS);
    assert.equal(j.verdict.kind, 'pass');
    link = j.link;
    buffered += j.bufferedDelta;
  }
  assert.equal(buffered, 900);
  const last = judgeTransfer(link, facts({ continuing: true, more: false, payloadBytes: 500 }), buffered, LIMITS);
  assert.equal(last.verdict.kind, 'pass', 'the last frame goes to the broker, which rejects an oversized message');
  assert.equal(buffered + last.bufferedDelta, 0);
  const tooBig = judgeTransfer({ deliveryBytes: 950, refused: false }, facts({ continuing: true, more: true, payloadBytes: 100 }), 950, LIMITS);
  assert.equal(tooBig.verdict.kind === 'detach' && tooBig.verdict.condition, 'amqp:link:message-size-exceeded');
  assert.equal(tooBig.bufferedDelta, -950);
});

test('the connection\'s unfinished bytes are bounded; an abort releases them', () => {
  const full = judgeTransfer(IDLE_LINK, facts({ more: true, payloadBytes: 200 }), 1400, LIMITS);
  assert.equal(full.verdict.kind === 'detach' && full.verdict.code, 'CONNECTION_BUFFER_FULL');
  const aborted = judgeTransfer({ deliveryBytes: 300, refused: false }, facts({ continuing: true, aborted: true }), 300, LIMITS);
  assert.equal(aborted.verdict.kind, 'abort');
  assert.equal(aborted.bufferedDelta, -300);
  assert.equal(aborted.link, IDLE_LINK);
});

test('a new delivery without a uint delivery-id closes the connection; a continued one needs none', () => {
  for (const deliveryId of [undefined, null, -1, 2 ** 32, 'x']) {
    const j = judgeTransfer(IDLE_LINK, facts({ deliveryId }), 0, LIMITS);
    assert.equal(j.verdict.kind === 'close' && j.verdict.condition, 'amqp:invalid-field', String(deliveryId));
  }
  assert.equal(judgeTransfer({ deliveryBytes: 10, refused: false }, facts({ continuing: true, deliveryId: undefined }), 10, LIMITS).verdict.kind, 'pass');
});
