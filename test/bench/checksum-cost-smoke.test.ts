// bench/checksum-cost.ts at its tiny size, so it cannot rot: both builds start, carry durable
// load without loss, and a cost is computed (the figure itself is a measurement, not a verdict).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureChecksumCost } from '../../bench/checksum-cost.js';

test('checksum-cost runs this build and the checksum-free build, durable, and reports the cost', { timeout: 180_000, skip: process.env['BENCH_SMOKE'] === 'all' ? false : 'run with BENCH_SMOKE=all (the suite\'s time budget)' }, async () => {
  const result = await measureChecksumCost({ size: 'tiny', rounds: 1, log: () => {} });
  assert.equal(result.withMsgsPerS.length, 1);
  assert.equal(result.withoutMsgsPerS.length, 1);
  assert.ok(result.withMsgsPerS[0]! > 0 && result.withoutMsgsPerS[0]! > 0);
  assert.ok(Number.isFinite(result.costPct));
});
