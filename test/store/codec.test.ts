import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  decodeLogEntries,
  decodeRecord,
  decodeRecords,
  encodedRecordBytes,
  encodeLogEntries,
  encodeRecord,
  encodeRecords,
  isStoreError,
  type LogEntry,
  type StoreRecord,
} from '../../store/index.js';

const samples: StoreRecord[] = [
  { kind: 'queue-declare', queue: 'q', durable: true, autoDelete: false, exclusive: true, alternateExchange: 'alt', arguments: { 'qpid.max_count': 10, s: 'x', b: true, n: null, f: -1.5 } },
  { kind: 'queue-declare', queue: 'ünïcødé ✓', durable: false, autoDelete: true, exclusive: false, alternateExchange: null, arguments: {} },
  { kind: 'queue-delete', queue: 'q' },
  { kind: 'exchange-declare', exchange: 'x', type: 'headers', durable: true, autoDelete: false, alternateExchange: null, arguments: { a: 'b' } },
  { kind: 'exchange-delete', exchange: 'x' },
  { kind: 'bind', exchange: 'amq.topic', queue: 'q', key: 'a.*.#', arguments: { 'x-match': 'all' } },
  { kind: 'unbind', exchange: 'amq.topic', queue: 'q', key: '' },
  { kind: 'enqueue', messageId: 7, persistent: true, expiresAtMs: null, body: new Uint8Array([0, 1, 2, 250]), targets: [{ queue: 'a', position: 1 }, { queue: 'b', position: 9_007_199_254_740_991 }] },
  { kind: 'enqueue', messageId: 8, persistent: false, expiresAtMs: 1_900_000_000_123, body: new Uint8Array(0), targets: [{ queue: 'a', position: 2 }] },
  { kind: 'dequeue', queue: 'a', position: 1, messageId: 7, cause: 'expired' },
  { kind: 'dequeue', queue: 'a', position: 2, messageId: 8, cause: 'rejected' },
  { kind: 'epoch', epoch: 3, primary: 'broker-1' },
  { kind: 'skip', lastLsn: 99 },
];

function corruptMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isStoreError(err, 'STORE_CORRUPT'), `expected STORE_CORRUPT, got ${String(err)}`);
    return err.message;
  }
  assert.fail('decoding did not fail');
}

const plain = (r: StoreRecord): unknown => (r.kind === 'enqueue' ? { ...r, body: [...r.body] } : r);

test('every record kind survives encode and decode, and its size is predicted exactly', () => {
  for (const r of samples) {
    const bytes = encodeRecord(r);
    assert.equal(bytes.length, encodedRecordBytes(r));
    assert.deepEqual(plain(decodeRecord(bytes, 'sample')), plain(r));
  }
});

test('batches of log entries and snapshot records survive their codecs', () => {
  const entries: LogEntry[] = samples.map((record, i) => ({ lsn: 1 + i, record }));
  assert.deepEqual(decodeLogEntries(encodeLogEntries(entries), 'frame').map((e) => ({ lsn: e.lsn, record: plain(e.record) })), entries.map((e) => ({ lsn: e.lsn, record: plain(e.record) })));
  assert.deepEqual(decodeRecords(encodeRecords(samples), 'snapshot').map(plain), samples.map(plain));
  assert.deepEqual(decodeLogEntries(encodeLogEntries([]), 'empty'), []);
});

