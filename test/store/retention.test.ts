// LMDB retention deletes a bounded number of log entries per batch (so a big truncation never
// stalls commits), yet keeps the log within its bound however large the batches are.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeRecord, openLmdbStore, verifyStore, type StoreRecord } from '../../store/index.js';
import { makeTmpDir } from '../helpers/tmp.js';

test('the log stays within logMaxBytes even when each batch adds more entries than the per-batch budget', async () => {
  const logMaxBytes = 16 * 1024;
  const store = openLmdbStore({ dataDir: makeTmpDir('store-retention'), sync: 'none', logMaxBytes, dropPerBatchMax: 10 });
  try {
    await store.commit([{ kind: 'queue-declare', queue: 'q', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]).durable;
    let position = 0;
    let batchBytes = 0;
    for (let i = 0; i < 30; i++) {
      const records: StoreRecord[] = [];
      for (let k = 0; k < 100; k++) {
        records.push({ kind: 'enqueue', messageId: store.allocateMessageId(), persistent: true, expiresAtMs: null, body: Buffer.alloc(64, 1), targets: [{ queue: 'q', position: ++position }] });
      }
      batchBytes = records.reduce((n, r) => n + encodeRecord(r).length, 0);
      await store.commit(records).committed;
      const m = store.meta();
      assert.ok(m.logBytes <= logMaxBytes + batchBytes, `after commit ${i}: ${m.logBytes} log bytes, bound ${logMaxBytes} (+ one batch of ${batchBytes})`);
    }
    assert.ok(store.meta().firstLsn > 1000);
    assert.deepEqual(verifyStore(store), []);
  } finally {
    await store.close();
  }
});
