// Keeps heard.ts's record for a backup: the primary positions carried in its frames, persisted
// (heard-file.ts) when the backup starts a catch-up (the hello names the primary's LSN), at
// least once a second while it is catching up, and at once when it leaves the ack gate. While
// it is a ready backup in the gate nothing is persisted: what it received but had not stored
// when it died was never settled (its confirmation was missing), and must not count against it.

import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { laterHeard, type Heard } from './heard.js';
import type { HeardRecord } from './heard-file.js';

/** At least this often while catching up. */
const PERSIST_INTERVAL_MS = 1000;

export class HeardTracker {
  /** What the record holds (what counts after a restart). */
  private recorded: Heard | null;
  /** The latest position heard, persisted or not. */
  private latest: Heard | null;
  private timer: TimerHandle | null = null;
  private persistedAtMs = -Infinity;

  constructor(
    private readonly record: HeardRecord | null,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.recorded = record?.load() ?? null;
    this.latest = this.recorded;
  }

  /** What a promotion of this broker is checked against: the record, and while it is not a
   * ready backup what it heard since. */
  effective(ready: boolean): Heard | null {
    return ready ? this.recorded : laterHeard(this.recorded, this.latest);
  }

  get latestHeard(): Heard | null {
    return this.latest;
  }

  /** A frame named the primary's position. `urgent`: persist now (a catch-up begins). `inGate`:
   * this broker is a ready backup, whose unstored frames were never settled. */
  heard(position: Heard, options: { urgent: boolean; inGate: boolean }): void {
    this.latest = laterHeard(this.latest, position);
    if (options.urgent) this.persist();
    else if (!options.inGate) this.persistSoon();
  }

  /** This broker left the ack gate: what the primary had reached is now owed to it. */
  leftGate(): void {
    this.persist();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private persistSoon(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.persistedAtMs + PERSIST_INTERVAL_MS - this.clock.monotonicMs());
    this.timer = this.clock.setTimer(wait, () => {
      this.timer = null;
      this.persist();
    });
  }

  private persist(): void {
    const next = laterHeard(this.recorded, this.latest);
    if (next === null || next === this.recorded) return;
    this.persistedAtMs = this.clock.monotonicMs();
    try {
      this.record?.save(next);
      this.recorded = next;
    } catch (err) {
      // Kept in memory: a restart may forget it, which makes a later promotion no stricter
      // than it was before this record existed.
      this.logger.error({ err: (err as Error).message, heard: next }, 'could not record the primary position heard');
    }
  }
}
