// Regression: a backup's catch-up reads a snapshot (one long read transaction) while the
// primary keeps committing. On a store whose log retention had already freed many pages,
// lmdb-js 3.x failed the first such commit (MDB_BAD_TXN "reserved freelist had a data entry
// with zero-size") and then aborted the process in mdb_freelist_save. lmdb is pinned at 2.9.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLmdbStore, type EnqueueRecord } from '../../store/index.js';

test('commits go on while a snapshot streams from a store whose retention freed many pages', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'qpidd-freelist-'));
  const options = { dataDir, sync: 'none' as const, logMaxBytes: 16 * 1024 * 1024 };
  try {
    let store = openLmdbStore(options);
    await store.commit([{ kind: 'queue-declare', queue: 'q', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]).durable;
    const body = Buffer.alloc(1024, 7);
    let position = 0;
    let inFlight: Promise<void>[] = [];
    for (let commit = 0; commit < 200; commit++) {
      const records: EnqueueRecord[] = Array.from({ length: 500 }, () => ({ kind: 'enqueue', messageId: store.allocateMessageId(), persistent: true, expiresAtMs: null, body, targets: [{ queue: 'q', position: ++position }] }));
      inFlight.push(store.commit(records).committed);
      if (inFlight.length >= 8) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
    assert.ok(store.meta().firstLsn > 50_000, 'retention truncated the log');
    await store.close();
    store = openLmdbStore(options);
    const snapshot = store.snapshot();
    let seen = 0;
    try {
      for await (const record of snapshot.records()) {
        if (record.kind !== 'enqueue') continue;
        if (++seen % 1000 === 0) {
          await store.commit([{ kind: 'queue-declare', queue: `during-${seen}`, durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]).durable;
        }
        if (seen >= 20_000) break;
      }
    } finally {
      snapshot.close();
    }
    assert.equal(seen, 20_000);
    assert.ok(store.queue('during-20000'));
    await store.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
