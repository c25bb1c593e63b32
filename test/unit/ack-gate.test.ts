import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckGate } from '../../src/ha/ack-gate.js';

test('a persistent message is settled only when locally durable and confirmed by every member', () => {
  const gate = new AckGate({ open: true });
  gate.addMember('b1', 0);
  gate.addMember('b2', 0);
  const { key, settleNow } = gate.hold({ lsn: 5, needsDurable: true, messageId: 1 });
  assert.equal(settleNow, false);
  assert.deepEqual(gate.durable(5), []);
  assert.deepEqual(gate.confirmed('b1', 5), []);
  assert.deepEqual(gate.confirmed('b2', 4), []);
  assert.deepEqual(gate.confirmed('b2', 5), [key]);
  assert.equal(gate.pendingCount, 0);
});

test('with no backups, local durability alone settles; a member joining at G holds only later LSNs', () => {
  const gate = new AckGate({ open: true });
  const a = gate.hold({ lsn: 3, needsDurable: true, messageId: 1 }).key;
  gate.addMember('b1', 3); // entered the gate at G = 3
  const b = gate.hold({ lsn: 4, needsDurable: true, messageId: 2 }).key;
  assert.deepEqual(gate.durable(4), [a]);
  assert.deepEqual(gate.confirmed('b1', 4), [b]);
});

test('a backup leaving the gate releases what it held at once', () => {
  const gate = new AckGate({ open: true });
  gate.addMember('b1', 0);
  const key = gate.hold({ lsn: 2, needsDurable: true, messageId: 1 }).key;
  gate.durable(2);
  assert.deepEqual(gate.removeMember('b1'), [key]);
});

test('a consumed message settles without durability or confirmation', () => {
  const gate = new AckGate({ open: true });
  gate.addMember('b1', 0);
  const key = gate.hold({ lsn: 7, needsDurable: true, messageId: 42 }).key;
  assert.deepEqual(gate.messageResolved(42), [key]);
  assert.deepEqual(gate.durable(7), []);
});

test('a closed gate (recovering primary) settles nothing until it opens', () => {
  const gate = new AckGate({ open: false });
  const untracked = gate.hold({ lsn: null, needsDurable: false, messageId: 0 });
  assert.equal(untracked.settleNow, false);
  const key = gate.hold({ lsn: 1, needsDurable: true, messageId: 1 }).key;
  assert.deepEqual(gate.durable(1), []);
  assert.deepEqual(gate.messageResolved(1), []);
  assert.deepEqual(new Set(gate.setOpen(true)), new Set([untracked.key, key]));
});

test('transient replicated messages wait only for the backups, behind durable ones', () => {
  const gate = new AckGate({ open: true });
  gate.addMember('b1', 0);
  const durable = gate.hold({ lsn: 1, needsDurable: true, messageId: 1 }).key;
  const transient = gate.hold({ lsn: 2, needsDurable: false, messageId: 2 }).key;
  assert.deepEqual(gate.confirmed('b1', 2), [transient]);
  assert.deepEqual(gate.durable(1), [durable]);
});

test('cancelled holds are never reported', () => {
  const gate = new AckGate({ open: true });
  const key = gate.hold({ lsn: 1, needsDurable: true, messageId: 1 }).key;
  gate.cancel(key);
  assert.deepEqual(gate.durable(1), []);
  assert.equal(gate.pendingCount, 0);
});

test('a message on queues that do not replicate waits for local durability only, even behind a slow backup', () => {
  const gate = new AckGate({ open: true });
  gate.addMember('slow', 0);
  const replicated = gate.hold({ lsn: 1, needsDurable: true, messageId: 1 }).key;
  const local = gate.hold({ lsn: 2, needsDurable: true, messageId: 2, replicated: false }).key;
  assert.deepEqual(gate.durable(2), [local]);
  assert.deepEqual(gate.confirmed('slow', 1), [replicated]);
});

// Issue 19: a failed commit's LSNs are reused by the store. Before the gate forgot them, the next
// hold (on a reused LSN) arrived behind the failed ones and the broker died on "ack gate: hold
// LSN 1002 after 2001" on a full disk.
test('after a rollback, holds on reused LSNs are accepted and released; the failed holds never are', () => {
  const gate = new AckGate({ open: true });
  gate.addMember('b1', 0);
  const kept = gate.hold({ lsn: 2, needsDurable: true, messageId: 1 }).key;
  const failed = [3, 4, 5].map((lsn) => gate.hold({ lsn, needsDurable: true, messageId: 10 + lsn }).key);
  // One failed hold was settled early (its message consumed) before the failure was known.
  assert.deepEqual(gate.messageResolved(15), [failed[2]]);
  gate.rolledBack(2);
  const reused = gate.hold({ lsn: 3, needsDurable: true, messageId: 20 }).key;
  assert.deepEqual(gate.durable(3), []);
  assert.deepEqual(gate.confirmed('b1', 3), [kept, reused], 'the reused LSN settles its new hold, not the failed one');
  assert.deepEqual(gate.durable(10), []);
  assert.deepEqual(gate.confirmed('b1', 10), [], 'a failed hold is never released by a later commit');
  assert.deepEqual(gate.holdsOf(13), [failed[0]], 'its owner can still fail it');
  gate.cancel(failed[0]!);
  gate.cancel(failed[1]!);
  assert.equal(gate.pendingCount, 0);
});

