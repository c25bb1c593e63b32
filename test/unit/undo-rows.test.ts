// Undo rows stay on a leaf page (layout.ts: UNDO_ROW_MAX_BYTES): LMDB allocates a larger value
// from a search of its whole freelist, which cost a primary with a deep store most of its CPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStoreError } from '../../store/index.js';
import { numberSeed, seal } from '../../store/checksum.js';
import { decodeUndoRow, encodeUndoRows, UNDO_ROW_MAX_BYTES, undoRowSpan } from '../../store/layout.js';
import type { UndoBatch, UndoEntry } from '../../store/undo.js';

function entry(lsn: number, noteBytes: number): UndoEntry {
  return { lsn, ops: [{ t: 'message-new', id: lsn }, { t: 'entry', queue: 'q'.repeat(noteBytes), position: lsn, entry: null }], garbage: [] };
}

test('an undo batch is stored as consecutive rows within a page, each read back as a batch of its own', () => {
  const entries = Array.from({ length: 200 }, (_, i) => entry(1000 + i, (i * 37) % 400));
  const batch: UndoBatch = { firstLsn: 1000, lastLsn: 1199, entries };
  const rows = encodeUndoRows(batch);
  assert.ok(rows.length > 10, `${rows.length} rows`);
  const decoded = rows.map((row) => {
    assert.ok(row.value.byteLength <= UNDO_ROW_MAX_BYTES, `a row of ${row.value.byteLength} bytes`);
    return decodeUndoRow(row.firstLsn, row.value);
  });
  assert.deepEqual(decoded.flatMap((b) => b.entries), entries);
  for (let i = 0; i < decoded.length; i++) {
    const b = decoded[i] as UndoBatch;
    assert.equal(b.firstLsn, (b.entries[0] as UndoEntry).lsn);
    assert.equal(b.lastLsn, (b.entries[b.entries.length - 1] as UndoEntry).lsn);
    if (i > 0) assert.equal(b.firstLsn, (decoded[i - 1] as UndoBatch).lastLsn + 1, 'rows are consecutive');
  }
});

test('an undo entry larger than a page gets a row of its own, and a small batch one row', () => {
  const big = entry(7, 5000);
  const rows = encodeUndoRows({ firstLsn: 6, lastLsn: 8, entries: [entry(6, 10), big, entry(8, 10)] });
  assert.deepEqual(rows.map((r) => decodeUndoRow(r.firstLsn, r.value).entries.map((e) => e.lsn)), [[6], [7], [8]]);
  assert.equal(encodeUndoRows({ firstLsn: 1, lastLsn: 2, entries: [entry(1, 10), entry(2, 10)] }).length, 1);
});

test("an undo row's span is read from its head, its checksum checked", () => {
  const rows = encodeUndoRows({ firstLsn: 40, lastLsn: 45, entries: [40, 41, 42, 43, 44, 45].map((lsn) => entry(lsn, 10)) });
  assert.equal(rows.length, 1);
  const row = rows[0] as { firstLsn: number; value: Buffer };
  assert.deepEqual(undoRowSpan(40, row.value), { firstLsn: 40, lastLsn: 45 });
  // A row of the earlier writer (JSON.stringify of the batch) reads the same way.
  const older: UndoBatch = { firstLsn: 7, lastLsn: 9, entries: [entry(7, 1), entry(9, 1)] };
  assert.deepEqual(undoRowSpan(7, seal(Buffer.from(JSON.stringify(older)), numberSeed(7))), { firstLsn: 7, lastLsn: 9 });
  const damaged = Buffer.from(row.value);
  damaged[30] = (damaged[30] as number) ^ 1;
  assert.throws(() => undoRowSpan(40, damaged), (err: unknown) => isStoreError(err, 'STORE_CORRUPT'));
});
