// What a broker heard of its primary (src/ha/heard.ts, heard-file.ts): the later position wins,
// a store is behind only when it heard of LSNs past its end in an epoch it has not left, and the
// record on disk is replaced whole or not at all; a garbled one is reported and ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { behindHeard, laterHeard } from '../../src/ha/heard.js';
import { heardFile } from '../../src/ha/heard-file.js';
import { removeDir, tempDir } from '../helpers/broker-process.js';

test('laterHeard: a higher epoch wins, then a higher LSN', () => {
  assert.deepEqual(laterHeard({ epoch: 2, lsn: 10 }, { epoch: 3, lsn: 1 }), { epoch: 3, lsn: 1 });
  assert.deepEqual(laterHeard({ epoch: 3, lsn: 10 }, { epoch: 3, lsn: 9 }), { epoch: 3, lsn: 10 });
  assert.deepEqual(laterHeard(null, { epoch: 1, lsn: 1 }), { epoch: 1, lsn: 1 });
  assert.equal(laterHeard(null, null), null);
});

test('behindHeard names the gap, and only a real one', () => {
  const cases: { store: { epoch: number; lastLsn: number }; heard: { epoch: number; lsn: number } | null; behind: boolean }[] = [
    { store: { epoch: 3, lastLsn: 3735 }, heard: { epoch: 3, lsn: 12829 }, behind: true },
    { store: { epoch: 3, lastLsn: 12829 }, heard: { epoch: 3, lsn: 12829 }, behind: false },
    { store: { epoch: 2, lastLsn: 100 }, heard: { epoch: 3, lsn: 150 }, behind: true },
    // A store that went on to a later epoch (it was primary since) is past what it heard.
    { store: { epoch: 4, lastLsn: 100 }, heard: { epoch: 3, lsn: 150 }, behind: false },
    { store: { epoch: 3, lastLsn: 100 }, heard: null, behind: false },
  ];
  for (const c of cases) assert.equal(behindHeard(c.store, c.heard) !== null, c.behind, JSON.stringify(c));
  assert.equal(behindHeard({ epoch: 3, lastLsn: 3735 }, { epoch: 3, lsn: 12829 }), 'this store ends at LSN 3,735; the primary of epoch 3 had reached 12,829');
});

test('the record is saved whole and read back; a garbled one is reported and ignored', () => {
  const dir = tempDir();
  try {
    const problems: string[] = [];
    const record = heardFile(dir, (p) => problems.push(p));
    assert.equal(record.load(), null, 'no record yet');
    record.save({ epoch: 3, lsn: 12829 });
    record.save({ epoch: 3, lsn: 12830 });
    assert.deepEqual(record.load(), { epoch: 3, lsn: 12830 });
    assert.deepEqual(readdirSync(dir).sort(), ['ha-heard.json'], 'no temporary file left behind');
    writeFileSync(`${dir}/ha-heard.json`, '{"epoch": 3, "ls');
    assert.equal(record.load(), null);
    assert.match(problems[0] ?? '', /ha-heard\.json is garbled/);
    writeFileSync(`${dir}/ha-heard.json`, '{"epoch": -1, "lsn": 5}');
    assert.equal(record.load(), null, 'out-of-range values are refused');
  } finally {
    removeDir(dir);
  }
});
