// One read transaction over every table of the LMDB store (scan.ts StoreScan), for verify,
// inspect and snapshots. Rows that fail to decode or fail their checksum are returned with a
// `problem` instead of throwing, so that one bad row does not hide the rest.

import { unsealUnchecked } from './checksum.js';
import { StoreError } from './errors.js';
import { fast, problemOf, type Env, type Tables } from './lmdb-env.js';
import {
  bodyProblem,
  checkDedupKey,
  checkEntryKey,
  decodeBindingRow,
  decodeDedupRow,
  decodeEntry,
  decodeExchangeRow,
  decodeLogValue,
  decodeMessageInfo,
  decodeMetaState,
  decodeQuarantineRow,
  decodeQueueRow,
  decodeRecoveryReport,
  decodeUndoRow,
  MESSAGE_HEADER_BYTES,
  messageBody,
  storedBodyCrc,
} from './layout.js';
import type { ScanBinding, ScanDedup, ScanEntry, ScanExchange, ScanLogEntry, ScanMessage, ScanQueue, ScanUndo, StoreScan } from './scan.js';
import type { MutableMeta } from './ticket.js';
import type { EntryInfo } from './apply.js';

const damagedEntry = (queue: string, position: number, problem: string): ScanEntry => ({ queue, position, messageId: 0, size: 0, persistent: false, expiresAtMs: null, deliveryCount: 0, problem });

