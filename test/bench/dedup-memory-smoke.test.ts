// bench/dedup-memory.ts at a tiny size, so it cannot rot: each id shape is measured in its own
// process and a per-id heap cost comes out (the figure itself is a measurement: bench/README.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureDedupMemory } from '../../bench/dedup-memory.js';

test('dedup-memory measures a heap cost per remembered message-id for every id shape', () => {
  const rows = measureDedupMemory(5000, 1);
  assert.deepEqual(rows.map((r) => r.shape), ['producer:seq string', 'UUID string', 'binary UUID (16 bytes)']);
  for (const row of rows) assert.ok(row.bytesPerEntry > 0 && row.bytesPerEntry < 10_000, `${row.shape}: ${row.bytesPerEntry} bytes per id`);
});
