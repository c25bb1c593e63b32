// The crash checker on hand-made histories, so that it cannot silently pass: each rule is shown
// to fire on the smallest history that breaks it, and to stay quiet on what the contract allows
// (duplicates, resends out of order, messages never accepted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { check } from './harness/checker.js';
import { HistoryTail, HistoryWriter, historyPath, readHistory, type HistoryEvent, type Stamped } from './harness/history.js';

const Q = 'q1';

/** One writer's events, numbered in order. */
function writer(name: string, events: readonly HistoryEvent[]): Stamped[] {
  return events.map((event, seq) => ({ ...event, writer: name, seq, atMs: seq }));
}

const send = (producer: string, sn: number, queue = Q): HistoryEvent => ({ kind: 'send', producer, queue, sn });
const settle = (producer: string, sn: number, outcome: 'accepted' | 'rejected' | 'released' | 'failed' = 'accepted'): HistoryEvent => ({ kind: 'settle', producer, queue: Q, sn, outcome });
const receive = (producer: string, sn: number, deliveryCount = 0, queue = Q): HistoryEvent => ({ kind: 'receive', consumer: 'c1', queue, producer, sn, deliveryCount });
const disconnect = (client: string): HistoryEvent => ({ kind: 'disconnect', client, address: '127.0.0.1:1', reason: 'test' });

/** Producer `p` sends and has accepted 1..n, one after another. */
function acceptedRun(producer: string, n: number): HistoryEvent[] {
  return Array.from({ length: n }, (_, i) => [send(producer, i + 1), settle(producer, i + 1)]).flat();
}

test('a clean history passes and counts what happened', () => {
  const verdict = check([
    ...writer('p1', acceptedRun('p1', 3)),
    ...writer('p2', acceptedRun('p2', 2)),
    ...writer('c1', [receive('p1', 1), receive('p2', 1), receive('p1', 2), receive('p2', 2), receive('p1', 3)]),
  ]);
  assert.equal(verdict.ok, true, verdict.problems.join('; '));
  assert.equal(verdict.counts.sent, 5);
  assert.equal(verdict.counts.accepted, 5);
  assert.equal(verdict.counts.unique, 5);
  assert.equal(verdict.counts.duplicates, 0);
});

test('loss: an accepted message never received fails the check and is named', () => {
  const verdict = check([...writer('p1', acceptedRun('p1', 3)), ...writer('c1', [receive('p1', 1), receive('p1', 3)])]);
  assert.equal(verdict.ok, false);
  assert.equal(verdict.counts.lost, 1);
  assert.deepEqual(verdict.lost, [{ producer: 'p1', sn: 2 }]);
  assert.match(verdict.problems[0] as string, /p1 sn 2/);
});

test('loss: nothing received at all is every accepted message lost', () => {
  const verdict = check(writer('p1', acceptedRun('p1', 4)));
  assert.equal(verdict.ok, false);
  assert.equal(verdict.counts.lost, 4);
});

test('a message not accepted (rejected, released, given up, never settled) may be missing', () => {
  const verdict = check([
    ...writer('p1', [send('p1', 1), settle('p1', 1), send('p1', 2), settle('p1', 2, 'rejected'), send('p1', 3), settle('p1', 3, 'released'), send('p1', 4), settle('p1', 4, 'failed'), send('p1', 5)]),
    ...writer('c1', [receive('p1', 1)]),
  ]);
  assert.equal(verdict.ok, true, verdict.problems.join('; '));
  assert.equal(verdict.counts.notAccepted, 2);
  assert.equal(verdict.counts.unsettled, 2);
});

test('duplicates are counted and never counted as loss', () => {
  const verdict = check([
    ...writer('p1', [send('p1', 1), send('p1', 2), disconnect('p1'), settle('p1', 1), settle('p1', 2)]),
    ...writer('c1', [receive('p1', 1), receive('p1', 2), receive('p1', 1), receive('p1', 2, 1), receive('p1', 2, 2)]),
  ]);
  assert.equal(verdict.ok, true, verdict.problems.join('; '));
  assert.equal(verdict.counts.duplicates, 3);
  assert.equal(verdict.counts.lost, 0);
  assert.equal(verdict.counts.unmarkedRedeliveries, 0);
});

test('a duplicate with delivery-count 0 of a message never resent is an unmarked redelivery (reported, not fatal)', () => {
  const verdict = check([...writer('p1', acceptedRun('p1', 2)), ...writer('c1', [receive('p1', 1), receive('p1', 2), receive('p1', 2, 0), receive('p1', 1, 1)])]);
  assert.equal(verdict.ok, true);
  assert.equal(verdict.counts.duplicates, 2);
  assert.equal(verdict.counts.unmarkedRedeliveries, 1);
});

test('order: a message overtaken by a later one of the same producer, not resent, is a violation', () => {
  const verdict = check([...writer('p1', acceptedRun('p1', 3)), ...writer('c1', [receive('p1', 1), receive('p1', 3), receive('p1', 2)])]);
  assert.equal(verdict.ok, false);
  assert.deepEqual(verdict.orderViolations, [{ producer: 'p1', sn: 2, consumer: 'c1', queue: Q, after: 3, deliveryCount: 0 }]);
  assert.equal(verdict.counts.orderViolationsRedelivered, 0);
});

