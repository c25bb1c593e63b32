// What a manager reports of its broker (src/manager/broker-link.ts reportOf), for the record it
// writes to etcd: the bound of what was settled is what was durable on the primary and confirmed
// by every backup in its gate, never a last LSN that was not yet durable (etcd seeds 1541, 2170:
// a record no store could reach, and no broker was promoted again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reportOf } from '../../src/manager/broker-link.js';
import type { HaStatus } from '../../src/ha/node.js';

function primary(over: Partial<HaStatus>): HaStatus {
  return { name: 'b0', state: 'active', epoch: 3, epochHistory: [{ epoch: 3, firstLsn: 1 }], lastLsn: 130, members: [], brokersUrl: 'a:1,b:1,c:1', address: 'a:1', connectedToPrimary: false, heard: null, snapshotIncomplete: false, gate: { backups: 0, minBackups: 0, short: false, durableLsn: 120 }, ...over } as unknown as HaStatus;
}

test('the confirmed LSN a primary reports is what is durable here and confirmed by every gated backup', () => {
  assert.equal(reportOf(primary({})).confirmedLsn, 120, 'no backups: the durable LSN, not the last');
  const ready = (name: string, confirmedLsn: number) => ({ name, state: 'ready', address: null, confirmedLsn });
  assert.equal(reportOf(primary({ members: [ready('b1', 125), ready('b2', 110)] as never })).confirmedLsn, 110, 'the lowest backup');
  assert.equal(reportOf(primary({ members: [ready('b1', 128)] as never })).confirmedLsn, 120, 'a backup ahead of our own durability');
  assert.equal(reportOf(primary({ gate: { backups: 0, minBackups: 1, short: true, durableLsn: 120 } })).confirmedLsn, 0, 'short of --ha-min-backups: nothing new is settled');
  assert.equal(reportOf(primary({ gate: null, state: 'ready' })).confirmedLsn, 130, 'a backup reports its last LSN');
});
