// Opening a store that is locked, stale-locked, from a newer format, damaged on disk, or
// missing: each gets its exact error (code and message), and a refused open touches nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  encodeRecord,
  isStoreError,
  openLmdbStore,
  verifyDataDir,
  verifyStore,
  type StoreErrorCode,
  type StoreRecord,
} from '../../store/index.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { fileHash, spawnHolder, withRawTables } from './children.js';

const declare = (queue: string): StoreRecord => ({ kind: 'queue-declare', queue, durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} });

function expectStoreError(fn: () => unknown, code: StoreErrorCode, message?: string | RegExp): void {
  assert.throws(fn, (err) => {
    assert.ok(isStoreError(err), `expected StoreError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  });
}

async function storeWithRecords(): Promise<{ dataDir: string; enqueueLsn: number; messageId: number }> {
  const dataDir = makeTmpDir('store-open');
  const store = openLmdbStore({ dataDir });
  await store.commit([declare('q')]).durable;
  const messageId = store.allocateMessageId();
  const t = store.commit([{ kind: 'enqueue', messageId, persistent: true, expiresAtMs: null, body: Buffer.from('a body that is easy to find on disk'), targets: [{ queue: 'q', position: 1 }] }]);
  await t.durable;
  await store.commit([declare('r')]).durable;
  await store.close();
  return { dataDir, enqueueLsn: t.firstLsn, messageId };
}

test('a second opener fails with "Cannot lock <dir>/lock: held by pid N" and changes nothing', async () => {
  const { dataDir } = await storeWithRecords();
  const holder = await spawnHolder(dataDir, 'hold');
  try {
    assert.equal(holder.first['ready'], true);
    const pid = holder.first['pid'] as number;
    const before = fileHash(join(dataDir, 'store', 'data.mdb'));
    expectStoreError(() => openLmdbStore({ dataDir }), 'STORE_LOCKED', `Cannot lock ${join(dataDir, 'lock')}: held by pid ${pid}`);
    // A third process sees the same.
    const third = await spawnHolder(dataDir, 'open-once');
    assert.deepEqual(third.first, { error: { code: 'STORE_LOCKED', message: `Cannot lock ${join(dataDir, 'lock')}: held by pid ${pid}` } });
    assert.equal(fileHash(join(dataDir, 'store', 'data.mdb')), before);
    assert.equal(readFileSync(join(dataDir, 'lock'), 'utf8').trim(), String(pid));
    assert.deepEqual(readdirSync(dataDir).sort(), ['lock', 'store'], 'no temporary lock files left behind');
  } finally {
    assert.equal(await holder.stop(), 0, holder.stderr());
  }
  assert.equal(existsSync(join(dataDir, 'lock')), false, 'the lock is released on close');
  const again = openLmdbStore({ dataDir });
  await again.close();
});

test('the same process cannot open a data dir twice', async () => {
  const dataDir = makeTmpDir('store-open');
  const store = openLmdbStore({ dataDir });
  try {
    expectStoreError(() => openLmdbStore({ dataDir }), 'STORE_LOCKED', `Cannot lock ${join(dataDir, 'lock')}: held by pid ${process.pid}`);
  } finally {
    await store.close();
  }
});

test('a stale lock from a dead process is taken over, with a warning', async () => {
  const { dataDir } = await storeWithRecords();
  const dead = spawn(process.execPath, ['-e', '0']);
  const deadPid = dead.pid!;
  await new Promise((resolve) => dead.on('exit', resolve));
  writeFileSync(join(dataDir, 'lock'), `${deadPid}\n`);
  const warnings: Array<{ obj: object; msg: string }> = [];
  const store = openLmdbStore({ dataDir, logger: { info() {}, error() {}, warn: (obj, msg) => warnings.push({ obj, msg }) } });
  try {
    assert.deepEqual(warnings, [{ obj: { lock: join(dataDir, 'lock'), stalePid: deadPid }, msg: 'taking over a stale store lock' }]);
    assert.equal(readFileSync(join(dataDir, 'lock'), 'utf8').trim(), String(process.pid));
    assert.ok(store.queue('q'));
  } finally {
    await store.close();
  }
  // An empty or garbled lock file (a crash between create and write) is stale as well.
  writeFileSync(join(dataDir, 'lock'), '');
  const again = openLmdbStore({ dataDir });
  await again.close();
});

test('a format 2 store (before the dedup table) opens read-only as it is, and is upgraded in place to format 3 by a writable open', async () => {
  const { dataDir } = await storeWithRecords();
  await withRawTables(dataDir, (t) => t.put('meta', 'formatVersion', Buffer.from('2')));
  const readOnly = openLmdbStore({ dataDir, readOnly: true });
  try {
    assert.equal(readOnly.meta().formatVersion, 2);
    assert.deepEqual(readOnly.readDedup('q'), []);
  } finally {
    await readOnly.close();
  }
  const store = openLmdbStore({ dataDir });
  try {
    assert.equal(store.meta().formatVersion, 3);
    await store.commit([{ kind: 'dedup', queue: 'q', slot: 0, seq: 0, id: 'm-1' }]).durable;
    assert.deepEqual(store.readDedup('q'), [{ seq: 0, id: 'm-1' }]);
    assert.equal(store.queue('q')?.count, 1, 'the messages of the format 2 store are all there');
  } finally {
    await store.close();
  }
  const again = openLmdbStore({ dataDir, readOnly: true });
  try {
    assert.equal(again.meta().formatVersion, 3);
    assert.deepEqual(again.readDedup('q'), [{ seq: 0, id: 'm-1' }]);
  } finally {
    await again.close();
  }
});

test('a store written by a newer format version is refused and left untouched', async () => {
  const { dataDir } = await storeWithRecords();
  await withRawTables(dataDir, (t) => t.put('meta', 'formatVersion', Buffer.from('4')));
  const before = fileHash(join(dataDir, 'store', 'data.mdb'));
  const message = `store at ${join(dataDir, 'store')} has format version 4; this broker understands up to 3`;
  expectStoreError(() => openLmdbStore({ dataDir }), 'STORE_NEWER_FORMAT', message);
  expectStoreError(() => openLmdbStore({ dataDir, readOnly: true }), 'STORE_NEWER_FORMAT', message);
  assert.equal(fileHash(join(dataDir, 'store', 'data.mdb')), before);
  assert.equal(existsSync(join(dataDir, 'lock')), false, 'a refused open releases the lock');
  assert.deepEqual(await verifyDataDir(dataDir), [{ code: 'open-failed', message: `STORE_NEWER_FORMAT: ${message}` }]);
});

test('a garbled record in the log file is named by LSN when read, and by verify', async () => {
  const { dataDir, enqueueLsn } = await storeWithRecords();
  // Damage the record where it lies in data.mdb: flip its format version byte (the body also
  // sits in the messages table, behind a different header; copy-on-write may leave stale copies
  // of the log page in free pages, so every copy is damaged).
  const path = join(dataDir, 'store', 'data.mdb');
  const file = readFileSync(path);
  const store0 = openLmdbStore({ dataDir, readOnly: true });
  let encoded: Buffer | undefined;
  for await (const e of store0.readLog(enqueueLsn, { toLsn: enqueueLsn })) encoded = encodeRecord(e.record);
  await store0.close();
  let copies = 0;
  for (let at = file.indexOf(encoded!); at >= 0; at = file.indexOf(encoded!, at + 1)) {
    file[at] = 9;
    copies++;
  }
  assert.ok(copies > 0, 'the encoded record is in the file');
  writeFileSync(path, file);

  const store = openLmdbStore({ dataDir });
  try {
    const seen: number[] = [];
    await assert.rejects(
      async () => {
        for await (const e of store.readLog(1)) seen.push(e.lsn);
      },
      (err) => {
        assert.ok(isStoreError(err, 'STORE_CORRUPT'));
        assert.match(err.message, new RegExp(`^log record at LSN ${enqueueLsn} fails its checksum: checksum mismatch \\(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\)$`));
        return true;
      },
    );
    assert.deepEqual(seen, [1], 'records before the damage were delivered');
    const violations = verifyStore(store);
    assert.deepEqual(violations.map((v) => v.code), ['log-garbled']);
    assert.match(violations[0]!.message, new RegExp(`^log record at LSN ${enqueueLsn} fails its checksum`));
  } finally {
    await store.close();
  }
});

test('a truncated record, a missing log entry and garbled rows are each reported', async () => {
  const { dataDir, enqueueLsn, messageId } = await storeWithRecords();
  await withRawTables(dataDir, (t) => {
    const value = t.get('log', enqueueLsn)!;
    t.put('log', enqueueLsn, value.subarray(0, value.length - 3));
    t.remove('log', enqueueLsn + 1);
    const row = Buffer.from(t.get('messages', messageId)!);
    row[1] = 7; // the persistent flag
    t.put('messages', messageId, row);
  });
  const store = openLmdbStore({ dataDir, readOnly: true });
  try {
    const codes = verifyStore(store).map((v) => `${v.code}: ${v.message}`.replace(/0x[0-9a-f]{8}/g, 'CRC'));
    assert.deepEqual(codes.sort(), [
      `log-bytes: the log holds ${store.meta().logBytes - 3 - encodeRecord(declare('r')).length} bytes but meta says ${store.meta().logBytes}`,
      `log-gap: the log ends at LSN ${enqueueLsn} but meta says the last LSN is ${enqueueLsn + 1}`,
      `log-garbled: log record at LSN ${enqueueLsn} fails its checksum: checksum mismatch (stored CRC, computed CRC)`,
      `message-garbled: message ${messageId}: its header fails its checksum (stored CRC, computed CRC)`,
    ].sort());
  } finally {
    await store.close();
  }
});

test('tables that disagree with the log are reported, naming queue, position and LSN', async () => {
  const { dataDir, enqueueLsn, messageId } = await storeWithRecords();
  await withRawTables(dataDir, (t) => {
    t.remove('enqueues', ['q', 1]);
    t.remove('queues', 'r');
  });
  const violations = await verifyDataDir(dataDir);
  assert.deepEqual(violations.map((v) => v.code).sort(), ['log-table-mismatch', 'log-table-mismatch', 'message-orphan', 'queue-stats']);
  const text = violations.map((v) => v.message).join('\n');
  assert.match(text, new RegExp(`the log enqueues message ${messageId} on queue "q" position 1 at LSN ${enqueueLsn} but the index has no entry there`));
  assert.match(text, /the log declares queue "r" at LSN \d+ but the queues table lacks it/);
  assert.match(text, /queue "q" says 1 messages \/ 35 bytes; its index holds 0 \/ 0/);
  assert.match(text, new RegExp(`message ${messageId} \\(refs 1\\) is held by no queue`));
});

test('garbled meta fails the open naming the table and key; a missing store is STORE_NOT_FOUND', async () => {
  const { dataDir } = await storeWithRecords();
  await withRawTables(dataDir, (t) => t.put('meta', 'state', Buffer.from('{"storeId": 12')));
  expectStoreError(() => openLmdbStore({ dataDir }), 'STORE_CORRUPT', /^store at .*: meta table key 'state' fails its checksum: checksum mismatch/);
  await withRawTables(dataDir, (t) => t.remove('meta', 'state'));
  expectStoreError(() => openLmdbStore({ dataDir }), 'STORE_CORRUPT', `store at ${join(dataDir, 'store')}: meta table key 'state' is missing`);
  const empty = makeTmpDir('store-open');
  expectStoreError(() => openLmdbStore({ dataDir: empty, readOnly: true }), 'STORE_NOT_FOUND', `no store at ${join(empty, 'store')}`);
});

test('a read-only store refuses mutations', async () => {
  const { dataDir } = await storeWithRecords();
  const store = openLmdbStore({ dataDir, readOnly: true });
  try {
    expectStoreError(() => store.commit([declare('x')]), 'STORE_READ_ONLY');
    expectStoreError(() => store.allocateMessageId(), 'STORE_READ_ONLY');
    assert.equal(existsSync(join(dataDir, 'lock')), false, 'read-only opens take no lock');
  } finally {
    await store.close();
  }
});
