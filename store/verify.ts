// Checks every invariant between the log and the tables of a store, from one consistent view
// (a StoreScan: for LMDB one read transaction, so it works while a broker writes). Each
// violation is reported with a stable code and a message naming the queue, message or LSN;
// nothing is skipped silently (NATS's LostStreamData: report, never hide).
//
// Checks: meta sane; log LSNs contiguous from firstLsn to lastLsn, every record decodes, its
// byte total equals meta.logBytes; the retained log agrees with the tables (what it declares,
// deletes, enqueues and dequeues is what the tables hold); every index entry's queue and message
// exist and agree; every message's refs equals the entries naming it (no orphans); each queue's
// count/bytes equal its entries and lastPosition covers them; bindings name existing ends; the
// undo rows pass their checksums and cover the log tail truncateAfter may take back
// (verify-undo.ts), and a message at refs 0 is one that undo keeps alive.

import { BUILT_IN_EXCHANGES } from './apply.js';
import { isStoreError } from './errors.js';
import { openLmdbStore } from './lmdb-store.js';
import { entryLastLsn } from './record.js';
import type { Scannable, StoreScan } from './scan.js';
import { STORE_FORMAT_VERSION, STORE_FORMAT_VERSION_MIN } from './store.js';
import { checkUndoRows, UndoCoverage } from './verify-undo.js';

export type ViolationCode =
  | 'open-failed'
  | 'meta'
  | 'snapshot-incomplete'
  | 'log-garbled'
  | 'log-gap'
  | 'log-range'
  | 'log-bytes'
  | 'log-table-mismatch'
  | 'queue-garbled'
  | 'queue-stats'
  | 'exchange-garbled'
  | 'binding-garbled'
  | 'binding-dangling'
  | 'dedup-garbled'
  | 'dedup-dangling'
  | 'dedup-seq'
  | 'entry-garbled'
  | 'entry-orphan-queue'
  | 'entry-missing-message'
  | 'entry-message-mismatch'
  | 'message-garbled'
  | 'message-refs'
  | 'message-orphan'
  | 'epoch-history'
  | 'table-counts'
  | 'undo-garbled'
  | 'undo-range'
  | 'undo-missing'
  | 'unreadable';

export interface Violation {
  readonly code: ViolationCode;
  readonly message: string;
}

export interface VerifyProgress {
  readonly phase: 'log' | 'entries' | 'messages';
  readonly done: number;
  readonly total: number;
}

export interface VerifyOptions {
  /** Called every `progressEvery` rows of each long phase. */
  readonly onProgress?: (p: VerifyProgress) => void;
  readonly progressEvery?: number;
  /** Stop collecting after this many violations (a badly broken store would list millions). */
  readonly violationsMax?: number;
  /** Check every message body's CRC (a pass over every body). Default true. */
  readonly checkBodies?: boolean;
}

const q = (s: string): string => JSON.stringify(s);

export function verifyStore(target: Scannable, options: VerifyOptions = {}): Violation[] {
  const scan = target.scan();
  try {
    const steps = verifySteps(scan, options);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
      options.onProgress?.(step.value);
    }
  } finally {
    scan.close();
  }
}

/** verifyStore that gives the event loop a turn every `progressEvery` rows, for a broker
 * verifying its own live store (a verify of 10^6 messages takes about ten seconds). The scan's
 * read transaction stays open across the turns, so the view stays one consistent view. */
export async function verifyStoreYielding(target: Scannable, options: VerifyOptions = {}): Promise<Violation[]> {
  const scan = target.scan();
  try {
    const steps = verifySteps(scan, options);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
      options.onProgress?.(step.value);
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    scan.close();
  }
}

/** Opens the data dir's store read-only and verifies it. A store that cannot be opened because
 * it is corrupt or newer is reported as a violation; a missing store throws STORE_NOT_FOUND. */
export async function verifyDataDir(dataDir: string, options: VerifyOptions = {}): Promise<Violation[]> {
  let store;
  try {
    store = openLmdbStore({ dataDir, readOnly: true });
  } catch (err) {
    if (isStoreError(err, 'STORE_CORRUPT') || isStoreError(err, 'STORE_NEWER_FORMAT')) return [{ code: 'open-failed', message: `${err.code}: ${err.message}` }];
    throw err;
  }
  try {
    return verifyStore(store, options);
  } finally {
    await store.close();
  }
}

