// `qpid-store diff A B` (issue 16): compares two stores (a primary's and a backup's, or a store
// before and after a crash) by what they say of themselves: identity, epoch history, LSN range,
// queues, and each queue's messages by position, id and body CRC. Pure: two views in, a report
// out; the tool gathers the views (from a stopped store, or from the broker holding a live one).
//
// Where the logs part: two stores hold the same log up to the first LSN at which their epoch
// histories name different epochs (epoch-history.ts: an epoch is begun by one broker at one LSN).
// B is a prefix of A when their logs agree up to B's last LSN, B's end is not beyond A's, and no
// position both hold has a different message (id or CRC) in each. Messages only B holds may have
// been consumed on A since, and messages only A holds enqueued since; both are listed, neither
// breaks the prefix.
//
// Stores with undo (a cluster broker's, undo.ts): consumed messages kept at refs 0 for undo are
// held by no queue, so they are not compared (they are not the store's content). When B's log
// goes on past the agreement, the diff says whether B's undo reaches back to it: then B, as a
// backup of A, takes its tail back and catches up by the delta; else it resyncs from a snapshot.

import type { EpochStart } from './epoch-history.js';

export interface DiffMessage {
  readonly position: number;
  readonly messageId: number;
  readonly bodyCrc: number | null;
}

export interface DiffQueue {
  readonly name: string;
  readonly count: number;
  readonly bytes: number;
  /** In position order. */
  readonly messages: readonly DiffMessage[];
}

export interface StoreView {
  /** Where it came from: a data dir, or a broker's address. */
  readonly source: string;
  readonly storeId: string;
  readonly epoch: number;
  readonly epochHistory: readonly EpochStart[];
  readonly firstLsn: number;
  readonly lastLsn: number;
  /** Undo covers this LSN to lastLsn (meta.undoFromLsn; lastLsn + 1: none). */
  readonly undoFromLsn: number;
  readonly queues: readonly DiffQueue[];
}

export type DiffVerdict = 'equal' | 'prefix' | 'diverged';

export interface QueueDifference {
  readonly queue: string;
  /** 'only-in-a' / 'only-in-b': the queue itself; 'messages': some message differs. */
  readonly kind: 'only-in-a' | 'only-in-b' | 'messages';
  readonly countA: number | null;
  readonly countB: number | null;
  /** Positions both hold with a different message id or body CRC (the first few). */
  readonly mismatched: readonly { readonly position: number; readonly a: DiffMessage; readonly b: DiffMessage }[];
  readonly mismatchedCount: number;
  readonly onlyInA: number;
  readonly onlyInB: number;
  /** The lowest position at which the queues differ in any way. */
  readonly firstDifference: number | null;
}

export interface StoreDiff {
  readonly verdict: DiffVerdict;
  readonly sameStoreId: boolean;
  readonly a: { readonly source: string; readonly storeId: string; readonly epoch: number; readonly firstLsn: number; readonly lastLsn: number; readonly undoFromLsn: number; readonly epochHistory: readonly EpochStart[] };
  readonly b: StoreDiff['a'];
  /** The last LSN both logs hold alike (by epoch history), capped by both ends. */
  readonly agreedThroughLsn: number;
  /** The first LSN at which the histories name different epochs, or null when they never do. */
  readonly divergenceLsn: number | null;
  /** B's log beyond the agreement, and whether B's undo can take it back (null: B has none). */
  readonly bTail: { readonly fromLsn: number; readonly toLsn: number; readonly undoable: boolean } | null;
  readonly queues: readonly QueueDifference[];
  /** One sentence per reason the verdict is not 'equal'. */
  readonly notes: readonly string[];
}

const MISMATCHES_LISTED_MAX = 20;

/** The epoch a history assigns to `lsn` (0 before its first entry). */
function epochAt(history: readonly EpochStart[], lsn: number): number {
  let epoch = 0;
  for (const e of history) {
    if (e.firstLsn > lsn) break;
    epoch = e.epoch;
  }
  return epoch;
}

/** The first LSN at which two histories name different epochs, or null. */
export function historyDivergence(a: readonly EpochStart[], b: readonly EpochStart[]): number | null {
  const boundaries = [...new Set([...a, ...b].map((e) => e.firstLsn))].sort((x, y) => x - y);
  for (const lsn of boundaries) if (epochAt(a, lsn) !== epochAt(b, lsn)) return lsn;
  return null;
}

