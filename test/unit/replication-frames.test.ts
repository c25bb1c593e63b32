// The replication frames on the wire: [kind u8][epoch u32 BE][body]. The log and snapshot frames
// are encoded with room for the header in front (one buffer, no copy to prepend it); these pin
// that the bytes are those of the header followed by the body as encodeLogEntries and
// encodeRecords write it alone, and that what is decoded is what was sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePrimaryFrame, encodePrimaryFrame } from '../../src/ha/messages.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeLogEntries, encodeRecords, MemoryDisk, openLmdbStore, openMemoryStore, type LogEntry, type Store, type StoreRecord } from '../../store/index.js';

const body = Buffer.from('a body of some bytes');
const records: StoreRecord[] = [
  { kind: 'enqueue', messageId: 7, persistent: true, expiresAtMs: null, body, targets: [{ queue: 'q', position: 3 }] },
  { kind: 'dequeue', queue: 'q', position: 2, messageId: 6, cause: 'consumed' },
];

function header(code: number, epoch: number): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt8(code, 0);
  h.writeUInt32BE(epoch, 1);
  return h;
}

test('a log frame is its header followed by the entries as encodeLogEntries writes them, and decodes to them', () => {
  const entries: LogEntry[] = records.map((record, i) => ({ lsn: 41 + i, record }));
  const bytes = encodePrimaryFrame({ kind: 'log', epoch: 3, entries });
  assert.deepEqual(bytes, Buffer.concat([header(14, 3), encodeLogEntries(entries)]));
  const decoded = decodePrimaryFrame(bytes);
  assert.equal(decoded.kind, 'log');
  assert.deepEqual(decoded.kind === 'log' && decoded.entries.map((e) => ({ lsn: e.lsn, record: e.record })), entries);
});

test('a snapshot-records frame is its header followed by the records as encodeRecords writes them, and decodes to them', () => {
  const bytes = encodePrimaryFrame({ kind: 'snapshot-records', epoch: 2 ** 31 - 1, records });
  assert.deepEqual(bytes, Buffer.concat([header(12, 2 ** 31 - 1), encodeRecords(records)]));
  const decoded = decodePrimaryFrame(bytes);
  assert.equal(decoded.kind, 'snapshot-records');
  assert.deepEqual(decoded.kind === 'snapshot-records' && decoded.records, records);
});

for (const kind of ['lmdb', 'memory'] as const) {
  test(`a snapshot read with frame room builds the frame of its records once: the same bytes as encoding them, then encoded as before (${kind} store)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'frames-'));
    const store: Store = kind === 'lmdb' ? openLmdbStore({ dataDir: dir, sync: 'none' }) : openMemoryStore(new MemoryDisk());
    try {
      await store.commit([{ kind: 'queue-declare', queue: 'q', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]).durable;
      const enqueues: StoreRecord[] = [1, 2, 3].map((position) => ({ kind: 'enqueue', messageId: store.allocateMessageId(), persistent: true, expiresAtMs: position === 2 ? 1e15 : null, body: Buffer.from(`body ${position}${position === 3 ? 'x'.repeat(300_000) : ''}`), targets: [{ queue: 'q', position }] }));
      await store.commit(enqueues).durable;
      const snapshot = store.snapshot();
      try {
        const read = snapshot.read(10, 5);
        assert.equal(read.done, true);
        const expected = Buffer.concat([header(12, 9), encodeRecords(read.records)]);
        const bodies = read.records.filter((r) => r.kind === 'enqueue').map((r) => Buffer.from(r.body).toString());
        // The third is larger than the frame buffer a read starts with: it grows under the first two.
        assert.deepEqual(bodies, ['body 1', 'body 2', `body 3${'x'.repeat(300_000)}`]);
        // Taken once: the first encoding is the built frame, a second the ordinary one; both the same.
        assert.deepEqual(encodePrimaryFrame({ kind: 'snapshot-records', epoch: 9, records: read.records }), expected);
        assert.deepEqual(encodePrimaryFrame({ kind: 'snapshot-records', epoch: 9, records: read.records }), expected);
        // The records' bodies are still theirs after the frame's header was written.
        assert.deepEqual(read.records.filter((r) => r.kind === 'enqueue').map((r) => Buffer.from(r.body).toString()), bodies);
        // A part of them is encoded on its own.
        assert.deepEqual(encodePrimaryFrame({ kind: 'snapshot-records', epoch: 9, records: read.records.slice(1) }), Buffer.concat([header(12, 9), encodeRecords(read.records.slice(1))]));
      } finally {
        snapshot.close();
      }
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
