// What has been shipped to one backup and not yet confirmed, batch by batch: the lag in bytes
// and seconds that `qpid-ha status --queues`, the JSON API and /metrics show, and the confirm
// latency of each batch. Pure (times are passed in); one entry per shipped batch, not per
// message, and at most ENTRIES_MAX of them (beyond, new batches merge into the last one, so a
// backup that never confirms costs bounded memory and its lag stays right in bytes).

const ENTRIES_MAX = 4096;

interface Batch {
  /** The batch's last LSN. */
  lsn: number;
  /** Bytes shipped up to the end of this batch, cumulative. */
  shippedBytes: number;
  /** When the batch was shipped. */
  readonly atMs: number;
}

export class ShipLedger {
  private readonly batches: Batch[] = [];
  private head = 0;
  private shippedBytes = 0;
  private confirmedBytes = 0;

  /** A batch of log entries ending at `lsn`, of `bytes`, went out at `nowMs`. */
  shipped(lsn: number, bytes: number, nowMs: number): void {
    this.shippedBytes += bytes;
    const last = this.batches[this.batches.length - 1];
    if (last !== undefined && this.batches.length - this.head >= ENTRIES_MAX) {
      last.lsn = lsn;
      last.shippedBytes = this.shippedBytes;
      return;
    }
    this.batches.push({ lsn, shippedBytes: this.shippedBytes, atMs: nowMs });
  }

  /** The backup confirmed up to `lsn`: calls `latency` with each batch it completes, in ms. */
  confirmed(lsn: number, nowMs: number, latency: (ms: number) => void): void {
    while (this.head < this.batches.length) {
      const batch = this.batches[this.head] as Batch;
      if (batch.lsn > lsn) break;
      this.confirmedBytes = batch.shippedBytes;
      latency(nowMs - batch.atMs);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Bytes shipped and not yet confirmed. */
  get unconfirmedBytes(): number {
    return this.shippedBytes - this.confirmedBytes;
  }

  /** How long the oldest unconfirmed batch has waited, in ms (0 when all is confirmed). */
  oldestUnconfirmedMs(nowMs: number): number {
    const oldest = this.batches[this.head];
    return oldest === undefined ? 0 : Math.max(0, nowMs - oldest.atMs);
  }
}
