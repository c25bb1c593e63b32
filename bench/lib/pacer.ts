// A token bucket that paces one producer at a target rate. Tokens accrue with time up to a 50 ms
// burst, so a producer that was held back (no credit, full window) does not flood the server to
// catch up, and a throttled run measures latency at the stated load. Time is passed in (ms), so
// the pacer is pure and testable.

export class Pacer {
  private tokens: number;
  private lastMs: number;
  private readonly burst: number;

  /** ratePerS 0 means unthrottled. */
  constructor(
    private readonly ratePerS: number,
    nowMs: number,
  ) {
    this.burst = Math.max(1, ratePerS * 0.05);
    this.tokens = Math.min(1, this.burst);
    this.lastMs = nowMs;
  }

  get unthrottled(): boolean {
    return this.ratePerS === 0;
  }

  /** How many messages may be sent now (Infinity when unthrottled). */
  available(nowMs: number): number {
    if (this.ratePerS === 0) return Infinity;
    this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastMs) * this.ratePerS) / 1000);
    this.lastMs = nowMs;
    return Math.floor(this.tokens);
  }

  take(count: number): void {
    if (this.ratePerS !== 0) this.tokens -= count;
  }

  /** Milliseconds until the next token, for the pacing timer. */
  waitMs(): number {
    if (this.ratePerS === 0 || this.tokens >= 1) return 0;
    return Math.max(1, ((1 - this.tokens) * 1000) / this.ratePerS);
  }
}
