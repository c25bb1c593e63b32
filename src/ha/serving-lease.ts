// The primary's serving lease (issue 17), the broker's half of the Patroni model: the cluster
// manager that holds the leader key in etcd renews a deadline here (`qpid-ha lease --seconds S`).
// A primary whose deadline has passed settles no producer and gives no producer credit until it
// is renewed, so that a primary whose manager died or was cut off from etcd stops accepting
// before its leader key can expire and another broker be promoted (the timing argument is in
// src/manager/step.ts). Pure: the node's driver asks it with the injected clock's time.

export class ServingLease {
  /** Monotonic ms at which serving stops; null while no manager ever set a lease (a manually
   * managed cluster: serving never stops for want of one). */
  private deadlineMs: number | null = null;

  /** Sets the deadline `durationMs` from `nowMs` (a later renewal may shorten it: the manager's
   * latest word counts). */
  renew(nowMs: number, durationMs: number): void {
    this.deadlineMs = nowMs + durationMs;
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
