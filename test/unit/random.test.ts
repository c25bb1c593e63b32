import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../src/core/random.js';

test('a seed replays the same sequence, and different seeds differ', () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const c = seededRandom(43);
  const seqA = Array.from({ length: 20 }, () => a.int(0, 1000));
  const seqB = Array.from({ length: 20 }, () => b.int(0, 1000));
  const seqC = Array.from({ length: 20 }, () => c.int(0, 1000));
  assert.deepEqual(seqA, seqB);
  assert.notDeepEqual(seqA, seqC);
  for (const v of seqA) assert.ok(v >= 0 && v <= 1000);
});
