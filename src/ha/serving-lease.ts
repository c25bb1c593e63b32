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

export type ExtendOutcome = 'extended' | 'expired' | 'unknown-lease';

export class ServingLease {
  /** Monotonic ms at which serving stops; null while no manager ever set a lease (a manually
   * managed cluster: serving never stops for want of one). */
  private deadlineMs: number | null = null;
  private grantDeadlineMs = 0;
  private id: string | null = null;

  /** Starts lease `id` with a deadline `durationMs` from `nowMs`. */
  grant(nowMs: number, durationMs: number, id: string | null = null): void {
    this.deadlineMs = nowMs + durationMs;
    this.grantDeadlineMs = this.deadlineMs;
    this.id = id;
  }

  /** Moves lease `id`'s deadline to its grant's deadline + `offsetMs`, if it is still live. */
  extend(nowMs: number, id: string, offsetMs: number): ExtendOutcome {
    if (this.id === null || this.id !== id) return 'unknown-lease';
    if (this.expired(nowMs)) return 'expired';
    this.deadlineMs = Math.max(this.deadlineMs as number, this.grantDeadlineMs + offsetMs);
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
