// How a joining backup catches up with its primary (DESIGN.md §4), as pure rules. Both stores
// keep their epoch history; the last LSN at which both logs agree is the divergence point D: in
// the newest epoch both hold (same epoch, begun at the same LSN), both logs hold that epoch's
// primary's records, so they agree up to where the shorter of the two leaves that epoch. The
// backup takes its log back to D (what it drops was never settled: the primary was a ready
// backup, in the gate, when it was written) and receives the log from D + 1. Only when the
// primary's retained log no longer reaches D + 1, or the backup's store cannot be trusted, does
// the backup wipe its store and take a snapshot.

import type { EpochStart } from '../../store/index.js';

export interface LogPosition {
  readonly epochHistory: readonly EpochStart[];
  readonly lastLsn: number;
}

export type CatchUp = { readonly kind: 'incremental'; readonly fromLsn: number } | { readonly kind: 'snapshot'; readonly reason: string };

export type TotalFailureResync = 'wipe' | 'incremental';

/** The last LSN at which both logs hold the same records, or null when they share no epoch. */
export function divergencePoint(primary: LogPosition, backup: LogPosition): number | null {
  const theirs = new Map(primary.epochHistory.map((e, i) => [e.epoch, i]));
  for (let i = backup.epochHistory.length - 1; i >= 0; i--) {
    const mine = backup.epochHistory[i] as EpochStart;
    const j = theirs.get(mine.epoch);
    if (j === undefined || (primary.epochHistory[j] as EpochStart).firstLsn !== mine.firstLsn) continue;
    const primaryEnd = j + 1 < primary.epochHistory.length ? (primary.epochHistory[j + 1] as EpochStart).firstLsn - 1 : primary.lastLsn;
    const backupEnd = i + 1 < backup.epochHistory.length ? (backup.epochHistory[i + 1] as EpochStart).firstLsn - 1 : backup.lastLsn;
    return Math.min(primaryEnd, backupEnd);
  }
  return null;
}

export interface PrimaryView extends LogPosition {
  readonly epoch: number;
  /** First LSN still in the primary's log (retention). */
  readonly firstLsn: number;
  /** The primary was promoted from joining: the cluster had failed entirely. */
  readonly promotedAfterTotalFailure: boolean;
}

export interface BackupView extends LogPosition {
  readonly snapshotIncomplete: boolean;
  /** Why the backup asks for a full resync (its store filled up or was found corrupt while it
   * replicated: a delta would replay every body since, which a full disk cannot hold, on top of
   * what cannot be trusted), or null. */
  readonly resync?: string | null;
}

/** How the backup catches up: incremental from D, or a snapshot (with the reason, for logs and
 * status). After a total cluster failure, the backups that did not follow this primary before
 * resync from a snapshot unless the operator chose incremental (the reference's rule). */
export function planCatchUp(primary: PrimaryView, backup: BackupView, totalFailureResync: TotalFailureResync): CatchUp {
  if (backup.snapshotIncomplete) return { kind: 'snapshot', reason: 'the backup holds a partial snapshot' };
  if (backup.resync) return { kind: 'snapshot', reason: `the backup asks for a full resync (${backup.resync})` };
  if (backup.lastLsn === 0) return { kind: 'snapshot', reason: 'the backup\'s store is empty' };
  const followedThisPrimary = backup.epochHistory.some((e) => e.epoch === primary.epoch);
  if (primary.promotedAfterTotalFailure && totalFailureResync === 'wipe' && !followedThisPrimary) {
    return { kind: 'snapshot', reason: 'after a total cluster failure the others resync from the first promoted (--ha-total-failure-resync wipe)' };
  }
  const divergence = divergencePoint(primary, backup);
  if (divergence === null) return { kind: 'snapshot', reason: 'the two stores share no epoch' };
  if (divergence + 1 < primary.firstLsn) {
    return { kind: 'snapshot', reason: `the primary's log starts at LSN ${primary.firstLsn}; the backup needs it from LSN ${divergence + 1}` };
  }
  return { kind: 'incremental', fromLsn: divergence };
}
