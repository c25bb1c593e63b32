// Works around a bug in rhea 3.0.5 (lib/session.js write_dispositions): when it batches the
// dispositions of one session into ranges, a range holding a single delivery absorbs the next
// consecutive delivery without comparing outcomes, so [A accepted, B released] goes out as one
// disposition "A..B accepted". Releasing or rejecting in the same tick as accepting could thus
// turn a release into an accept (the message is dropped) or the reverse. Measured: a peer settling
// sn 1..10 alternately accepted/rejected delivered "3: rejected".
// Fix: within one tick, a session only ever gets settlements of one kind; a settlement of another
// kind waits for the next turn of the event loop (after rhea's nextTick flush), in order.

export class SettlementSequencer {
  private kind: string | undefined;
  private readonly queue: Array<{ readonly kind: string; readonly apply: () => void }> = [];
  private scheduled = false;

  /** Runs `apply` now if it cannot be merged with a different outcome, else on a later turn. */
  settle(kind: string, apply: () => void): void {
    if (this.queue.length === 0 && (this.kind === undefined || this.kind === kind)) {
      this.kind = kind;
      apply();
    } else this.queue.push({ kind, apply });
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    this.kind = undefined;
    while (this.queue.length > 0 && (this.kind === undefined || this.queue[0]?.kind === this.kind)) {
      const next = this.queue.shift() as { kind: string; apply: () => void };
      this.kind = next.kind;
      next.apply();
    }
    if (this.kind !== undefined) this.schedule();
  }
}
