// What only the simulator's memory store does: durability under the simulator's control, crash()
// losing exactly what was not flushed, and one open store per MemoryDisk.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStoreError, MemoryDisk, openMemoryStore, verifyStore, type StoreRecord } from '../../store/index.js';

const declare = (queue: string): StoreRecord => ({ kind: 'queue-declare', queue, durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} });

test('a MemoryDisk refuses a second open while one is open', async () => {
  const disk = new MemoryDisk();
  const store = openMemoryStore(disk);
  assert.throws(() => openMemoryStore(disk), (err) => isStoreError(err, 'STORE_LOCKED'));
  await store.close();
  const again = openMemoryStore(disk);
  await again.close();
});

test('without autoFlush, commits are visible at once and durable only after flush(); crash() drops the rest', async () => {
  const disk = new MemoryDisk();
  const store = openMemoryStore(disk, { autoFlush: false });
  const a = store.commit([declare('a')]);
  await a.committed;
  assert.ok(store.queue('a'), 'visible before durable');
  let aDurable = false;
  void a.durable.then(() => (aDurable = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(aDurable, false, 'not durable before flush');
  store.flush();
  await a.durable;
  const b = store.commit([declare('b')]);
  await b.committed;
  const id = store.allocateMessageId();
  const c = store.commit([{ kind: 'enqueue', messageId: id, persistent: true, expiresAtMs: null, body: Buffer.from('lost'), targets: [{ queue: 'a', position: 1 }] }]);
  store.crash();
  await assert.rejects(b.durable, (err) => isStoreError(err, 'STORE_CLOSED'));
  await assert.rejects(c.committed, (err) => isStoreError(err, 'STORE_CLOSED'));
  await assert.rejects(c.durable, (err) => isStoreError(err, 'STORE_CLOSED'));
  assert.throws(() => store.commit([declare('x')]), (err) => isStoreError(err, 'STORE_CLOSED'));
  const reopened = openMemoryStore(disk, { autoFlush: false });
  assert.deepEqual(reopened.queues().map((q) => q.declare.queue), ['a']);
  assert.equal(reopened.meta().lastLsn, 1);
  assert.equal(reopened.commit([declare('b2')]).firstLsn, 2, 'the lost LSNs are assigned again');
  assert.deepEqual(verifyStore(reopened), []);
  reopened.crash();
});

test('a clean close makes everything durable', async () => {
  const disk = new MemoryDisk();
  const store = openMemoryStore(disk, { autoFlush: false });
  store.commit([declare('a')]);
  await store.close();
  const reopened = openMemoryStore(disk);
  assert.ok(reopened.queue('a'));
  await reopened.close();
});