test('a record from a newer format, an unknown kind, bad fields and trailing bytes are named', () => {
  const enq = encodeRecord(samples[7]!);
  const newer = Buffer.from(enq);
  newer[0] = 2;
  assert.equal(corruptMessage(() => decodeRecord(newer, 'log record at LSN 7')), 'log record at LSN 7 is garbled: record format version 2 is newer than 1, the newest this broker understands');
  const unknown = Buffer.from(enq);
  unknown[1] = 77;
  assert.equal(corruptMessage(() => decodeRecord(unknown, 'log record at LSN 8')), 'log record at LSN 8 is garbled: unknown record kind tag 77');
  const badBool = Buffer.from(enq);
  badBool[10] = 5; // the persistent flag of an enqueue
  assert.equal(corruptMessage(() => decodeRecord(badBool, 'x')), 'x is garbled: persistent is 5, not a boolean (0 or 1)');
  const trailing = Buffer.concat([enq, Buffer.from([0])]);
  assert.equal(corruptMessage(() => decodeRecord(trailing, 'x')), 'x is garbled: 1 unexpected trailing bytes after the enqueue record');
  const badUtf8 = encodeRecord({ kind: 'queue-delete', queue: 'ab' });
  badUtf8[6] = 0xff;
  assert.equal(corruptMessage(() => decodeRecord(badUtf8, 'x')), 'x is garbled: queue is not valid UTF-8');
  const noTargets = encodeRecord(samples[8]!);
  noTargets.writeUInt32LE(0, noTargets.length - 4 - 4 - 1 - 8);
  assert.match(corruptMessage(() => decodeRecord(noTargets, 'x')), /^x is garbled: /);
  const skipBackwards = encodeLogEntries([{ lsn: 50, record: { kind: 'skip', lastLsn: 40 } }]);
  assert.equal(corruptMessage(() => decodeLogEntries(skipBackwards, 'frame')), 'frame (entry 0) is garbled: skip at LSN 50 ends before it starts (lastLsn 40)');
});

test('every truncation of every record is reported as garbled, never misread', () => {
  for (const r of samples) {
    const bytes = encodeRecord(r);
    for (let n = 0; n < bytes.length; n++) {
      const message = corruptMessage(() => decodeRecord(bytes.subarray(0, n), `log record at LSN ${n}`));
      assert.ok(message.startsWith(`log record at LSN ${n} is garbled: `), message);
    }
  }
  const frame = encodeLogEntries(samples.map((record, i) => ({ lsn: i + 1, record })));
  for (let n = 0; n < frame.length; n++) corruptMessage(() => decodeLogEntries(frame.subarray(0, n), 'frame'));
});

const argValue = fc.oneof(fc.string(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null));
const name = fc.string({ maxLength: 20 });
const position = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const recordArb: fc.Arbitrary<StoreRecord> = fc.oneof(
  fc.record({ kind: fc.constant('queue-declare' as const), queue: name, durable: fc.boolean(), autoDelete: fc.boolean(), exclusive: fc.boolean(), alternateExchange: fc.option(name, { nil: null }), arguments: fc.dictionary(name, argValue) }),
  fc.record({ kind: fc.constant('bind' as const), exchange: name, queue: name, key: name, arguments: fc.dictionary(name, argValue) }),
  fc.record({
    kind: fc.constant('enqueue' as const),
    messageId: position,
    persistent: fc.boolean(),
    expiresAtMs: fc.option(fc.integer({ min: 0, max: 2 ** 45 }), { nil: null }),
    body: fc.uint8Array({ maxLength: 64 }),
    targets: fc.array(fc.record({ queue: name, position }), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('dequeue' as const), queue: name, position, messageId: position, cause: fc.constantFrom('consumed' as const, 'expired' as const, 'purged' as const, 'deleted' as const, 'overflow' as const, 'rejected' as const) }),
  fc.record({ kind: fc.constant('epoch' as const), epoch: fc.nat(), primary: name }),
);

test('property: random records round-trip; random damage is either harmless or reported, never a crash', () => {
  fc.assert(
    fc.property(recordArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (r, at, byte) => {
      const bytes = encodeRecord(r);
      // JSON on both sides: fast-check builds objects without a prototype.
      assert.deepEqual(JSON.parse(JSON.stringify(plain(decodeRecord(bytes, 'r')))), JSON.parse(JSON.stringify(plain(r))));
      const damaged = Buffer.from(bytes);
      damaged[at % damaged.length] = byte;
      try {
        decodeRecord(damaged, 'r');
      } catch (err) {
        assert.ok(isStoreError(err, 'STORE_CORRUPT'), String(err));
      }
    }),
    { numRuns: 2000 },
  );
});

test('an argument named __proto__ round-trips as an ordinary key (found by the property test)', () => {
  const args: Record<string, null> = {};
  Object.defineProperty(args, '__proto__', { value: null, enumerable: true, writable: true, configurable: true });
  const record: StoreRecord = { kind: 'bind', exchange: 'x', queue: 'q', key: 'k', arguments: args };
  const decoded = decodeRecord(encodeRecord(record), 'test');
  assert.deepStrictEqual(decoded, record);
  assert.deepEqual(Object.keys((decoded as { arguments: object }).arguments), ['__proto__']);
});
