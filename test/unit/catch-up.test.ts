// The catch-up rules (src/ha/catch-up.ts), table-driven: where two logs diverge, and when a
// backup catches up by the delta or needs a snapshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { divergencePoint, planCatchUp, type BackupView, type PrimaryView } from '../../src/ha/catch-up.js';

const h = (...pairs: [number, number][]) => pairs.map(([epoch, firstLsn]) => ({ epoch, firstLsn }));

test('divergencePoint: the last LSN both logs hold in the newest epoch they share', () => {
  const cases: { what: string; primary: [ReturnType<typeof h>, number]; backup: [ReturnType<typeof h>, number]; expected: number | null }[] = [
    { what: 'a backup behind in the same epoch (it was down)', primary: [h([1, 1]), 900], backup: [h([1, 1]), 500], expected: 500 },
    { what: 'the same log', primary: [h([1, 1]), 900], backup: [h([1, 1]), 900], expected: 900 },
    { what: 'the old primary, ahead of the backup promoted at 800', primary: [h([1, 1], [4, 801]), 1000], backup: [h([1, 1]), 850], expected: 800 },
    { what: 'a backup behind the promoted one', primary: [h([1, 1], [4, 801]), 1000], backup: [h([1, 1]), 700], expected: 700 },
    { what: 'a split-brain loser: its epoch 5 is unknown to the winner', primary: [h([1, 1], [4, 801]), 1000], backup: [h([1, 1], [5, 820]), 900], expected: 800 },
    { what: 'nothing in common', primary: [h([2, 1]), 100], backup: [h([1, 1]), 100], expected: null },
    { what: 'an epoch begun elsewhere does not count', primary: [h([1, 1], [3, 50]), 100], backup: [h([1, 1], [3, 60]), 100], expected: 49 },
  ];
  for (const c of cases) {
    assert.equal(divergencePoint({ epochHistory: c.primary[0], lastLsn: c.primary[1] }, { epochHistory: c.backup[0], lastLsn: c.backup[1] }), c.expected, c.what);
  }
});

test('planCatchUp: incremental from the divergence point unless the log no longer reaches it or the store cannot be trusted', () => {
  const primary: PrimaryView = { epochHistory: h([1, 1], [4, 801]), lastLsn: 1000, epoch: 4, firstLsn: 300, promotedAfterTotalFailure: false };
  const backup = (over: Partial<BackupView> = {}): BackupView => ({ epochHistory: h([1, 1]), lastLsn: 850, snapshotIncomplete: false, ...over });
  assert.deepEqual(planCatchUp(primary, backup(), 'wipe'), { kind: 'incremental', fromLsn: 800 });
  assert.equal(planCatchUp(primary, backup({ lastLsn: 250 }), 'wipe').kind, 'snapshot', 'behind the retained log');
  assert.deepEqual(planCatchUp(primary, backup({ lastLsn: 299 }), 'wipe'), { kind: 'incremental', fromLsn: 299 }, 'just reaches it');
  assert.equal(planCatchUp(primary, backup({ snapshotIncomplete: true }), 'wipe').kind, 'snapshot');
  assert.deepEqual(planCatchUp(primary, backup({ resync: 'store full: ...' }), 'wipe'), { kind: 'snapshot', reason: 'the backup asks for a full resync (store full: ...)' }, 'a backup whose store filled or was found corrupt');
  assert.equal(planCatchUp(primary, backup({ lastLsn: 0, epochHistory: [] }), 'wipe').kind, 'snapshot');
  assert.equal(planCatchUp(primary, backup({ epochHistory: h([2, 1]) }), 'wipe').kind, 'snapshot');
  // After a total failure: a store from before it resyncs unless incremental is chosen; one that
  // has followed this primary since comes back by the delta either way.
  const first: PrimaryView = { ...primary, promotedAfterTotalFailure: true };
  assert.match(String((planCatchUp(first, backup(), 'wipe') as { reason?: string }).reason), /total cluster failure/);
  assert.deepEqual(planCatchUp(first, backup(), 'incremental'), { kind: 'incremental', fromLsn: 800 });
  assert.deepEqual(planCatchUp(first, backup({ epochHistory: h([1, 1], [4, 801]), lastLsn: 950 }), 'wipe'), { kind: 'incremental', fromLsn: 950 });
});
