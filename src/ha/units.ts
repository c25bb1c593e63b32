// Transactions travel to backups whole: a txn record (store/record.ts) says that the entries
// after it, through its lastLsn, are one unit, and a backup applies each log frame in one store
// commit (backup.ts). So a frame is never cut inside a unit: a backup promoted after the
// primary's kill has every record of a committed transaction or none. Pure functions over runs
// of log entries; the primary's shipping (primary-protocol.ts) and its log reads (primary.ts) call them.

import { entryLastLsn, type LogEntry } from '../../store/index.js';

/** The LSN through which a transaction opened in `entries` runs, when it runs past their end
 * (the reader must fetch up to there before shipping); null when every unit is complete. */
export function openUnitEnd(entries: readonly LogEntry[]): number | null {
  let end: number | null = null;
  for (const entry of entries) {
    if (entry.record.kind === 'txn') end = Math.max(end ?? 0, entry.record.lastLsn);
  }
  const last = entries[entries.length - 1];
  if (end === null || last === undefined) return null;
  return end > entryLastLsn(last) ? end : null;
}

/** How many entries from the front of `entries` make the next frame: at most `maxEntries`,
 * unless that would cut a transaction, in which case the frame runs to the unit's end (a unit is
 * bounded by the broker's transaction size limit). */
export function frameLength(entries: readonly LogEntry[], maxEntries: number): number {
  let take = Math.min(entries.length, maxEntries);
  let unitEnd = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as LogEntry;
    if (i >= take) {
      if (entry.lsn > unitEnd) break;
      take = i + 1;
    }
    if (entry.record.kind === 'txn') unitEnd = Math.max(unitEnd, entry.record.lastLsn);
  }
  return take;
}
