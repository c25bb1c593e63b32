// The replication frames on the wire: [kind u8][epoch u32 BE][body]. The log and snapshot frames
// are encoded with room for the header in front (one buffer, no copy to prepend it); these pin
// that the bytes are those of the header followed by the body as encodeLogEntries and
// encodeRecords write it alone, and that what is decoded is what was sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePrimaryFrame, encodePrimaryFrame } from '../../src/ha/messages.js';
import { encodeLogEntries, encodeRecords, type LogEntry, type StoreRecord } from '../../store/index.js';

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