class Report {
  readonly list: Violation[] = [];
  constructor(private readonly max: number) {}
  add(code: ViolationCode, message: string): void {
    if (this.list.length < this.max) this.list.push({ code, message });
  }
}

/** `--store-verify-on-start quick`: what can be checked without walking the big tables, in
 * milliseconds whatever the store holds: meta and its epoch history, the small tables (queues,
 * exchanges, bindings, every row checksummed), and that the row counts LMDB keeps for each
 * table agree with the queues' own counts and the LSN range. A leaf page lost or garbled in the
 * index changes what a walk finds but not the counts: full verify finds those. */
export function verifyQuick(target: Scannable): Violation[] {
  const scan = target.scan();
  try {
    return quickChecks(scan);
  } finally {
    scan.close();
  }
}

function quickChecks(scan: StoreScan): Violation[] {
  const report = new Report(1000);
  const meta = scan.meta();
  if (meta.formatVersion < STORE_FORMAT_VERSION_MIN || meta.formatVersion > STORE_FORMAT_VERSION) report.add('meta', `meta formatVersion is ${meta.formatVersion}, expected ${STORE_FORMAT_VERSION_MIN}..${STORE_FORMAT_VERSION}`);
  if (meta.snapshotIncomplete) report.add('snapshot-incomplete', 'the store holds an incomplete snapshot (a backup crashed while resyncing); it must be wiped');
  const history = meta.epochHistory;
  for (let i = 0; i < history.length; i++) {
    const e = history[i]!;
    const before = history[i - 1];
    if (before && (e.epoch <= before.epoch || e.firstLsn < before.firstLsn)) report.add('epoch-history', `epoch history entry ${i} (epoch ${e.epoch} from LSN ${e.firstLsn}) does not follow entry ${i - 1} (epoch ${before.epoch} from LSN ${before.firstLsn})`);
    if (e.epoch > meta.epoch) report.add('epoch-history', `epoch history names epoch ${e.epoch}, above the store's epoch ${meta.epoch}`);
    if (e.firstLsn > meta.lastLsn + 1) report.add('epoch-history', `epoch ${e.epoch} starts at LSN ${e.firstLsn}, beyond the last LSN ${meta.lastLsn}`);
  }
  let queued = 0;
  for (const q of scan.queues()) {
    if (q.problem) report.add('queue-garbled', q.problem);
    else queued += q.count;
  }
  for (const e of scan.exchanges()) if (e.problem) report.add('exchange-garbled', e.problem);
  for (const b of scan.bindings()) if (b.problem) report.add('binding-garbled', b.problem);
  const sizes = scan.sizes();
  if (sizes.entries !== queued) report.add('table-counts', `the queues say they hold ${queued} messages; the index holds ${sizes.entries} entries`);
  // Every message row is held by an index entry, or kept at refs 0 by undo (undo.ts: a cluster
  // store keeps consumed bodies until their undo is pruned). Counting those means reading the
  // whole undo table (up to UNDO_LSNS_MAX LSNs of before-images: seconds, measured 1.4 s for
  // 40,000 under load), so quick leaves a store with undo rows to full verify.
  if (sizes.undoRows === 0 && sizes.messages > sizes.entries) report.add('table-counts', `${sizes.messages} message rows for ${sizes.entries} index entries (every message is held by at least one)`);
  if (sizes.messages === 0 && sizes.entries > 0) report.add('table-counts', `no message rows for ${sizes.entries} index entries`);
  const span = meta.lastLsn - meta.firstLsn + 1;
  if (sizes.logEntries > Math.max(0, span)) report.add('table-counts', `the log holds ${sizes.logEntries} entries, more than the ${Math.max(0, span)} LSNs ${meta.firstLsn}..${meta.lastLsn}`);
  if (span > 0 && sizes.logEntries === 0) report.add('table-counts', `the log is empty but meta says it holds LSNs ${meta.firstLsn}..${meta.lastLsn}`);
  return report.list;
}

/** The checks, as steps: yields its progress every `progressEvery` rows of a long phase and
 * returns the violations, so the callers decide whether to pause between steps. */
