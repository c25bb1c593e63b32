// The serving lease (src/ha/serving-lease.ts) and what it does to the ack gate: while suspended
// nothing settles, not even a consumed message; resuming releases what became settleable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckGate } from '../../src/ha/ack-gate.js';
import { ServingLease } from '../../src/ha/serving-lease.js';
import { ProducerPauses } from '../../src/ha/producer-pauses.js';

test('a lease never set never expires; a grant expires at its deadline', () => {
  const lease = new ServingLease();
  assert.equal(lease.expired(1e12), false);
  assert.equal(lease.remainingMs(0), null);
  lease.grant(1000, 500, 'a');
  assert.equal(lease.expired(1499), false);
  assert.equal(lease.expired(1500), true);
  assert.equal(lease.remainingMs(1200), 300);
});

test('an extension sets the deadline the manager meant (grant + offset), however late it arrives, and never revives an expired lease', () => {
  const lease = new ServingLease();
  lease.grant(1000, 2000, 'a'); // deadline 3000
  assert.equal(lease.extend(1100, 'a', 100), 'extended');
  assert.equal(lease.remainingMs(1100), 2000, 'deadline 3100: grant deadline + offset, not 1100 + something');
  assert.equal(lease.extend(2900, 'a', 50), 'extended', 'an older extension arriving late');
  assert.equal(lease.remainingMs(2900), 200, 'never moves the deadline back');
  assert.equal(lease.extend(2900, 'b', 1000), 'unknown-lease');
  assert.equal(lease.extend(3200, 'a', 10_000), 'expired', 'held up past the deadline (the broker was stopped): refused');
  assert.equal(lease.expired(3200), true);
  lease.grant(3300, 1000, 'c');
  assert.equal(lease.expired(3300), false, 'a new grant restarts serving');
  assert.equal(lease.extend(3400, 'a', 10_000), 'unknown-lease', 'the old lease is gone');
});

test('a suspended gate settles nothing (durable, confirmed or consumed) and releases on resume', () => {
  const gate = new AckGate({ open: true, minMembers: 0 });
  gate.addMember('b1', 0);
  const a = gate.hold({ lsn: 1, needsDurable: true, messageId: 7 });
  assert.equal(gate.setServing(false).length, 0);
  assert.deepEqual(gate.durable(1), []);
  assert.deepEqual(gate.confirmed('b1', 1), []);
  assert.deepEqual(gate.messageResolved(7), []);
  const b = gate.hold({ lsn: null, needsDurable: false, messageId: 0 });
  assert.equal(b.settleNow, false, 'not even a hold with nothing journaled');
  assert.deepEqual(gate.setServing(true).sort(), [a.key, b.key].sort());
  assert.equal(gate.hold({ lsn: null, needsDurable: false, messageId: 0 }).settleNow, true);
});

test('producers resume only when every pause reason is lifted', () => {
  const seen: (string | null)[] = [];
  const pauses = new ProducerPauses((reason) => seen.push(reason));
  pauses.set('lease', 'lease expired');
  pauses.set('catch-up', 'catching up');
  pauses.set('catch-up', null);
  assert.equal(seen[seen.length - 1], 'lease expired');
  pauses.set('lease', null);
  assert.equal(seen[seen.length - 1], null);
});
