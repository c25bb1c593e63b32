// What a broker heard of its primary (src/ha/heard.ts, heard-file.ts): the later position wins,
// a store is behind only when it heard of LSNs past its end in an epoch it has not left, and the
// record on disk is replaced whole or not at all; a garbled one is reported and ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { behindHeard, laterHeard } from '../../src/ha/heard.js';
import { heardFile } from '../../src/ha/heard-file.js';
import { checkJoiningPromotion, whyNotHighestBackup, type PeerAnswer, type PromotionPeers } from '../../src/ha/promote-checks.js';
import type { StoreMeta } from '../../store/index.js';
import type { HaStatus } from '../../src/ha/node.js';
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
    record.save({ epoch: 3, lsn: 12830, primary: '127.0.0.1:5672' });
    assert.deepEqual(record.load(), { epoch: 3, lsn: 12830, primary: '127.0.0.1:5672' }, 'the announcing primary is kept');
    record.save({ epoch: 3, lsn: 12831 });
    assert.deepEqual(record.load(), { epoch: 3, lsn: 12831 }, 'an older record without one still reads');
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

/** A peer's answer as the rule reads it: only these fields matter to it. */
function peer(address: string, status: Partial<HaStatus> | null): PeerAnswer {
  if (status === null) return { address, status: null };
  return { address, status: { name: address.split(':')[0] ?? address, state: 'joining', epoch: 3, epochHistory: [{ epoch: 3, firstLsn: 1 }], lastLsn: 0, snapshotIncomplete: false, ...status } as HaStatus };
}

test('the liveness rule: a store behind what it heard is promotable when every backup answered and none holds more (min-backups >= 1)', () => {
  const self = { epoch: 3, lastLsn: 900 };
  const heard = { epoch: 3, lsn: 1000, primary: 'b1:5672' };
  const cases: { why: string; peers: PeerAnswer[]; minBackups?: number; heard?: typeof heard | { epoch: number; lsn: number }; admitted: boolean; names?: RegExp }[] = [
    { why: 'the other backup is behind, the primary that announced it is silent', peers: [peer('b1:5672', null), peer('b3:5672', { lastLsn: 800 })], admitted: true },
    { why: 'a tie is allowed', peers: [peer('b1:5672', null), peer('b3:5672', { lastLsn: 900 })], admitted: true },
    { why: 'another backup holds more: it is named', peers: [peer('b1:5672', null), peer('b3:5672', { lastLsn: 950 })], admitted: false, names: /b3 \(b3:5672\) holds more \(epoch 3, LSN 950\): promote it instead/ },
    { why: 'a backup of a later epoch holds more', peers: [peer('b1:5672', null), peer('b3:5672', { epoch: 5, epochHistory: [{ epoch: 5, firstLsn: 700 }], lastLsn: 701 })], admitted: false, names: /b3 .* holds more \(epoch 5/ },
    { why: 'a silent backup may hold more', peers: [peer('b1:5672', null), peer('b3:5672', null)], admitted: false, names: /b3:5672 did not answer/ },
    { why: 'the announcing primary is not known (an older record): every peer must answer', heard: { epoch: 3, lsn: 1000 }, peers: [peer('b1:5672', null), peer('b3:5672', { lastLsn: 800 })], admitted: false, names: /b1:5672 did not answer/ },
    { why: 'the old primary answered, restarted with its longer store', peers: [peer('b1:5672', { lastLsn: 1000 }), peer('b3:5672', { lastLsn: 800 })], admitted: false, names: /b1 .* holds more/ },
    { why: 'another broker is primary', peers: [peer('b1:5672', { state: 'active', lastLsn: 10 }), peer('b3:5672', { lastLsn: 800 })], admitted: false, names: /b1 \(b1:5672\) is primary/ },
    { why: 'a backup wiped for a snapshot may have held more before', peers: [peer('b1:5672', null), peer('b3:5672', { lastLsn: 5000, snapshotIncomplete: true })], admitted: false, names: /b3 .* partial snapshot/ },
    { why: 'a backup with a new or wiped store may have held more before', peers: [peer('b1:5672', null), peer('b3:5672', { epoch: 0, epochHistory: [], lastLsn: 0 })], admitted: false, names: /b3 .* empty store/ },
    { why: 'min-backups 0: the primary may have settled alone', minBackups: 0, peers: [peer('b1:5672', null), peer('b3:5672', { lastLsn: 800 })], admitted: false, names: /--ha-min-backups 0/ },
  ];
  for (const c of cases) {
    const whyNot = whyNotHighestBackup(self, c.heard ?? heard, c.peers, c.minBackups ?? 1);
    assert.equal(whyNot === null, c.admitted, `${c.why}: ${String(whyNot)}`);
    if (c.names) assert.match(whyNot ?? '', c.names, c.why);
  }
});

test("a joining broker told the cluster manager's record passes over a ready backup below it, and is refused when it is below it itself", async () => {
  const meta = { storeId: 'mine', epoch: 3, epochHistory: [{ epoch: 3, firstLsn: 1 }], lastLsn: 12, snapshotIncomplete: false } as unknown as StoreMeta;
  const peersWith = (statuses: Record<string, Partial<HaStatus>>, own = meta): PromotionPeers => ({
    name: 'b0',
    meta: own,
    corrupt: null,
    others: Object.keys(statuses).map((host) => ({ transport: 'tcp', host, port: 5672 })),
    probe: async (address) => peer(`${address.host}:5672`, { storeId: address.host, ...statuses[address.host] }).status,
  });
  const readyBelow = { b1: { state: 'ready' as const, lastLsn: 11 } };
  await assert.rejects(checkJoiningPromotion(peersWith(readyBelow), false), /b1 \(b1:5672\) is ready; only a ready backup can be promoted/, 'without a record a ready backup blocks, as before');
  const warnings = await checkJoiningPromotion(peersWith(readyBelow), false, { epoch: 3, lsn: 12 });
  assert.match(warnings.join('\n'), /b1 is a ready backup whose store ends at LSN 11, below the cluster manager's record \(epoch 3 LSN 12\); it will resync/);
  await assert.rejects(checkJoiningPromotion(peersWith({ b1: { state: 'ready', lastLsn: 12 } }), false, { epoch: 3, lsn: 12 }), /b1 .* is ready/, 'a ready backup that holds the record still blocks');
  await assert.rejects(checkJoiningPromotion(peersWith({}, { ...meta, lastLsn: 10 } as StoreMeta), false, { epoch: 3, lsn: 12 }), /the store of b0 ends at epoch 3 LSN 10, below the cluster manager's record/);
});
