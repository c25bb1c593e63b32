// Undo rows (store/undo.ts) are not derived from the log, so they are checked like the other
// such rows: sealed with a CRC, read by full verify, and a damaged one is named. A cluster store
// keeps consumed messages at refs 0 for undo: neither verify counts them as orphans or
// table-count violations (issue 16: a restarted cluster broker was refused by its own quick
// verify at start for exactly that).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStoreError, openLmdbStore, openMemoryStore, MemoryDisk, verifyQuick, verifyStore, type Store, type StoreRecord } from '../../store/index.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { withRawTables } from './children.js';

const declare: StoreRecord = { kind: 'queue-declare', queue: 'q', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} };

/** A queue that held three messages, two of them consumed: their rows stay at refs 0 for undo. */
async function fill(store: Store): Promise<{ consumedLsn: number; ids: number[] }> {
  await store.commit([declare]).durable;
  const ids: number[] = [];
  for (let i = 1; i <= 3; i++) {
    const messageId = store.allocateMessageId();
    ids.push(messageId);
    await store.commit([{ kind: 'enqueue', messageId, targets: [{ queue: 'q', position: i }], body: Buffer.from(`body ${i}`), persistent: true, expiresAtMs: null }]).durable;
  }
  const t = store.commit([{ kind: 'dequeue', queue: 'q', position: 1, messageId: ids[0]!, cause: 'consumed' }]);
  await t.durable;
  await store.commit([{ kind: 'dequeue', queue: 'q', position: 2, messageId: ids[1]!, cause: 'consumed' }]).durable;
  return { consumedLsn: t.firstLsn, ids };
}

test('a store keeping undo for consumed messages is sound to quick and full verify (LMDB and memory)', async () => {
  const dataDir = makeTmpDir('undo-verify');
  const lmdb = openLmdbStore({ dataDir, undo: true });
  await fill(lmdb);
  assert.equal(lmdb.messageRefs(1), 0, 'the consumed body is kept for undo');
  assert.deepEqual(verifyQuick(lmdb), []);
  assert.deepEqual(verifyStore(lmdb), []);
  await lmdb.close();
  const memory = openMemoryStore(new MemoryDisk(), { undo: true });
  await fill(memory);
  assert.deepEqual(verifyQuick(memory), []);
  assert.deepEqual(verifyStore(memory), []);
});

test('a damaged undo row is named by full verify (quick does not read undo), and a truncation through it fails STORE_CORRUPT', async () => {
  const dataDir = makeTmpDir('undo-verify');
  let store = openLmdbStore({ dataDir, undo: true });
  const { consumedLsn } = await fill(store);
  await store.close();
  await withRawTables(dataDir, (t) => {
    const row = Buffer.from(t.get('undo', consumedLsn)!);
    row[Math.floor(row.length / 2)]! ^= 0x20;
    t.put('undo', consumedLsn, row);
  });
  store = openLmdbStore({ dataDir, undo: true });
  try {
    const garbled = (vs: { code: string; message: string }[]) => vs.filter((v) => v.code === 'undo-garbled').map((v) => v.message);
    assert.deepEqual(verifyQuick(store), []);
    const full = verifyStore(store);
    assert.equal(garbled(full).length, 1, JSON.stringify(full));
    assert.match(garbled(full)[0]!, new RegExp(`^undo table entry ${consumedLsn} fails its checksum`));
    await assert.rejects(store.truncateAfter(consumedLsn - 1), (err: unknown) => isStoreError(err, 'STORE_CORRUPT'));
  } finally {
    await store.close();
  }
});

test('a lost undo row: the log entries it covered are named (truncateAfter would trust meta), and the body it kept is an orphan', async () => {
  const dataDir = makeTmpDir('undo-verify');
  let store = openLmdbStore({ dataDir, undo: true });
  const { consumedLsn, ids } = await fill(store);
  await store.close();
  await withRawTables(dataDir, (t) => t.remove('undo', consumedLsn));
  store = openLmdbStore({ dataDir, readOnly: true });
  try {
    const found = verifyStore(store).map((v) => `${v.code}: ${v.message}`);
    assert.deepEqual(found.sort(), [
      `message-orphan: message ${ids[0]} has refs 0 and no undo entry keeps it`,
      `undo-missing: 1 log entry from LSN ${consumedLsn} on have no undo, though meta says undo covers LSNs from 1: truncateAfter could not take them back`,
    ]);
  } finally {
    await store.close();
  }
});
