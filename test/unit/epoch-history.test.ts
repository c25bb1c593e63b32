// The epoch-history rules (store/epoch-history.ts), table-driven: when a backup may follow a
// primary, and how the history grows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EPOCH_HISTORY_MAX, historyConflict, historyUpTo, withEpochStart, type EpochStart } from '../../store/index.js';

const h = (...pairs: [number, number][]): EpochStart[] => pairs.map(([epoch, firstLsn]) => ({ epoch, firstLsn }));

test('withEpochStart appends new epochs only, and keeps at most EPOCH_HISTORY_MAX', () => {
  assert.deepEqual(withEpochStart([], 1, 10), h([1, 10]));
  assert.deepEqual(withEpochStart(h([1, 10]), 3, 50), h([1, 10], [3, 50]));
  assert.deepEqual(withEpochStart(h([1, 10], [3, 50]), 3, 70), h([1, 10], [3, 50]), 'a replay of epoch 3');
  assert.deepEqual(withEpochStart(h([1, 10], [3, 50]), 2, 70), h([1, 10], [3, 50]), 'a lower epoch');
  let long: EpochStart[] = [];
  for (let e = 1; e <= EPOCH_HISTORY_MAX + 5; e++) long = withEpochStart(long, e, e * 10);
  assert.equal(long.length, EPOCH_HISTORY_MAX);
  assert.equal(long[0]?.epoch, 6);
});

test('historyUpTo keeps the epochs begun at or before the LSN', () => {
  assert.deepEqual(historyUpTo(h([1, 10], [3, 50], [5, 90]), 50), h([1, 10], [3, 50]));
  assert.deepEqual(historyUpTo(h([1, 10]), 9), []);
});

test('historyConflict: who a backup may follow', () => {
  const mine = h([1, 1], [4, 300], [6, 900]);
  const cases: { what: string; theirs: EpochStart[]; lastLsn: number; conflict: RegExp | null }[] = [
    { what: 'the same history (reconnect, or the primary of epoch 6)', theirs: mine, lastLsn: 1000, conflict: null },
    { what: 'a newer primary that went through epoch 6', theirs: h([1, 1], [4, 300], [6, 900], [9, 1200]), lastLsn: 1300, conflict: null },
    { what: 'a newer primary that is behind us in epoch 6 (we truncate our unsettled suffix)', theirs: h([1, 1], [4, 300], [6, 900], [9, 950]), lastLsn: 960, conflict: null },
    { what: 'the winner of a split brain that never saw our epoch 6', theirs: h([1, 1], [4, 300], [7, 850]), lastLsn: 1000, conflict: null },
    { what: 'an impostor with an empty history and log', theirs: [], lastLsn: 0, conflict: /shares no epoch/ },
    { what: 'an impostor with an unrelated history', theirs: h([1000, 1]), lastLsn: 5, conflict: /shares no epoch/ },
    { what: 'a history that says epoch 4 began elsewhere', theirs: h([1, 1], [4, 301], [9, 1200]), lastLsn: 1300, conflict: /epoch 4 began at LSN 300 here and at LSN 301/ },
    { what: 'a log that ends before the newest common epoch began', theirs: h([1, 1], [4, 300]), lastLsn: 200, conflict: /ends at LSN 200, before epoch 4/ },
  ];
  for (const c of cases) {
    const got = historyConflict(mine, c.theirs, c.lastLsn);
    if (c.conflict === null) assert.equal(got, null, c.what);
    else assert.match(got ?? 'no conflict', c.conflict, c.what);
  }
  assert.equal(historyConflict([], [], 0), null, 'a store with no history follows anyone');
});