test('order: a late message marked as delivered before is still a violation, counted apart', () => {
  const verdict = check([...writer('p1', acceptedRun('p1', 3)), ...writer('c1', [receive('p1', 1), receive('p1', 3), receive('p1', 2, 1)])]);
  assert.equal(verdict.ok, false);
  assert.equal(verdict.counts.orderViolations, 1);
  assert.equal(verdict.counts.orderViolationsRedelivered, 1);
});

test('order: a resent message (disconnect between its send and settlement) may arrive late', () => {
  const verdict = check([
    // 2 and 3 were in flight when the connection dropped; 3 had reached the broker, 2 had not.
    ...writer('p1', [send('p1', 1), settle('p1', 1), send('p1', 2), send('p1', 3), disconnect('p1'), settle('p1', 2), settle('p1', 3)]),
    ...writer('c1', [receive('p1', 1), receive('p1', 3), receive('p1', 2)]),
  ]);
  assert.equal(verdict.ok, true, verdict.problems.join('; '));
  assert.equal(verdict.counts.possiblyResent, 2);
});

test('order: a disconnect after a settlement does not excuse that message', () => {
  const verdict = check([
    ...writer('p1', [send('p1', 1), settle('p1', 1), send('p1', 2), settle('p1', 2), disconnect('p1'), send('p1', 3), settle('p1', 3)]),
    ...writer('c1', [receive('p1', 1), receive('p1', 3), receive('p1', 2)]),
  ]);
  assert.equal(verdict.ok, false);
  assert.equal(verdict.counts.orderViolations, 1);
});

test('order is per producer: interleaving two producers is fine', () => {
  const verdict = check([
    ...writer('p1', acceptedRun('p1', 2)),
    ...writer('p2', acceptedRun('p2', 2)),
    ...writer('c1', [receive('p2', 1), receive('p1', 1), receive('p2', 2), receive('p1', 2)]),
  ]);
  assert.equal(verdict.ok, true, verdict.problems.join('; '));
});

test('phantom: a receipt of a message never sent fails the check', () => {
  const verdict = check([...writer('p1', acceptedRun('p1', 1)), ...writer('c1', [receive('p1', 1), receive('p1', 7), receive('p9', 1)])]);
  assert.equal(verdict.ok, false);
  assert.equal(verdict.counts.phantoms, 2);
  assert.deepEqual(
    verdict.phantoms.map((p) => [p.producer, p.sn, p.reason]),
    [
      ['p1', 7, 'never-sent'],
      ['p9', 1, 'never-sent'],
    ],
  );
});

test('phantom: a message received from a queue it was not sent to', () => {
  const verdict = check([...writer('p1', acceptedRun('p1', 1)), ...writer('c1', [receive('p1', 1, 0, 'other')])]);
  assert.equal(verdict.ok, false);
  assert.equal(verdict.phantoms[0]?.reason, 'wrong-queue');
  // ...and the message it should have been is then lost from its own queue.
  assert.equal(verdict.counts.lost, 1);
});

test('a producer numbering a message twice is a broken history, not a verdict', () => {
  assert.throws(() => check(writer('p1', [send('p1', 1), send('p1', 1)])), /sent sn 1 twice/);
});

test('property: receiving every accepted message in order, with any duplicates, passes; dropping one is exactly one loss', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.nat(), { maxLength: 20 }), fc.nat(), (n, duplicateAt, dropAt) => {
      const receipts: HistoryEvent[] = [];
      for (let sn = 1; sn <= n; sn++) {
        receipts.push(receive('p1', sn));
        // A redelivery of an earlier message, marked as such.
        for (const d of duplicateAt) if (d % n === sn - 1) receipts.push(receive('p1', 1 + (d % sn), 1));
      }
      const history = [...writer('p1', acceptedRun('p1', n)), ...writer('c1', receipts)];
      const verdict = check(history);
      assert.equal(verdict.ok, true, verdict.problems.join('; '));
      assert.equal(verdict.counts.receipts, receipts.length);
      const dropped = 1 + (dropAt % n);
      const without = writer('c1', receipts.filter((r) => !(r.kind === 'receive' && r.sn === dropped)));
      const broken = check([...writer('p1', acceptedRun('p1', n)), ...without]);
      assert.equal(broken.ok, false);
      assert.deepEqual(broken.lost, [{ producer: 'p1', sn: dropped }]);
    }),
    { numRuns: 200 },
  );
});

test('history files: written by writers, read back per writer in order, a torn last line ignored, followed while growing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crash-history-'));
  try {
    const producer = new HistoryWriter(dir, 'p1');
    const consumer = new HistoryWriter(dir, 'c1');
    const tail = new HistoryTail(historyPath(dir, 'c1'), 'c1');
    producer.write(send('p1', 1));
    producer.write(settle('p1', 1));
    consumer.write(receive('p1', 1));
    assert.deepEqual(
      tail.poll().map((e) => [e.kind, e.seq]),
      [['receive', 0]],
    );
    consumer.write(receive('p1', 1, 1));
    appendFileSync(historyPath(dir, 'c1'), '{"kind":"rec');
    assert.deepEqual(
      tail.poll().map((e) => [e.kind, e.seq]),
      [['receive', 1]],
    );
    producer.close();
    consumer.close();
    const events = readHistory(dir);
    assert.equal(events.length, 4);
    assert.deepEqual(
      events.filter((e) => e.writer === 'p1').map((e) => [e.kind, e.seq]),
      [
        ['send', 0],
        ['settle', 1],
      ],
    );
    const verdict = check(events);
    assert.equal(verdict.ok, true, verdict.problems.join('; '));
    assert.equal(verdict.counts.duplicates, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