test('the order check still guards real bugs after a rollback, and a rollback below the durable LSN is one', () => {
  const ordered = new AckGate({ open: true });
  ordered.addMember('b1', 0);
  ordered.hold({ lsn: 2, needsDurable: true, messageId: 1 });
  ordered.hold({ lsn: 3, needsDurable: true, messageId: 2 });
  ordered.rolledBack(2);
  assert.throws(() => ordered.hold({ lsn: 1, needsDurable: true, messageId: 3 }), /hold LSN 1 after 2/);
  const gate = new AckGate({ open: true });
  gate.hold({ lsn: 4, needsDurable: true, messageId: 1 });
  gate.durable(4);
  assert.throws(() => gate.rolledBack(3), /below the durable LSN 4/);
});

test('--ha-min-backups counts what a member confirmed, not what it was shipped: a backup entering the gate mid catch-up releases nothing held for want of backups', () => {
  const gate = new AckGate({ open: true, minMembers: 1 });
  // Short of backups: held although durable.
  const held = gate.hold({ lsn: 5, needsDurable: true, messageId: 1 }).key;
  assert.deepEqual(gate.durable(5), []);
  // A backup goes live at G = 5, having confirmed only up to 2 (it was shipped 3..5).
  assert.deepEqual(gate.addMember('b1', 5, 2), [], 'nothing is on a backup yet');
  assert.equal(gate.confirmedFloor, 2, 'the RPO counts what is confirmed');
  const later = gate.hold({ lsn: 6, needsDurable: true, messageId: 2 }).key;
  gate.durable(6);
  assert.deepEqual(gate.confirmed('b1', 5), [held]);
  assert.deepEqual(gate.confirmed('b1', 6), [later]);
});

test('with two members and min-backups 1, the one that confirmed settles what the other was only shipped', () => {
  const gate = new AckGate({ open: true, minMembers: 1 });
  gate.addMember('b1', 0);
  const key = gate.hold({ lsn: 8, needsDurable: true, messageId: 1 }).key;
  gate.durable(8);
  // b2 enters at G = 8 with nothing confirmed: it holds nothing back at or below 8.
  assert.deepEqual(gate.addMember('b2', 8, 0), []);
  assert.deepEqual(gate.confirmed('b1', 8), [key]);
});

test('under a cluster manager, nothing settles past a departed ready backup until etcd records its departure', () => {
  const gate = new AckGate({ open: true, minMembers: 1 });
  gate.requireRecordedDepartures();
  gate.addMember('b1', 0);
  gate.addMember('b2', 0);
  const early = gate.hold({ lsn: 3, needsDurable: true, messageId: 1 }).key;
  const late = gate.hold({ lsn: 6, needsDurable: true, messageId: 2 }).key;
  gate.durable(6);
  assert.deepEqual(gate.confirmed('b2', 6), []);
  assert.deepEqual(gate.confirmed('b1', 3), [early]);
  // b1 drops out holding LSN 3: b2 has 6, but b1 may still call itself ready and be elected.
  assert.deepEqual(gate.removeMember('b1', true), []);
  assert.equal(gate.generation, 1);
  assert.deepEqual(gate.unrecordedDepartures, ['b1']);
  // A record of an earlier generation does not cover the departure.
  assert.deepEqual(gate.departuresRecorded(0), []);
  const confirmedByB2 = gate.hold({ lsn: 7, needsDurable: true, messageId: 3 }).key;
  gate.durable(7);
  assert.deepEqual(gate.confirmed('b2', 7), []);
  // etcd now records a gate without b1: what b2 holds settles.
  assert.deepEqual(gate.departuresRecorded(1), [late, confirmedByB2]);
  assert.deepEqual(gate.unrecordedDepartures, []);
});

test('a departure needs no record without a cluster manager, nor for a backup that was not ready', () => {
  const manual = new AckGate({ open: true });
  manual.addMember('b1', 0);
  const a = manual.hold({ lsn: 2, needsDurable: true, messageId: 1 }).key;
  manual.durable(2);
  assert.deepEqual(manual.removeMember('b1', true), [a]);
  assert.equal(manual.generation, 0);

  const managed = new AckGate({ open: true });
  managed.requireRecordedDepartures();
  managed.addMember('b1', 0);
  const b = managed.hold({ lsn: 2, needsDurable: true, messageId: 2 }).key;
  managed.durable(2);
  // Still catching up: never promotable, so nothing waits on etcd for it.
  assert.deepEqual(managed.removeMember('b1', false), [b]);
  assert.deepEqual(managed.unrecordedDepartures, []);
});
