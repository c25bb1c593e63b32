// Full verify's checks of the undo table (undo.ts). Undo rows are
// not derived from the log: a damaged one would make truncateAfter write a wrong before-image
// back, or fail, on the day a primary rejoins. So every row must pass its checksum and be well
// formed, the rows must hold ascending LSNs no later than the log's end, and (full verify, with
// the log) every log entry from meta.undoFromLsn on must have its undo: truncateAfter trusts
// undoFromLsn to say how far back it can go. Pure: scan rows in, violations and facts out.

import type { ScanUndo } from './scan.js';
import type { StoreMeta } from './store.js';
import type { UndoEntry } from './undo.js';
import type { ViolationCode } from './verify.js';

export type AddViolation = (code: ViolationCode, message: string) => void;

export interface UndoFacts {
  /** The LSN of every log entry that has undo. */
  readonly lsns: ReadonlySet<number>;
  /** Messages kept at refs 0 because an undo entry may need their bodies back. */
  readonly keptMessages: ReadonlySet<number>;
}

const isLsn = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 1;

/** Why an entry is malformed, or null. The ops are checked as far as truncateAfter needs them
 * to be arrays; their rows were sealed by the same CRC as the rest of the row. */
function entryProblem(e: UndoEntry | undefined): string | null {
  if (typeof e !== 'object' || e === null) return 'an entry is not an object';
  if (!isLsn(e.lsn)) return `an entry has LSN ${JSON.stringify(e.lsn)}`;
  if (!Array.isArray(e.ops) || !Array.isArray(e.garbage)) return `the entry at LSN ${e.lsn} lacks its ops or garbage list`;
  if (!e.garbage.every((id) => Number.isSafeInteger(id) && id >= 1)) return `the entry at LSN ${e.lsn} names a garbage message id that is not one`;
  return null;
}

/** Checks each undo row on its own and against its neighbours and meta; returns what the other
 * checks need. */
export function checkUndoRows(rows: Iterable<ScanUndo>, meta: StoreMeta, add: AddViolation): UndoFacts {
  const lsns = new Set<number>();
  const keptMessages = new Set<number>();
  let previousLast = 0;
  for (const row of rows) {
    const where = `undo row at LSN ${row.firstLsn}`;
    if (row.problem !== undefined || row.batch === undefined) {
      add('undo-garbled', row.problem ?? `${where} does not decode`);
      continue;
    }
    const b = row.batch;
    const entries = b.entries;
    const problem =
      b.firstLsn !== row.firstLsn ? `${where} says it starts at LSN ${b.firstLsn}`
      : entries.length === 0 ? `${where} holds no entries`
      : (entries.map(entryProblem).find((p) => p !== null) ?? null);
    if (problem !== null) {
      add('undo-garbled', problem.startsWith('undo row') ? problem : `${where}: ${problem}`);
      continue;
    }
    const first = entries[0] as UndoEntry;
    const last = entries[entries.length - 1] as UndoEntry;
    if (first.lsn !== b.firstLsn || last.lsn !== b.lastLsn || entries.some((e, i) => i > 0 && e.lsn <= (entries[i - 1] as UndoEntry).lsn)) {
      add('undo-garbled', `${where}: its entries (LSNs ${entries.map((e) => e.lsn).join(',')}) do not run in order from ${b.firstLsn} to ${b.lastLsn}`);
      continue;
    }
    if (b.firstLsn <= previousLast) add('undo-range', `${where} overlaps the row before it, which runs to LSN ${previousLast}`);
    if (b.lastLsn > meta.lastLsn) add('undo-range', `${where} runs to LSN ${b.lastLsn}, beyond the last LSN ${meta.lastLsn}`);
    previousLast = Math.max(previousLast, b.lastLsn);
    for (const e of entries) {
      lsns.add(e.lsn);
      for (const id of e.garbage) keptMessages.add(id);
    }
  }
  return { lsns, keptMessages };
}

/** Matches the undo against the log entries a full verify walked (their LSNs, in order): each
 * entry from undoFromLsn on has its undo, and no undo names an LSN inside the retained log where
 * there is no entry. One violation per direction, with a count: a store that lost its undo would
 * otherwise list every entry. */
export class UndoCoverage {
  private missing = 0;
  private firstMissing = 0;
  private readonly matched = new Set<number>();

  constructor(
    private readonly facts: UndoFacts,
    private readonly meta: StoreMeta,
  ) {}

  logEntry(lsn: number): void {
    if (this.facts.lsns.has(lsn)) this.matched.add(lsn);
    else if (lsn >= this.meta.undoFromLsn) {
      if (this.missing++ === 0) this.firstMissing = lsn;
    }
  }

  report(add: AddViolation): void {
    if (this.missing > 0) {
      add('undo-missing', `${this.missing} log entr${this.missing === 1 ? 'y' : 'ies'} from LSN ${this.firstMissing} on have no undo, though meta says undo covers LSNs from ${this.meta.undoFromLsn}: truncateAfter could not take them back`);
    }
    const from = Math.max(this.meta.firstLsn, this.meta.undoFromLsn);
    const stray = [...this.facts.lsns].filter((lsn) => lsn >= from && lsn <= this.meta.lastLsn && !this.matched.has(lsn));
    if (stray.length > 0) add('undo-range', `${stray.length} undo entr${stray.length === 1 ? 'y names' : 'ies name'} LSNs with no log entry (first ${Math.min(...stray)})`);
  }
}
