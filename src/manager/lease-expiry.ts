// When another manager's etcd lease has surely expired, read from etcd's own answers. Pure.
//
// After a host is lost, nobody gives the leader key back: it goes when etcd revokes the dead
// manager's lease, and etcd looks for expired leases only every 500 ms, so the election waited
// ttl + 0-500 ms (host loss: 2,255-2,446 ms with ttl 2, against the ttl + 300). A lease
// that has expired by etcd's clock can no longer be renewed (etcd makes a keep-alive of an
// expired lease wait for its revocation), so revoking it then changes nothing but the moment:
// the key still goes only after it expired (step.ts, point 3), and the old primary's serving
// lease ended before that (point 2).
//
// etcd's LeaseTimeToLive says the whole seconds left (TTL, rounded down). The argument:
//   1. A reading of 0 evaluated at e0 means less than 1 s was left then: unless renewed, the
//      lease expired before e0 + 1 s.
//   2. A renewal at X leaves ttl seconds, so every reading in [X, X + ttl - 1 s) is at least 1.
//      Readings of 0 no more than ttl - 1 s apart (evaluation to evaluation) therefore leave no
//      room for a renewal between them.
//   3. So once a chain of 0 readings that starts at e0 reaches an evaluation at or after
//      e0 + 1 s, the lease has expired, and no renewal can have come since: revoke it.
// Evaluation times are bounded by the local send and receive times of each reading: e0 is at
// most the first reading's receive time, a later e at least its send time, and two consecutive
// evaluations at most (receive of the later - send of the earlier) apart.

export interface TtlReading {
  readonly sentMs: number;
  readonly receivedMs: number;
  /** Whole seconds left; negative when etcd no longer has the lease. */
  readonly ttlSeconds: number;
}

export interface ExpiryChain {
  /** Receive time of the first 0 reading of the chain (an upper bound of its evaluation). */
  readonly zeroSinceMs: number;
  /** Send time of the chain's last reading (a lower bound of its evaluation). */
  readonly lastSentMs: number;
}

/** A margin for the two monotonic clocks' rates and for rounding: the reading must be this much
 * past the bound. */
const MARGIN_MS = 20;

export type ExpiryVerdict = { readonly kind: 'expired' } | { readonly kind: 'gone' } | { readonly kind: 'watching'; readonly chain: ExpiryChain | null };

/** Folds one reading into the chain. `ttlMs`: the lease's granted ttl. */
export function observeTtl(chain: ExpiryChain | null, reading: TtlReading, ttlMs: number): ExpiryVerdict {
  if (reading.ttlSeconds < 0) return { kind: 'gone' };
  if (reading.ttlSeconds > 0) return { kind: 'watching', chain: null };
  if (chain === null || reading.receivedMs - chain.lastSentMs > ttlMs - 1000 - MARGIN_MS) {
    // The first 0, or one too long after the previous reading to rule out a renewal between.
    return { kind: 'watching', chain: { zeroSinceMs: reading.receivedMs, lastSentMs: reading.sentMs } };
  }
  if (reading.sentMs >= chain.zeroSinceMs + 1000 + MARGIN_MS) return { kind: 'expired' };
  return { kind: 'watching', chain: { zeroSinceMs: chain.zeroSinceMs, lastSentMs: reading.sentMs } };
}

/** Whether this manager should watch the leader's lease: another manager holds the key, and our
 * broker, a ready backup, has lost its primary (the leader's host may be gone). */
export function suspectsLeader(view: { readonly leader: string | null | undefined; readonly leaderIsMine: boolean; readonly name: string; readonly brokerState: string | null; readonly connectedToPrimary: boolean }): boolean {
  return typeof view.leader === 'string' && view.leader !== view.name && !view.leaderIsMine && view.brokerState === 'ready' && !view.connectedToPrimary;
}