export function lmdbScan(env: Env, t: Tables, storeDir: string, formatVersion: number): StoreScan {
  const txn = env.useReadTransaction();
  const transaction = txn;
  let closed = false;
  const stateBytes = t.meta.getBinary('state', { transaction });
  if (stateBytes === undefined) {
    txn.done();
    throw new StoreError('STORE_CORRUPT', `store at ${storeDir}: meta table key 'state' is missing`);
  }
  let meta: MutableMeta;
  try {
    meta = decodeMetaState(stateBytes, formatVersion, `store at ${storeDir}`);
  } catch (err) {
    txn.done();
    throw err;
  }
  const toMessage = (messageId: number, row: Uint8Array, checkBody: boolean): ScanMessage => {
    try {
      const info = decodeMessageInfo(row, messageId);
      const problem = checkBody ? bodyProblem(row, messageId) : null;
      // Field by field, not by spreads: once per message a snapshot ships.
      const message: ScanMessage = { messageId, persistent: info.persistent, expiresAtMs: info.expiresAtMs, refs: info.refs, size: info.size, bodyCrc: storedBodyCrc(row) };
      return problem === null ? message : { ...message, problem };
    } catch (err) {
      return { messageId, refs: 0, persistent: false, expiresAtMs: null, size: 0, problem: problemOf(err) };
    }
  };
  return {
    meta: () => ({ ...meta }),
    *queues(): Iterable<ScanQueue> {
      for (const { key, value } of t.queues.getRange({ transaction })) {
        try {
          if (typeof key !== 'string') throw new StoreError('STORE_CORRUPT', `queues table has a malformed key ${JSON.stringify(key)}`);
          const row = decodeQueueRow(value, key);
          yield { name: key, declare: row.declare, count: row.count, bytes: row.bytes, lastPosition: row.lastPosition };
        } catch (err) {
          yield { name: String(key), count: 0, bytes: 0, lastPosition: 0, problem: problemOf(err) };
        }
      }
    },
    *exchanges(): Iterable<ScanExchange> {
      for (const { key, value } of t.exchanges.getRange({ transaction })) {
        try {
          const r = decodeExchangeRow(value, key);
          yield { name: r.exchange, declare: r };
        } catch (err) {
          yield { name: String(key), problem: problemOf(err) };
        }
      }
    },
    *bindings(): Iterable<ScanBinding> {
      for (const { key, value } of t.bindings.getRange({ transaction })) {
        const [exchange, queue, k] = Array.isArray(key) ? (key as unknown[]).map(String) : ['', '', ''];
        try {
          const r = decodeBindingRow(value, key);
          yield { exchange: r.exchange, queue: r.queue, key: r.key, bind: r };
        } catch (err) {
          yield { exchange: exchange!, queue: queue!, key: k!, problem: problemOf(err) };
        }
      }
    },
    *entries(queue?: string, afterPosition = 0): Iterable<ScanEntry> {
      const range = queue === undefined ? { transaction } : { start: [queue, Math.floor(afterPosition) + 1], end: [queue, Infinity], transaction };
      for (const { key, value } of t.enqueues.getRange(range)) {
        let k: { queue: string; position: number };
        try {
          k = checkEntryKey(key);
        } catch (err) {
          yield damagedEntry(String(key), 0, problemOf(err));
          continue;
        }
        let info: EntryInfo;
        try {
          info = decodeEntry(value, k);
        } catch (err) {
          yield damagedEntry(k.queue, k.position, problemOf(err));
          continue;
        }
        // Built field by field, not by two spreads: this generator was 13% of a snapshot's self
        // time (the spreads' share was not measured apart).
        yield { queue: k.queue, position: k.position, messageId: info.messageId, size: info.size, persistent: info.persistent, expiresAtMs: info.expiresAtMs, deliveryCount: info.deliveryCount };
      }
    },
    entry(queue: string, position: number): ScanEntry | undefined {
      const row = fast(t.enqueues, [queue, position], { transaction });
      if (row === undefined) return undefined;
      try {
        return { queue, position, ...decodeEntry(row, { queue, position }) };
      } catch (err) {
        return damagedEntry(queue, position, problemOf(err));
      }
    },
    *messages(options?: { checkBodies?: boolean }): Iterable<ScanMessage> {
      for (const { key, value } of t.messages.getRange({ transaction })) yield toMessage(key as number, value, options?.checkBodies ?? false);
    },
    message(messageId: number) {
      const row = fast(t.messages, messageId, { transaction });
      return row === undefined ? undefined : toMessage(messageId, row, false);
    },
    body(messageId: number) {
      const row = t.messages.getBinary(messageId, { transaction });
      // Checked: a snapshot never ships, and inspect never shows, an altered body.
      return row === undefined ? undefined : messageBody(row, messageId);
    },
    messageWithBody(messageId: number, asStored = false) {
      // A copy of the row (getBinary), unless the caller copies the body at once: LMDB's buffer
      // is overwritten by the next read. Checked either way.
      const row = asStored ? fast(t.messages, messageId, { transaction }) : t.messages.getBinary(messageId, { transaction });
      if (row === undefined) return undefined;
      const message = toMessage(messageId, row, true);
      if (message.problem !== undefined) throw new StoreError('STORE_CORRUPT', message.problem);
      return { message, body: row.subarray(MESSAGE_HEADER_BYTES) };
    },
    *log(fromLsn: number): Iterable<ScanLogEntry> {
      for (const { key, value } of t.log.getRange({ start: fromLsn, transaction })) {
        const lsn = key as number;
        const bytes = unsealUnchecked(value).byteLength;
        try {
          yield { lsn, bytes, record: decodeLogValue(lsn, value) };
        } catch (err) {
          yield { lsn, bytes, problem: problemOf(err) };
        }
      }
    },
    *quarantine() {
      for (const { key, value } of t.quarantine.getRange({ transaction })) yield decodeQuarantineRow(value, key);
    },
    *dedup(): Iterable<ScanDedup> {
      for (const { key, value } of t.dedup.getRange({ transaction })) {
        try {
          const k = checkDedupKey(key);
          yield { ...k, ...decodeDedupRow(value, k) };
        } catch (err) {
          const k = Array.isArray(key) ? key : [key];
          yield { queue: String(k[0]), slot: Number(k[1]), seq: 0, id: '', problem: problemOf(err) };
        }
      }
    },
    *undo(): Iterable<ScanUndo> {
      for (const { key, value } of t.undo.getRange({ transaction })) {
        const firstLsn = key as number;
        try {
          if (typeof key !== 'number') throw new StoreError('STORE_CORRUPT', `undo table has a malformed key ${JSON.stringify(key)}`);
          yield { firstLsn, batch: decodeUndoRow(firstLsn, value) };
        } catch (err) {
          yield { firstLsn: Number(key), problem: problemOf(err) };
        }
      }
    },
    recovery: () => {
      const bytes = t.meta.getBinary('recovery', { transaction });
      return bytes === undefined ? null : decodeRecoveryReport(bytes);
    },
    sizes: () => ({ entries: t.enqueues.getStats().entryCount, messages: t.messages.getStats().entryCount, logEntries: t.log.getStats().entryCount, undoRows: t.undo.getStats().entryCount }),
    close: () => {
      if (closed) return;
      closed = true;
      txn.done();
    },
  };
}
