// The promotion score a Pacemaker resource agent (tools/ocf/qpidd) gives its broker, computed
// from the broker's HA state and the stores of the cluster's other brokers (pure: the caller asks
// the brokers). Pacemaker promotes the instance with the highest score, and its scores are small
// bounded integers, so the stores are ranked (epoch, then last LSN) rather than encoded.

export interface ScoredBroker {
  readonly name: string | null;
  readonly state: string;
  readonly epoch?: number;
  readonly lastLsn?: number;
}

export interface PromotionScore {
  /** null: remove the score (this broker must not be promoted now). */
  readonly score: number | null;
  readonly reason: string;
}

/** The primary keeps the highest score, so that Pacemaker leaves it where it is. */
export const PRIMARY_SCORE = 1000;
/** Ready backups score below the primary, the most recent store highest. */
export const READY_SCORE = 900;
/** A joining broker with no primary known (a total failure): a candidate below any ready one. */
export const JOINING_SCORE = 100;
const RANK_STEP = 10;

/** This broker's rank (0 = most recent store) among the brokers in `state`, by epoch then last
 * LSN, ties broken by name so that every node computes the same order. */
export function storeRank(self: string, peers: readonly ScoredBroker[], state: string): number {
  const candidates = peers.filter((p): p is ScoredBroker & { name: string } => p.name !== null && p.state === state);
  if (!candidates.some((p) => p.name === self)) candidates.push({ name: self, state, epoch: 0, lastLsn: 0 });
  candidates.sort((a, b) => (b.epoch ?? 0) - (a.epoch ?? 0) || (b.lastLsn ?? 0) - (a.lastLsn ?? 0) || a.name.localeCompare(b.name));
  return candidates.findIndex((p) => p.name === self);
}

function ranked(base: number, rank: number): number {
  // Never down to 0 or below: a score of 0 or less reads as "never promote here".
  return Math.max(1, base - RANK_STEP * rank);
}

/**
 * `self.primaryKnown`: the broker knows of a primary (a joining or catching-up broker then must
 * wait to be a ready backup of it). `peers`: every broker of --ha-brokers-url as `qpid-ha status
 * --all` reports them (this one included).
 */
export function promotionScore(self: { readonly name: string; readonly state: string; readonly primaryKnown: boolean }, peers: readonly ScoredBroker[]): PromotionScore {
  switch (self.state) {
    case 'active':
    case 'recovering':
      return { score: PRIMARY_SCORE, reason: 'the primary' };
    case 'ready': {
      const rank = storeRank(self.name, peers, 'ready');
      return { score: ranked(READY_SCORE, rank), reason: `ready backup, store rank ${rank} among ready backups` };
    }
    case 'joining': {
      if (self.primaryKnown) return { score: null, reason: 'joining a primary: not promotable until ready' };
      const rank = storeRank(self.name, peers, 'joining');
      return { score: ranked(JOINING_SCORE, rank), reason: `joining with no primary known, store rank ${rank} among joining brokers` };
    }
    case 'catchup':
      return { score: null, reason: 'catching up: not promotable until ready' };
    default:
      return { score: null, reason: `${self.state}: not an HA cluster member` };
  }
}
