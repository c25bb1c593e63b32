// What the HA node knows of its store's health (issue 16; NATS's LostStreamData is the model:
// report lost data, never hide it). The recovery report of the last open, with what broker
// recovery dropped on purpose and every message lost since, is logged and kept in the store at
// each change (for `qpid-store inspect`); a store that failed its verify at start is marked
// corrupt until a full resync from a primary makes it sound (it is not promotable meanwhile).

import { withLost, type LostMessage, type RecoveryReport, type Store } from '../../store/index.js';
import type { BrokerLogger } from '../core/log.js';

const NOT_DURABLE = 'not durable: a local restart drops it (DESIGN.md §2)';

export class StoreHealth {
  private report: RecoveryReport | null;
  private corruptReason: string | null;

  constructor(
    private readonly store: Store,
    private readonly logger: BrokerLogger,
    recovery: RecoveryReport | null,
    corrupt: string | null,
  ) {
    this.report = recovery;
    this.corruptReason = corrupt;
  }

  get recovery(): RecoveryReport | null {
    return this.report;
  }

  /** Why the store failed its verify at start, until it has been resynced; null when sound. */
  get corrupt(): string | null {
    return this.corruptReason;
  }

  /** What broker recovery dropped on purpose (transient messages and nodes). */
  noteDropped(dropped: readonly string[]): void {
    if (!this.report) return;
    this.report = { ...this.report, dropped: [...this.report.dropped, ...dropped.map((what) => ({ what, reason: NOT_DURABLE }))] };
    this.keep();
  }

  noteLost(lost: LostMessage): void {
    if (!this.report) return;
    this.report = withLost(this.report, lost);
    this.keep();
  }

  /** The backup became ready: a corrupt store was replaced by the primary's snapshot. */
  resynced(): void {
    if (this.corruptReason === null) return;
    this.logger.info({ was: this.corruptReason }, 'the store was resynced from the primary: it is sound again');
    this.corruptReason = null;
  }

  /** Logs the report and keeps it in the store (not logged, not replicated there). */
  keep(): void {
    const report = this.report;
    if (!report) return;
    this.logger.info({ recovery: report }, 'recovery report');
    this.store.recordRecovery(report).catch((err: unknown) => this.logger.warn({ err }, 'could not keep the recovery report in the store'));
  }
}
