// The ship ledger (src/ha/ship-ledger.ts): a backup's lag in bytes and seconds, and the confirm
// latency of each batch, from what was shipped and what the backup confirmed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShipLedger } from '../../src/ha/ship-ledger.js';

test('lag in bytes and seconds follows shipping and confirmation; each batch reports its latency once', () => {
  const ledger = new ShipLedger();
  ledger.shipped(10, 1000, 0);
  ledger.shipped(20, 500, 100);
  assert.equal(ledger.unconfirmedBytes, 1500);
  assert.equal(ledger.oldestUnconfirmedMs(250), 250);
  const latencies: number[] = [];
  ledger.confirmed(15, 300, (ms) => latencies.push(ms));
  assert.deepEqual(latencies, [300], 'the first batch is complete, the second is not');
  assert.equal(ledger.unconfirmedBytes, 500);
  assert.equal(ledger.oldestUnconfirmedMs(300), 200);
  ledger.confirmed(20, 400, (ms) => latencies.push(ms));
  assert.deepEqual(latencies, [300, 300]);
  assert.equal(ledger.unconfirmedBytes, 0);
  assert.equal(ledger.oldestUnconfirmedMs(1000), 0);
  ledger.confirmed(20, 500, (ms) => latencies.push(ms));
  assert.equal(latencies.length, 2, 'a repeated confirmation reports nothing');
});

test('a backup that never confirms costs bounded entries, and its lag in bytes stays exact', () => {
  const ledger = new ShipLedger();
  for (let i = 1; i <= 100_000; i++) ledger.shipped(i, 10, i);
  assert.equal(ledger.unconfirmedBytes, 1_000_000);
  assert.equal(ledger.oldestUnconfirmedMs(100_000), 99_999);
  let batches = 0;
  ledger.confirmed(100_000, 100_001, () => batches++);
  assert.ok(batches <= 4096, `${batches} entries kept`);
  assert.equal(ledger.unconfirmedBytes, 0);
});
