// Credit and disposition ranges from the peer (src/amqp/peer-numbers.ts): the §2.6.7 formulas in
// serial arithmetic, results always uints, and a disposition's range clipped to what is held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { drained, heldRange, peerIdleTimeoutMs, peerMaxFrameSizeBytes, receiverCredit, senderCredit, UINT32_MAX } from '../../src/amqp/peer-numbers.js';

const uint = fc.integer({ min: 0, max: UINT32_MAX });

test('sender credit: receiver delivery-count + link-credit - our delivery-count, never negative', () => {
  assert.equal(senderCredit(0, 0, 10, 0), 10);
  assert.equal(senderCredit(5, 0, 10, 0), 5, 'five deliveries were in flight when the receiver wrote its flow');
  assert.equal(senderCredit(12, 0, 10, 0), 0, 'more in flight than granted');
  assert.equal(senderCredit(3, undefined, 10, 0), 7, 'no delivery-count: the initial one stands in');
  assert.equal(senderCredit(0, UINT32_MAX, UINT32_MAX, 0), UINT32_MAX - 1, 'counts wrap: 0 is one past 2^32-1');
  assert.equal(senderCredit(0, 5, 10, 0), 10, 'a receiver claiming more than was sent gets its credit as granted');
  assert.equal(senderCredit(0, 0, -1, 0), 0);
  assert.equal(senderCredit(0, 0, 2 ** 40, 0), 0);
  assert.equal(senderCredit(0, 'x', 'y', 0), 0);
  fc.assert(
    fc.property(uint, fc.option(uint), uint, (ours, theirs, credit) => {
      const c = senderCredit(ours, theirs ?? undefined, credit, 0);
      assert.ok(Number.isInteger(c) && c >= 0 && c <= UINT32_MAX);
    }),
  );
});

test('drain uses all credit in one step and keeps the delivery-count a uint', () => {
  assert.deepEqual(drained(0, UINT32_MAX), { deliveryCount: UINT32_MAX, credit: 0 });
  assert.deepEqual(drained(UINT32_MAX, UINT32_MAX), { deliveryCount: UINT32_MAX - 1, credit: 0 });
  assert.deepEqual(drained(7, 3), { deliveryCount: 10, credit: 0 });
});

test('receiver credit: a drain uses up credit, a sending peer can never add any', () => {
  assert.deepEqual(receiverCredit(10, 5, 15), { deliveryCount: 15, credit: 0 });
  assert.deepEqual(receiverCredit(10, 5, 12), { deliveryCount: 12, credit: 3 });
  assert.deepEqual(receiverCredit(10, 5, 100), { deliveryCount: 100, credit: 0 });
  assert.deepEqual(receiverCredit(10, 5, 9), { deliveryCount: 10, credit: 5 }, 'a count behind ours is ignored');
  assert.deepEqual(receiverCredit(UINT32_MAX, 5, 2), { deliveryCount: 2, credit: 2 }, 'wraps');
  assert.deepEqual(receiverCredit(10, 5, undefined), { deliveryCount: 10, credit: 5 });
  fc.assert(
    fc.property(uint, fc.nat(10_000), uint, (ours, credit, theirs) => {
      assert.ok(receiverCredit(ours, credit, theirs).credit <= credit);
    }),
  );
});

test('a disposition range is clipped to the deliveries held', () => {
  assert.deepEqual(heldRange(0, UINT32_MAX, 100, 5), { from: 100, to: 104 });
  assert.deepEqual(heldRange(102, undefined, 100, 5), { from: 102, to: 102 });
  assert.deepEqual(heldRange(102, null, 100, 5), { from: 102, to: 102 });
  assert.equal(heldRange(0, 99, 100, 5), null);
  assert.equal(heldRange(105, UINT32_MAX, 100, 5), null);
  assert.equal(heldRange(0, UINT32_MAX, 100, 0), null);
  assert.equal(heldRange(10, 5, 0, 100), null, 'last before first');
  assert.equal(heldRange(-1, 5, 0, 100), null);
  assert.equal(heldRange('0', 5, 0, 100), null);
  fc.assert(
    fc.property(uint, fc.option(uint), fc.nat(2 ** 40), fc.nat(2048), (first, last, head, held) => {
      const range = heldRange(first, last ?? undefined, head, held);
      if (range) assert.ok(range.to - range.from < held && range.from >= head);
    }),
  );
});

test('the peer\'s max-frame-size: absent is unlimited, below 512 or not a uint is 512', () => {
  assert.equal(peerMaxFrameSizeBytes(undefined), UINT32_MAX);
  assert.equal(peerMaxFrameSizeBytes(65536), 65536);
  assert.equal(peerMaxFrameSizeBytes(20), 512);
  assert.equal(peerMaxFrameSizeBytes(0), 512);
  assert.equal(peerMaxFrameSizeBytes([1, 2]), 512);
  assert.equal(peerMaxFrameSizeBytes(2 ** 40), 512);
});

test('the peer\'s idle-time-out: none stays none, 1 ms becomes 100 ms, 2^32-1 fits a timer', () => {
  assert.equal(peerIdleTimeoutMs(undefined), undefined);
  assert.equal(peerIdleTimeoutMs(0), undefined);
  assert.equal(peerIdleTimeoutMs(1), 100);
  assert.equal(peerIdleTimeoutMs(30_000), 30_000);
  assert.equal(peerIdleTimeoutMs(UINT32_MAX), 2 ** 31 - 1);
  assert.equal(peerIdleTimeoutMs('soon'), undefined);
});
