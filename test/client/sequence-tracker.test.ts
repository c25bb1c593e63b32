// qpid-receive's per-sender loss and duplicate accounting, as a pure object.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SequenceTracker } from '../../tools/lib/sequence-tracker.js';

test('in-order numbers are new; repeats are duplicates; holes below the highest are gaps', () => {
  const tracker = new SequenceTracker();
  const results = [1, 2, 3, 5, 3, 6, 9, 9, 4].map((sn) => tracker.track('a', sn));
  assert.deepEqual(results, ['new', 'new', 'new', 'new', 'duplicate', 'new', 'new', 'duplicate', 'new']);
  assert.deepEqual(tracker.report(), {
    unique: 7,
    duplicates: 2,
    lost: 2,
    untracked: 0,
    senders: [{ senderId: 'a', unique: 7, duplicates: 2, highestSn: 9, gaps: [[7, 8]], lost: 2 }],
  });
});

test('senders are tracked separately; messages without a usable sn are untracked', () => {
  const tracker = new SequenceTracker();
  for (const sn of [1, 2, 4]) tracker.track('b', sn);
  for (const sn of [1, 1, 2]) tracker.track('a', sn);
  for (const sn of [undefined, 'x', 0, 1.5, -3]) assert.equal(tracker.track('a', sn), 'untracked');
  const report = tracker.report();
  assert.deepEqual(
    report.senders.map((sender) => [sender.senderId, sender.unique, sender.duplicates, sender.lost]),
    [
      ['a', 2, 1, 0],
      ['b', 3, 0, 1],
    ],
  );
  assert.equal(report.untracked, 5);
});

test('property: for any arrival order with repeats, unique/duplicates/gaps match a set-based count', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 200 }), (arrivals) => {
      const tracker = new SequenceTracker();
      for (const sn of arrivals) tracker.track('s', sn);
      const seen = new Set(arrivals);
      const highest = Math.max(0, ...arrivals);
      const missing = Array.from({ length: highest }, (_, index) => index + 1).filter((sn) => !seen.has(sn));
      const report = tracker.report();
      assert.equal(report.unique, seen.size);
      assert.equal(report.duplicates, arrivals.length - seen.size);
      assert.equal(report.lost, missing.length);
      const expanded = (report.senders[0]?.gaps ?? []).flatMap(([from, to]) => Array.from({ length: to - from + 1 }, (_, index) => from + index));
      assert.deepEqual(expanded, missing);
    }),
  );
});
