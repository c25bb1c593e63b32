// The primary's serving lease (issue 17), the broker's half of the Patroni model: the cluster
// manager that holds the leader key in etcd keeps a deadline here. A primary whose deadline has
// passed settles no producer and gives no producer credit until a new lease is granted, so that a
// primary whose manager died or was cut off from etcd stops accepting before its leader key can
// expire and another broker be promoted (the timing argument is in src/manager/step.ts). Pure:
// the node's driver asks it with the injected clock's time.
//
// Grant and extend. A grant (`qpid-ha lease --seconds S`, or promote with a lease) starts a lease
// with an id: its deadline is S from its arrival. An extension names the lease and an offset:
// the deadline becomes the grant's deadline plus the offset (never earlier than it was). The
// manager computes offsets on its own clock, so a late extension sets the deadline it meant, not
// later: only the grant's delay shifts the deadline, never an extension's. An extension of a
// lease that has expired, or of another lease, is refused: one held up while the broker was
// stopped cannot bring it back to life after another broker may have been promoted.
//
// The grant's own delay. An extension also says how long its target was from the moment it was
// sent (`remainingMs`). Arrival + remainingMs - offset is where the grant's deadline would be had
// the grant been as fast as this extension: the lease keeps the earliest such anchor, so the
// deadline is the manager's target plus the smallest delay of any message of the lease, not
// the grant's. A grant held up longer than the manager's margin no longer carries the deadline
// past the etcd key's expiry once one prompt extension arrives (simulator, etcd seed 5007: a
// late grant left the old primary serving 174 ms after another manager took the key).

export type ExtendOutcome = 'extended' | 'expired' | 'unknown-lease';

export class ServingLease {
  /** Monotonic ms at which serving stops; null while no manager ever set a lease (a manually
   * managed cluster: serving never stops for want of one). */
  private deadlineMs: number | null = null;
  /** The grant's deadline, as early as any message of the lease shows it (see above). */
  private anchorMs = 0;
  /** The largest offset an extension of the lease asked for. */
  private offsetMs = 0;
  private id: string | null = null;

  /** Starts lease `id` with a deadline `durationMs` from `nowMs`. */
  grant(nowMs: number, durationMs: number, id: string | null = null): void {
    this.deadlineMs = nowMs + durationMs;
    this.anchorMs = this.deadlineMs;
    this.offsetMs = 0;
    this.id = id;
  }

  /** Moves lease `id`'s deadline to its grant's deadline + `offsetMs`, if it is still live; with
   * `remainingMs` (the time to the target as the manager sent it), to no later than the grant's
   * deadline as fast a delivery as this one would have set it, plus the offset. */
  extend(nowMs: number, id: string, offsetMs: number, remainingMs?: number): ExtendOutcome {
    if (this.id === null || this.id !== id) return 'unknown-lease';
    if (this.expired(nowMs)) return 'expired';
    if (remainingMs !== undefined) this.anchorMs = Math.min(this.anchorMs, nowMs + remainingMs - offsetMs);
    this.offsetMs = Math.max(this.offsetMs, offsetMs);
    // Earlier than it was only when this extension shows the grant arrived late: then the
    // deadline the manager's timing argument allows is the earlier one.
    this.deadlineMs = this.anchorMs + this.offsetMs;
    return 'extended';
  }

  get isSet(): boolean {
    return this.deadlineMs !== null;
  }

  /** Whether a lease was set and its deadline has passed. */
  expired(nowMs: number): boolean {
    return this.deadlineMs !== null && nowMs >= this.deadlineMs;
  }

  /** Ms left before the deadline (0 once passed); null without a lease. */
  remainingMs(nowMs: number): number | null {
    return this.deadlineMs === null ? null : Math.max(0, this.deadlineMs - nowMs);
  }
}