function* verifySteps(scan: StoreScan, options: VerifyOptions): Generator<VerifyProgress, Violation[], void> {
  const report = new Report(options.violationsMax ?? 1000);
  const every = options.progressEvery ?? 50_000;
  const sizes = scan.sizes();
  const meta = scan.meta();

  // --- meta -----------------------------------------------------------------------------------
  if (meta.formatVersion < STORE_FORMAT_VERSION_MIN || meta.formatVersion > STORE_FORMAT_VERSION) report.add('meta', `meta formatVersion is ${meta.formatVersion}, expected ${STORE_FORMAT_VERSION_MIN}..${STORE_FORMAT_VERSION}`);
  if (meta.firstLsn < 1 || meta.firstLsn > meta.lastLsn + 1) report.add('meta', `meta firstLsn ${meta.firstLsn} is outside 1..${meta.lastLsn + 1}`);
  if (meta.snapshotIncomplete) report.add('snapshot-incomplete', 'the store holds an incomplete snapshot (a backup crashed while resyncing); it must be wiped');

  // --- tables: queues, exchanges, bindings (small) --------------------------------------------
  const queues = new Map<string, { count: number; bytes: number; lastPosition: number }>();
  for (const row of scan.queues()) {
    if (row.problem) report.add('queue-garbled', row.problem);
    else queues.set(row.name, { count: row.count, bytes: row.bytes, lastPosition: row.lastPosition });
  }
  const exchanges = new Set<string>();
  for (const row of scan.exchanges()) {
    if (row.problem) report.add('exchange-garbled', row.problem);
    else exchanges.add(row.name);
  }
  const bindings = new Set<string>();
  for (const row of scan.bindings()) {
    if (row.problem) {
      report.add('binding-garbled', row.problem);
      continue;
    }
    bindings.add(JSON.stringify([row.exchange, row.queue, row.key]));
    if (!queues.has(row.queue)) report.add('binding-dangling', `binding ${q(row.exchange)} -> ${q(row.queue)} key ${q(row.key)} names a queue that does not exist`);
    if (!exchanges.has(row.exchange) && !BUILT_IN_EXCHANGES.has(row.exchange)) {
      report.add('binding-dangling', `binding ${q(row.exchange)} -> ${q(row.queue)} key ${q(row.key)} names an exchange that does not exist`);
    }
  }

  // --- dedup windows (bounded: qpid.dedup_window rows per queue) -----------------------------
  const dedupRows = new Map<string, { seq: number; id: string }>();
  const dedupSeqs = new Map<string, Set<number>>();
  for (const row of scan.dedup()) {
    if (row.problem) {
      report.add('dedup-garbled', row.problem);
      continue;
    }
    dedupRows.set(JSON.stringify([row.queue, row.slot]), { seq: row.seq, id: row.id });
    if (!queues.has(row.queue)) report.add('dedup-dangling', `dedup row ${q(row.queue)} slot ${row.slot} names a queue that does not exist`);
    let seqs = dedupSeqs.get(row.queue);
    if (!seqs) dedupSeqs.set(row.queue, (seqs = new Set()));
    if (seqs.has(row.seq)) report.add('dedup-seq', `queue ${q(row.queue)} holds dedup seq ${row.seq} in two slots`);
    seqs.add(row.seq);
  }

  // --- undo (bounded: UNDO_LSNS_MAX) -----------------------------------------------------------
  const undo = checkUndoRows(scan.undo(), meta, (code, message) => report.add(code, message));
  const coverage = new UndoCoverage(undo, meta);

  // --- the log --------------------------------------------------------------------------------
  // Replaying the retained log as a delta: what it says last about each name, each index entry.
  const queueFate = new Map<string, { exists: boolean; lsn: number }>();
  const exchangeFate = new Map<string, { exists: boolean; lsn: number }>();
  const bindingFate = new Map<string, { exists: boolean; lsn: number }>();
  const entryFate = new Map<string, { messageId: number | null; lsn: number }>();
  const entryKey = (queue: string, position: number): string => `${position}\u0000${queue}`;
  const dedupFate = new Map<string, { seq: number; id: string; lsn: number }>();
  let logBytes = 0;
  let expected = meta.firstLsn;
  let seen = 0;
  let lastCovered = meta.firstLsn - 1;
  for (const e of scan.log(1)) {
    seen++;
    if (seen % every === 0) yield { phase: 'log', done: seen, total: sizes.logEntries };
    logBytes += e.bytes;
    if (e.lsn < meta.firstLsn) {
      report.add('log-range', `log entry at LSN ${e.lsn} is below the first LSN ${meta.firstLsn} in meta`);
      continue;
    }
    if (e.lsn > meta.lastLsn) report.add('log-range', `log entry at LSN ${e.lsn} is beyond the last LSN ${meta.lastLsn} in meta`);
    coverage.logEntry(e.lsn);
    if (e.lsn !== expected) report.add('log-gap', `log entries ${expected}..${e.lsn - 1} are missing`);
    if (!e.record) {
      report.add('log-garbled', e.problem ?? `log record at LSN ${e.lsn} does not decode`);
      expected = e.lsn + 1;
      lastCovered = e.lsn;
      continue;
    }
    const r = e.record;
    lastCovered = entryLastLsn({ lsn: e.lsn, record: r });
    expected = lastCovered + 1;
    switch (r.kind) {
      case 'queue-declare':
        queueFate.set(r.queue, { exists: true, lsn: e.lsn });
        break;
      case 'queue-delete':
        queueFate.set(r.queue, { exists: false, lsn: e.lsn });
        for (const [k] of entryFate) if (k.endsWith(`\u0000${r.queue}`)) entryFate.delete(k);
        for (const [k] of bindingFate) if ((JSON.parse(k) as string[])[1] === r.queue) bindingFate.delete(k);
        for (const [k] of dedupFate) if ((JSON.parse(k) as [string, number])[0] === r.queue) dedupFate.delete(k);
        break;
      case 'exchange-declare':
        exchangeFate.set(r.exchange, { exists: true, lsn: e.lsn });
        break;
      case 'exchange-delete':
        exchangeFate.set(r.exchange, { exists: false, lsn: e.lsn });
        for (const [k] of bindingFate) if ((JSON.parse(k) as string[])[0] === r.exchange) bindingFate.delete(k);
        break;
      case 'bind':
        bindingFate.set(JSON.stringify([r.exchange, r.queue, r.key]), { exists: true, lsn: e.lsn });
        break;
      case 'unbind':
        bindingFate.set(JSON.stringify([r.exchange, r.queue, r.key]), { exists: false, lsn: e.lsn });
        break;
      case 'enqueue':
        if (r.messageId > meta.lastMessageId) report.add('log-table-mismatch', `log record at LSN ${e.lsn} enqueues message ${r.messageId}, above the store's last message id ${meta.lastMessageId}`);
        for (const t of r.targets) entryFate.set(entryKey(t.queue, t.position), { messageId: r.messageId, lsn: e.lsn });
        break;
      case 'dequeue':
        entryFate.set(entryKey(r.queue, r.position), { messageId: null, lsn: e.lsn });
        break;
      case 'epoch':
        if (r.epoch > meta.epoch) report.add('log-table-mismatch', `log record at LSN ${e.lsn} sets epoch ${r.epoch}, above the store's epoch ${meta.epoch}`);
        break;
      case 'dedup':
        dedupFate.set(JSON.stringify([r.queue, r.slot]), { seq: r.seq, id: r.id, lsn: e.lsn });
        break;
      case 'skip':
      case 'txn':
        break;
    }
  }
  if (meta.firstLsn <= meta.lastLsn && lastCovered !== meta.lastLsn) {
    report.add('log-gap', `the log ends at LSN ${lastCovered} but meta says the last LSN is ${meta.lastLsn}`);
  }
  if (logBytes !== meta.logBytes) report.add('log-bytes', `the log holds ${logBytes} bytes but meta says ${meta.logBytes}`);
  coverage.report((code, message) => report.add(code, message));

  for (const [name, fate] of queueFate) {
    if (fate.exists !== queues.has(name)) {
      report.add('log-table-mismatch', `the log ${fate.exists ? 'declares' : 'deletes'} queue ${q(name)} at LSN ${fate.lsn} but the queues table ${queues.has(name) ? 'holds' : 'lacks'} it`);
    }
  }
  for (const [name, fate] of exchangeFate) {
    if (fate.exists !== exchanges.has(name)) {
      report.add('log-table-mismatch', `the log ${fate.exists ? 'declares' : 'deletes'} exchange ${q(name)} at LSN ${fate.lsn} but the exchanges table ${exchanges.has(name) ? 'holds' : 'lacks'} it`);
    }
  }
  for (const [k, fate] of bindingFate) {
    if (fate.exists !== bindings.has(k)) {
      report.add('log-table-mismatch', `the log ${fate.exists ? 'binds' : 'unbinds'} ${k} at LSN ${fate.lsn} but the bindings table ${bindings.has(k) ? 'holds' : 'lacks'} it`);
    }
  }
  for (const [k, fate] of entryFate) {
    const sep = k.indexOf('\u0000');
    const position = Number(k.slice(0, sep));
    const queue = k.slice(sep + 1);
    const held = scan.entry(queue, position);
    if (fate.messageId === null && held) {
      report.add('log-table-mismatch', `the log dequeues queue ${q(queue)} position ${position} at LSN ${fate.lsn} but the index still holds message ${held.messageId} there`);
    } else if (fate.messageId !== null && queues.has(queue) && (!held || held.messageId !== fate.messageId)) {
      report.add('log-table-mismatch', `the log enqueues message ${fate.messageId} on queue ${q(queue)} position ${position} at LSN ${fate.lsn} but the index ${held ? `holds message ${held.messageId}` : 'has no entry'} there`);
    }
  }

  for (const [k, fate] of dedupFate) {
    const [queue] = JSON.parse(k) as [string, number];
    // The queue's later delete (or a later record for the slot, kept last) explains an absence.
    if (!queues.has(queue) || queueFate.get(queue)?.exists === false) continue;
    const row = dedupRows.get(k);
    if (!row || row.seq !== fate.seq || row.id !== fate.id) {
      report.add('log-table-mismatch', `the log puts dedup seq ${fate.seq} in ${k} at LSN ${fate.lsn} but the dedup table ${row ? `holds seq ${row.seq}` : 'has no row'} there`);
    }
  }

  // --- index entries --------------------------------------------------------------------------
  const stats = new Map<string, { count: number; bytes: number; maxPosition: number }>();
  const refs = new Map<number, number>();
  let done = 0;
  for (const e of scan.entries()) {
    done++;
    if (done % every === 0) yield { phase: 'entries', done, total: sizes.entries };
    if (e.problem) {
      report.add('entry-garbled', e.problem);
      continue;
    }
    const where = `index entry ${q(e.queue)} position ${e.position}`;
    if (!queues.has(e.queue)) report.add('entry-orphan-queue', `${where} belongs to a queue that does not exist`);
    let s = stats.get(e.queue);
    if (!s) {
      s = { count: 0, bytes: 0, maxPosition: 0 };
      stats.set(e.queue, s);
    }
    s.count++;
    s.bytes += e.size;
    s.maxPosition = Math.max(s.maxPosition, e.position);
    refs.set(e.messageId, (refs.get(e.messageId) ?? 0) + 1);
    const m = scan.message(e.messageId);
    if (!m) report.add('entry-missing-message', `${where} names message ${e.messageId}, which does not exist`);
    else if (!m.problem && (m.size !== e.size || m.persistent !== e.persistent || m.expiresAtMs !== e.expiresAtMs)) {
      report.add('entry-message-mismatch', `${where} says message ${e.messageId} has size ${e.size}, persistent ${e.persistent}, expiry ${e.expiresAtMs}; the message says ${m.size}, ${m.persistent}, ${m.expiresAtMs}`);
    }
  }
  for (const [name, row] of queues) {
    const s = stats.get(name) ?? { count: 0, bytes: 0, maxPosition: 0 };
    if (s.count !== row.count || s.bytes !== row.bytes) {
      report.add('queue-stats', `queue ${q(name)} says ${row.count} messages / ${row.bytes} bytes; its index holds ${s.count} / ${s.bytes}`);
    }
    if (row.lastPosition < s.maxPosition) report.add('queue-stats', `queue ${q(name)} lastPosition ${row.lastPosition} is below its highest entry position ${s.maxPosition}`);
  }

  // --- messages -------------------------------------------------------------------------------
  done = 0;
  for (const m of scan.messages({ checkBodies: options.checkBodies ?? true })) {
    done++;
    if (done % every === 0) yield { phase: 'messages', done, total: sizes.messages };
    if (m.problem) {
      report.add('message-garbled', m.problem);
      continue;
    }
    const held = refs.get(m.messageId) ?? 0;
    // refs 0: consumed, its body kept while the record that consumed it can be undone (undo.ts);
    // one that no undo entry names would never be deleted.
    if (held === 0 && m.refs === 0) {
      if (!undo.keptMessages.has(m.messageId)) report.add('message-orphan', `message ${m.messageId} has refs 0 and no undo entry keeps it`);
      continue;
    }
    if (held === 0) report.add('message-orphan', `message ${m.messageId} (refs ${m.refs}) is held by no queue`);
    else if (held !== m.refs) report.add('message-refs', `message ${m.messageId} has refs ${m.refs} but ${held} index entries hold it`);
    if (m.messageId > meta.lastMessageId) report.add('meta', `message ${m.messageId} is above the store's last message id ${meta.lastMessageId}`);
  }
  return report.list;
}