function compareQueue(name: string, a: DiffQueue | undefined, b: DiffQueue | undefined): QueueDifference | null {
  if (!a || !b) {
    return { queue: name, kind: a ? 'only-in-a' : 'only-in-b', countA: a?.count ?? null, countB: b?.count ?? null, mismatched: [], mismatchedCount: 0, onlyInA: a?.messages.length ?? 0, onlyInB: b?.messages.length ?? 0, firstDifference: null };
  }
  const inB = new Map(b.messages.map((m) => [m.position, m]));
  const mismatched: { position: number; a: DiffMessage; b: DiffMessage }[] = [];
  let mismatchedCount = 0;
  let onlyInA = 0;
  let first: number | null = null;
  const note = (position: number): void => {
    if (first === null || position < first) first = position;
  };
  for (const m of a.messages) {
    const other = inB.get(m.position);
    if (!other) {
      onlyInA++;
      note(m.position);
      continue;
    }
    inB.delete(m.position);
    if (other.messageId !== m.messageId || other.bodyCrc !== m.bodyCrc) {
      mismatchedCount++;
      if (mismatched.length < MISMATCHES_LISTED_MAX) mismatched.push({ position: m.position, a: m, b: other });
      note(m.position);
    }
  }
  const onlyInB = inB.size;
  for (const position of inB.keys()) note(position);
  if (mismatchedCount === 0 && onlyInA === 0 && onlyInB === 0) return null;
  return { queue: name, kind: 'messages', countA: a.count, countB: b.count, mismatched, mismatchedCount, onlyInA, onlyInB, firstDifference: first };
}

export function diffStores(a: StoreView, b: StoreView): StoreDiff {
  const divergenceLsn = historyDivergence(a.epochHistory, b.epochHistory);
  const commonEnd = Math.min(a.lastLsn, b.lastLsn);
  const agreedThroughLsn = divergenceLsn === null ? commonEnd : Math.min(commonEnd, divergenceLsn - 1);
  const names = [...new Set([...a.queues.map((q) => q.name), ...b.queues.map((q) => q.name)])].sort();
  const byName = (v: StoreView): Map<string, DiffQueue> => new Map(v.queues.map((q) => [q.name, q]));
  const qa = byName(a);
  const qb = byName(b);
  const queues = names.map((n) => compareQueue(n, qa.get(n), qb.get(n))).filter((d): d is QueueDifference => d !== null);

  const notes: string[] = [];
  const logsAgree = agreedThroughLsn >= b.lastLsn;
  if (!logsAgree) {
    notes.push(
      divergenceLsn !== null
        ? `the logs part at LSN ${divergenceLsn}: A is in epoch ${epochAt(a.epochHistory, divergenceLsn)} there, B in epoch ${epochAt(b.epochHistory, divergenceLsn)}; B holds LSNs up to ${b.lastLsn}`
        : `B's log runs to LSN ${b.lastLsn}, beyond A's last LSN ${a.lastLsn}`,
    );
  }
  const conflicting = queues.filter((q) => q.mismatchedCount > 0);
  for (const q of conflicting) notes.push(`queue ${JSON.stringify(q.queue)}: ${q.mismatchedCount} position(s) hold different messages (first at position ${q.mismatched[0]?.position})`);
  const onlyB = queues.filter((q) => q.kind === 'only-in-b');
  for (const q of onlyB) notes.push(`queue ${JSON.stringify(q.queue)} is only in B`);
  const bTail = logsAgree ? null : { fromLsn: agreedThroughLsn + 1, toLsn: b.lastLsn, undoable: agreedThroughLsn + 1 >= b.undoFromLsn };
  if (bTail) {
    notes.push(
      bTail.undoable
        ? `B keeps undo from LSN ${b.undoFromLsn}: it can take LSNs ${bTail.fromLsn}..${bTail.toLsn} back and catch up with A incrementally`
        : `B's undo starts at LSN ${b.undoFromLsn}, after LSN ${bTail.fromLsn}: it cannot take its log back there and would resync from a snapshot`,
    );
  }
  const prefix = logsAgree && conflicting.length === 0 && onlyB.length === 0;
  const equal = prefix && a.lastLsn === b.lastLsn && queues.length === 0 && historyDivergence(a.epochHistory, b.epochHistory) === null;
  if (prefix && !equal) {
    if (a.lastLsn > b.lastLsn) notes.push(`B is A up to LSN ${b.lastLsn}; A goes on to LSN ${a.lastLsn}`);
    for (const q of queues) {
      if (q.kind === 'only-in-a') notes.push(`queue ${JSON.stringify(q.queue)} is only in A (declared after B's end)`);
      else notes.push(`queue ${JSON.stringify(q.queue)}: ${q.onlyInA} message(s) only in A (enqueued since), ${q.onlyInB} only in B (consumed on A since)`);
    }
  }
  const summary = (v: StoreView) => ({ source: v.source, storeId: v.storeId, epoch: v.epoch, firstLsn: v.firstLsn, lastLsn: v.lastLsn, undoFromLsn: v.undoFromLsn, epochHistory: v.epochHistory });
  return {
    verdict: equal ? 'equal' : prefix ? 'prefix' : 'diverged',
    sameStoreId: a.storeId === b.storeId,
    a: summary(a),
    b: summary(b),
    agreedThroughLsn,
    divergenceLsn,
    bTail,
    queues,
    notes,
  };
}
