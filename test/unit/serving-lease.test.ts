// The serving lease (src/ha/serving-lease.ts) and what it does to the ack gate: while suspended
// nothing settles, not even a consumed message; resuming releases what became settleable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AckGate } from '../../src/ha/ack-gate.js';
import { ServingLease } from '../../src/ha/serving-lease.js';
import { ProducerPauses } from '../../src/ha/producer-pauses.js';
import { LeaseKeeper } from '../../src/ha/lease-keeper.js';
import { leaseGrant } from '../../src/manager/broker-link.js';
import type { Clock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/log.js';

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

test('a grant that arrived late: one prompt extension brings the deadline back to the target plus its own delay (sim etcd seed 5007)', () => {
  const lease = new ServingLease();
  // The manager sent a grant of 1000 ms at its time 0 (target T0 = 1000); it arrived 400 ms late.
  lease.grant(400, 1000, 'a'); // deadline 1400 = T0 + 400
  // An extension to T1 = 1200 (offset 200), sent at 200 with 1000 ms to go, arrives after 10 ms.
  assert.equal(lease.extend(210, 'a', 200, 1000), 'extended');
  assert.equal(lease.remainingMs(210), 1000, 'deadline 1210 = T1 + 10, not T1 + 400');
  // A later extension that is itself slow cannot push it back past its own target plus 10 ms.
  // (Sent at 900 with 500 ms to its target T2 = 1400, arrived 200 ms later.)
  assert.equal(lease.extend(1100, 'a', 400, 500), 'extended');
  assert.equal(lease.remainingMs(1100), 310, 'deadline 1410 = T2 + the smallest delay (10), not T2 + 200');
  // Without remainingMs (an older manager) it is the grant-anchored deadline, never earlier than it was.
  const old = new ServingLease();
  old.grant(400, 1000, 'b');
  assert.equal(old.extend(210, 'b', 200), 'extended');
  assert.equal(old.remainingMs(210), 1390);
});

test('the broker\'s deadline is the latest target plus the smallest delay of any message of the lease, over any delays', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2000 }), fc.array(fc.record({ gap: fc.integer({ min: 1, max: 300 }), step: fc.integer({ min: 0, max: 300 }), delay: fc.integer({ min: 0, max: 2000 }) }), { maxLength: 30 }), (grantDelay, extensions) => {
      // Manager time = broker time (the clocks' offset cancels out). Grant sent at 0, target T0 = 1000.
      const lease = new ServingLease();
      const T0 = 1000;
      lease.grant(grantDelay, T0, 'a');
      let sentAt = 0;
      let target = T0;
      let smallest = grantDelay;
      // Sent in order, each arriving after its own delay (arrivals are taken in send order).
      let arrived = grantDelay;
      for (const e of extensions) {
        sentAt += e.gap;
        target = Math.max(target, sentAt + 1 + e.step);
        const arrival = Math.max(arrived, sentAt + e.delay);
        arrived = arrival;
        if (lease.extend(arrival, 'a', target - T0, target - sentAt) !== 'extended') return;
        smallest = Math.min(smallest, arrival - sentAt);
        const deadline = arrival + (lease.remainingMs(arrival) as number);
        if (deadline > arrival) assert.ok(deadline <= target + smallest + 1e-6, `deadline ${deadline} past target ${target} + smallest delay ${smallest}`);
      }
    }),
  );
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

test('a manager\'s grant counts from the status it was decided on, not from its arrival (sim etcd seed 17697)', () => {
  let nowMs = 5000;
  const clock: Clock = { nowMs: () => nowMs, monotonicMs: () => nowMs, setTimer: () => ({ cancel: () => {} }), nextTurn: (callback) => callback() };
  const keeper = new LeaseKeeper(clock, silentLogger);
  const since = keeper.clockMs(); // the status the manager read
  nowMs = 5010; // the grant arrives promptly: 10 ms of its second are gone
  assert.equal(keeper.grant(1, 'a', since).remainingMs, 990);
  // The broker was stopped with a grant on its way and reads it a second later: it has expired.
  const stoppedAt = keeper.clockMs();
  nowMs = 6200;
  const late = keeper.grant(0.997, 'b', stoppedAt);
  assert.equal(late.expired, true, 'it would have served until 7,197 ms, past the deadline the manager meant (6,197)');
  // A `since` ahead of the clock (a status of an earlier process of the broker) is refused: the
  // manager's lengthening of the grant is safe only counted from that status.
  assert.throws(() => keeper.grant(1, 'c', 1e12), /ahead of this broker's lease clock/);
  // A grant without one (qpid-ha lease) counts from its arrival.
  assert.equal(keeper.grant(2, 'd').remainingMs, 2000);
});

test('a manager lengthens its grant by the age of the status it names, so the deadline is its own target however stale the status', () => {
  // The status came at 1,000 ms (manager clock) showing the broker's lease clock at 40,000 ms; the
  // manager grants 0.2 s at 1,300 ms: 0.5 s from the status, so the deadline is 40,500 on the
  // broker's clock, 0.2 s after the grant was sent less the status's own delay.
  assert.deepEqual(leaseGrant({ id: 'a', seconds: 0.2 }, { brokerMs: 40_000, receivedAtMs: 1000 }, 1300), { id: 'a', seconds: 0.5, since: 40_000 });
  assert.deepEqual(leaseGrant({ id: 'a', seconds: 0.2 }, null, 1300), { id: 'a', seconds: 0.2 });
});
