// When another manager's etcd lease has surely expired, from etcd's whole-second TTL readings
// (src/manager/lease-expiry.ts): a chain of 0 readings spanning a second proves it, a reading of 1
// (a renewal) or a gap in the chain long enough to hide a renewal starts over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { observeTtl, suspectsLeader, type ExpiryChain, type ExpiryVerdict } from '../../src/manager/lease-expiry.js';

const TTL_MS = 2000;

/** Readings every `everyMs`, each taking `rttMs`, with the TTLs given; the verdicts. */
function run(ttls: readonly number[], everyMs = 50, rttMs = 2): ExpiryVerdict[] {
  let chain: ExpiryChain | null = null;
  const verdicts: ExpiryVerdict[] = [];
  ttls.forEach((ttlSeconds, i) => {
    const sentMs = 1000 + i * everyMs;
    const verdict = observeTtl(chain, { sentMs, receivedMs: sentMs + rttMs, ttlSeconds }, TTL_MS);
    verdicts.push(verdict);
    chain = verdict.kind === 'watching' ? verdict.chain : null;
  });
  return verdicts;
}

const zeros = (n: number): number[] => Array.from({ length: n }, () => 0);

test('expired once the 0 readings span a second (and a margin) since the first', () => {
  const verdicts = run([1, 1, ...zeros(30)]);
  const first = verdicts.findIndex((v) => v.kind === 'expired');
  // The first 0 is reading 2 (received at 1102); expiry is proven from a send at or after 2122.
  assert.equal(first, 2 + 21, `expired at reading ${first}`);
  assert.ok(verdicts.slice(0, first).every((v) => v.kind === 'watching'));
});

test('a renewal (a reading of 1 again) starts the chain over', () => {
  const verdicts = run([0, ...zeros(10), 1, ...zeros(19), ...zeros(10)]);
  const first = verdicts.findIndex((v) => v.kind === 'expired');
  assert.ok(first > 12 + 20, `not before a second of 0s after the renewal (reading ${first})`);
});

test('a gap long enough to hide a renewal starts the chain over', () => {
  // Readings a second apart (ttl 2 s: a renewal shows at least 1 for a second after it).
  const verdicts = run([0, 0, 0, 0], 1000);
  assert.ok(verdicts.every((v) => v.kind === 'watching'), JSON.stringify(verdicts));
});

test('a lease etcd no longer has is gone: nothing to revoke', () => {
  assert.equal(run([0, -1])[1]?.kind, 'gone');
});

test('the leader is suspected only by a ready backup that lost its primary, of another manager\'s key', () => {
  const base = { leader: 'b1', leaderIsMine: false, name: 'b2', brokerState: 'ready', connectedToPrimary: false };
  assert.equal(suspectsLeader(base), true);
  assert.equal(suspectsLeader({ ...base, connectedToPrimary: true }), false, 'still following a primary');
  assert.equal(suspectsLeader({ ...base, leader: null }), false, 'no key: nothing to watch');
  assert.equal(suspectsLeader({ ...base, leader: 'b2' }), false, 'our own key');
  assert.equal(suspectsLeader({ ...base, leaderIsMine: true }), false);
  assert.equal(suspectsLeader({ ...base, brokerState: 'catchup' }), false, 'not promotable anyway');
});
