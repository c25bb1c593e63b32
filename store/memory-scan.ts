// The memory store's StoreScan (scan.ts): a view over a clone of its tables, so that it stays
// one consistent view while the store goes on, as an LMDB read transaction does. Bodies the
// simulator damaged fail their checksum here as a damaged LMDB row would.

import { checksum, numberSeed } from './checksum.js';
import { StoreError } from './errors.js';
import type { EntryInfo, MessageInfo, QueueRow } from './apply.js';
import type { BindRecord, ExchangeDeclareRecord, StoreRecord } from './record.js';
import type { QuarantinedMessage, RecoveryReport } from './recovery.js';
import type { ScanEntry, ScanMessage, StoreScan } from './scan.js';
import type { MutableMeta } from './ticket.js';
import type { UndoBatch } from './undo.js';

/** The memory store's tables, as the scan reads them. */
export interface ScannedTables {
  readonly meta: MutableMeta;
  readonly queueRows: ReadonlyMap<string, QueueRow>;
  readonly exchangeRows: ReadonlyMap<string, ExchangeDeclareRecord>;
  readonly bindingRows: ReadonlyMap<string, BindRecord>;
  readonly messageRows: ReadonlyMap<number, { info: MessageInfo; body: Uint8Array }>;
  readonly entryRows: ReadonlyMap<string, ReadonlyMap<number, EntryInfo>>;
  readonly logRows: ReadonlyMap<number, { record: StoreRecord; bytes: number; lastLsn: number }>;
  readonly quarantineRows: ReadonlyMap<string, QuarantinedMessage>;
  readonly recovery: RecoveryReport | null;
  readonly damaged: ReadonlySet<number>;
  readonly undoRows: ReadonlyMap<number, UndoBatch>;
  readonly dedupRows: ReadonlyMap<string, { readonly queue: string; readonly slot: number; readonly seq: number; readonly id: string }>;
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function memoryScan(t: ScannedTables): StoreScan {
  const toScanEntry = (queue: string, position: number, e: EntryInfo): ScanEntry => ({ queue, position, ...e });
  const toScanMessage = (messageId: number, info: MessageInfo): ScanMessage => {
    const body = t.messageRows.get(messageId)?.body;
    return { messageId, ...info, bodyCrc: body ? checksum(body, numberSeed(messageId)) ^ (t.damaged.has(messageId) ? 1 : 0) : null };
  };
  return {
    meta: () => ({ ...t.meta }),
    queues: () =>
      [...t.queueRows.values()]
        .sort((a, b) => cmp(a.declare.queue, b.declare.queue))
        .map((q) => ({ name: q.declare.queue, declare: q.declare, count: q.count, bytes: q.bytes, lastPosition: q.lastPosition })),
    exchanges: () => [...t.exchangeRows.values()].sort((a, b) => cmp(a.exchange, b.exchange)).map((e) => ({ name: e.exchange, declare: e })),
    bindings: () => [...t.bindingRows.values()].map((b) => ({ exchange: b.exchange, queue: b.queue, key: b.key, bind: b })),
    *entries(queue?: string, afterPosition = 0) {
      const names = queue === undefined ? [...t.entryRows.keys()].sort(cmp) : [queue];
      for (const name of names) {
        const m = t.entryRows.get(name);
        if (!m) continue;
        for (const position of [...m.keys()].sort((a, b) => a - b)) {
          if (position > afterPosition) yield toScanEntry(name, position, m.get(position)!);
        }
      }
    },
    entry: (queue, position) => {
      const e = t.entryRows.get(queue)?.get(position);
      return e ? toScanEntry(queue, position, e) : undefined;
    },
    *messages(options?: { checkBodies?: boolean }) {
      for (const id of [...t.messageRows.keys()].sort((a, b) => a - b)) {
        const m = toScanMessage(id, t.messageRows.get(id)!.info);
        yield options?.checkBodies && t.damaged.has(id) ? { ...m, problem: `message ${id}: its body fails its checksum` } : m;
      }
    },
    message: (id) => {
      const row = t.messageRows.get(id);
      return row ? toScanMessage(id, row.info) : undefined;
    },
    body: (id) => {
      if (t.damaged.has(id) && t.messageRows.has(id)) throw new StoreError('STORE_CORRUPT', `message ${id}: its body fails its checksum`);
      return t.messageRows.get(id)?.body;
    },
    // Its bodies never change once stored: returned as they are, asStored or not.
    messageWithBody: (id) => {
      const row = t.messageRows.get(id);
      if (!row) return undefined;
      if (t.damaged.has(id)) throw new StoreError('STORE_CORRUPT', `message ${id}: its body fails its checksum`);
      return { message: toScanMessage(id, row.info), body: row.body };
    },
    quarantine: () => [...t.quarantineRows.values()],
    undo: () => [...t.undoRows.values()].sort((a, b) => a.firstLsn - b.firstLsn).map((batch) => ({ firstLsn: batch.firstLsn, batch })),
    dedup: () => [...t.dedupRows.values()].sort((a, b) => cmp(a.queue, b.queue) || a.slot - b.slot).map((r) => ({ ...r })),
    recovery: () => t.recovery,
    *log(fromLsn: number) {
      for (const lsn of [...t.logRows.keys()].sort((a, b) => a - b)) {
        if (lsn < fromLsn) continue;
        const row = t.logRows.get(lsn)!;
        yield { lsn, bytes: row.bytes, record: row.record };
      }
    },
    sizes: () => {
      let entries = 0;
      for (const m of t.entryRows.values()) entries += m.size;
      return { entries, messages: t.messageRows.size, logEntries: t.logRows.size, undoRows: t.undoRows.size };
    },
    close: () => {},
  };
}
