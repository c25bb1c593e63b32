// A store's epoch history: each cluster epoch it holds records of, with the first LSN written in
// it (Kafka's leader-epoch checkpoint, Raft's log matching). Two stores whose histories share
// an entry hold the same log up to where the next epoch of either begins, which is how a backup
// tells a primary that truly follows its past from one that does not (DESIGN.md §4). Pure.

export interface EpochStart {
  readonly epoch: number;
  /** The LSN of the epoch record that began the epoch. */
  readonly firstLsn: number;
}

/** Entries kept: promotions are rare, and older epochs matter less the further back they are. */
export const EPOCH_HISTORY_MAX = 1000;

/** The history after an epoch record at `lsn`: a new epoch is appended (dropping the oldest over
 * the cap); an epoch not above the last one changes nothing (it is a replay). */
export function withEpochStart(history: readonly EpochStart[], epoch: number, lsn: number): EpochStart[] {
  const last = history[history.length - 1];
  if (last !== undefined && epoch <= last.epoch) return [...history];
  const next = [...history, { epoch, firstLsn: lsn }];
  return next.length > EPOCH_HISTORY_MAX ? next.slice(next.length - EPOCH_HISTORY_MAX) : next;
}

/** The newest epoch a store holds records of: its history's last entry (the `epoch` it has seen
 * may be higher, from an epoch record alone). */
export function latestEpoch(store: { readonly epochHistory: readonly EpochStart[]; readonly epoch: number }): number {
  return store.epochHistory[store.epochHistory.length - 1]?.epoch ?? store.epoch;
}

/** The history of a prefix of the log ending at `lsn` (a snapshot taken there, or a log
 * truncated after it). */
export function historyUpTo(history: readonly EpochStart[], lsn: number): EpochStart[] {
  return history.filter((e) => e.firstLsn <= lsn);
}

/** Why a store with history `mine` must not follow a primary whose history is `theirs` and whose
 * log ends at `theirLastLsn`, or null when it may. Any primary that shares this store's past
 * holds at least one epoch of it, begun at the same LSN, and its log reaches at least the start
 * of the newest epoch both hold. A primary that shares none (an impostor on a dead primary's port
 * with a high epoch and an empty log) would make this store wipe what it holds. Newer epochs of
 * ours that the primary lacks are not a conflict: they are a stale primary's (split brain), and
 * the suffix goes, as the reference's "the first promoted wins" says. Where both name an epoch
 * they must agree on its start: epochs are unique per broker, so a disagreement is an
 * impostor or a corrupt history. */
export function historyConflict(mine: readonly EpochStart[], theirs: readonly EpochStart[], theirLastLsn: number): string | null {
  if (mine.length === 0) return null;
  const byEpoch = new Map(theirs.map((e) => [e.epoch, e.firstLsn]));
  let common: EpochStart | null = null;
  for (const entry of mine) {
    const their = byEpoch.get(entry.epoch);
    if (their === undefined) continue;
    if (their !== entry.firstLsn) return `epoch ${entry.epoch} began at LSN ${entry.firstLsn} here and at LSN ${their} on the primary`;
    common = entry;
  }
  if (common === null) {
    const newest = mine[mine.length - 1] as EpochStart;
    return `its history shares no epoch with this store's (${mine.length} epochs, the newest ${newest.epoch} from LSN ${newest.firstLsn}): it is not the cluster this store belongs to`;
  }
  if (theirLastLsn < common.firstLsn) return `its log ends at LSN ${theirLastLsn}, before epoch ${common.epoch} that both hold began (LSN ${common.firstLsn})`;
  return null;
}
