// The Pacemaker agent's promotion scores (tools/lib/promotion-score.ts): the primary stays
// highest, ready backups rank by store recency (epoch first, then last LSN), a joining broker is
// a candidate only when it knows of no primary (total failure), and then below any ready one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promotionScore, storeRank } from '../../tools/lib/promotion-score.js';

const peers = [
  { name: 'b0', state: 'ready', epoch: 3, lastLsn: 10 },
  { name: 'b1', state: 'ready', epoch: 4, lastLsn: 2 },
  { name: 'b2', state: 'ready', epoch: 4, lastLsn: 7 },
  { name: null, state: 'unreachable' },
];

test('ready backups rank by epoch, then last LSN; the primary stays above them', () => {
  assert.deepEqual(['b2', 'b1', 'b0'].map((n) => storeRank(n, peers, 'ready')), [0, 1, 2]);
  const scores = ['b0', 'b1', 'b2'].map((name) => promotionScore({ name, state: 'ready', primaryKnown: true }, peers).score);
  assert.deepEqual(scores, [880, 890, 900]);
  assert.equal(promotionScore({ name: 'b3', state: 'active', primaryKnown: true }, peers).score, 1000);
  assert.equal(promotionScore({ name: 'b3', state: 'recovering', primaryKnown: true }, peers).score, 1000);
});

test('joining or catching up behind a known primary: no score; joining with none: a low-score candidate', () => {
  assert.equal(promotionScore({ name: 'b0', state: 'joining', primaryKnown: true }, []).score, null);
  assert.equal(promotionScore({ name: 'b0', state: 'catchup', primaryKnown: true }, []).score, null);
  const joining = [
    { name: 'b0', state: 'joining', epoch: 2, lastLsn: 50 },
    { name: 'b1', state: 'joining', epoch: 2, lastLsn: 90 },
  ];
  assert.equal(promotionScore({ name: 'b1', state: 'joining', primaryKnown: false }, joining).score, 100);
  assert.equal(promotionScore({ name: 'b0', state: 'joining', primaryKnown: false }, joining).score, 90);
  // Equal stores tie-break by name, the same on every node.
  const equal = [{ name: 'b1', state: 'joining', epoch: 0, lastLsn: 0 }, { name: 'b0', state: 'joining', epoch: 0, lastLsn: 0 }];
  assert.equal(promotionScore({ name: 'b0', state: 'joining', primaryKnown: false }, equal).score, 100);
  assert.equal(promotionScore({ name: 'b0', state: 'standalone', primaryKnown: false }, equal).score, null);
});

test('a score never falls to 0 (Pacemaker would read it as never promote here)', () => {
  const many = Array.from({ length: 200 }, (_, i) => ({ name: `n${String(i).padStart(3, '0')}`, state: 'ready', epoch: 1, lastLsn: 1000 - i }));
  assert.equal(promotionScore({ name: 'n199', state: 'ready', primaryKnown: true }, many).score, 1);
});
