// What the broker's own cluster manager (qpid-ha-manager, beside it on its host) last told it:
// who leads the cluster and the manager's last decision with its reason (issue 18's cluster
// view shows them beside each broker). The broker only displays this; nothing it decides reads
// it. A manager reports on every decision and at least every second, so a report older than
// STALE_MS means the manager has stopped (or cannot reach its broker), and the view says so.
import { z } from 'zod';
import type { HaStatus } from '../ha/node.js';

/** A report is shown as stale once this old: a live manager reports every second. */
export const MANAGER_REPORT_STALE_MS = 5000;

export const ManagerReportInput = z
  .object({
    manager: z.string().min(1).max(200),
    leader: z.string().min(1).max(200).nullable(),
    leading: z.boolean(),
    paused: z.boolean().default(false),
    decision: z
      .object({
        decision: z.string().min(1).max(200),
        reason: z.string().max(1000),
        at: z.string().max(40),
      })
      .strict()
      .nullable(),
  })
  .strict();
export type ManagerReportInput = z.infer<typeof ManagerReportInput>;

/** A report as `status` shows it: with when it arrived and whether it is stale. */
export interface ManagerReport extends ManagerReportInput {
  readonly reportedAt: string;
  readonly ageMs: number;
  readonly stale: boolean;
}

/** A broker's answer to `status`: its HA status and its manager's last report. */
export type StatusWithManager = HaStatus & { readonly manager?: ManagerReport | null };

/** What the cluster view shows of a report: without its age, which changes at every poll. */
export function managerSummary(report: ManagerReport | null | undefined): Omit<ManagerReport, 'ageMs'> | null {
  if (!report) return null;
  const { ageMs: _age, ...summary } = report;
  return summary;
}

export class ManagerReports {
  private last: { input: ManagerReportInput; atMs: number } | null = null;

  constructor(private readonly nowMs: () => number = Date.now) {}

  record(input: ManagerReportInput): void {
    this.last = { input, atMs: this.nowMs() };
  }

  view(): ManagerReport | null {
    if (!this.last) return null;
    const ageMs = Math.max(0, this.nowMs() - this.last.atMs);
    return { ...this.last.input, reportedAt: new Date(this.last.atMs).toISOString(), ageMs, stale: ageMs > MANAGER_REPORT_STALE_MS };
  }
}
