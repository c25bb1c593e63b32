// What a broker recovered when it opened its store, and what it lost (NATS's LostStreamData is
// the model: report lost data, never hide it). The broker fills it in after every open and after
// every message it has to quarantine; the store keeps the last one in meta ('recovery') so that
// `qpid-store inspect` shows it for a stopped store too.

/** A message taken off its queue because it could not be delivered unaltered. */
export interface LostMessage {
  readonly queue: string;
  readonly position: number;
  readonly messageId: number;
  readonly reason: string;
}

/** A row of the quarantine table: the message as found, and what is wrong with it. */
export interface QuarantinedMessage {
  readonly queue: string;
  readonly position: number;
  readonly messageId: number;
  readonly problem: string;
}

export type VerifyLevel = 'none' | 'quick' | 'full';

export interface RecoveryReport {
  /** Wall-clock time of the open (ms since the Unix epoch). */
  readonly atMs: number;
  readonly verify: VerifyLevel;
  readonly queues: number;
  readonly messages: number;
  readonly bytes: number;
  readonly firstLsn: number;
  readonly lastLsn: number;
  readonly epoch: number;
  /** What recovery removed on purpose, each with why (non-durable queues and exchanges after a
   * local restart, transient messages). */
  readonly dropped: ReadonlyArray<{ readonly what: string; readonly reason: string }>;
  /** Messages lost to corruption since the open (at most LOST_LISTED_MAX of them). */
  readonly lost: readonly LostMessage[];
  readonly lostCount: number;
}

/** The report lists this many lost messages at most; lostCount counts them all. */
export const LOST_LISTED_MAX = 1000;

export function withLost(report: RecoveryReport, lost: LostMessage): RecoveryReport {
  return { ...report, lost: report.lost.length < LOST_LISTED_MAX ? [...report.lost, lost] : report.lost, lostCount: report.lostCount + 1 };
}
