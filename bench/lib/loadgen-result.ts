// The one JSON object the load generator prints on stdout when it ends. Rates are over the
// measurement window only (after warm-up, before drain); counts are over the whole run, so that
// the loss check covers warm-up messages too.
import type { LatencySummaryMs } from './latency.js';
import type { LoadgenOptions } from './loadgen-options.js';
import type { TimelineData } from './timeline.js';

export interface LoadgenCounts {
  readonly sent: number;
  /** Settled as accepted by the server (at-least-once), or sent pre-settled (at-most-once). */
  readonly accepted: number;
  readonly rejected: number;
  /** Released or modified: the server gave the message back; it is not counted as accepted. */
  readonly released: number;
  /** Sent and never settled by the end of the drain. */
  readonly unsettled: number;
  readonly received: number;
  /** Accepted (or pre-settled) and never received. Only a failure for at-least-once. */
  readonly lost: number;
  readonly duplicates: number;
  /** Received messages that this run did not send. */
  readonly foreign: number;
}

export interface LoadgenResult {
  readonly msg: 'loadgen result';
  readonly params: LoadgenOptions & { readonly messageBytes: number; readonly queueNames: readonly string[] };
  /** Messages flowed, nothing was lost (checked for at-least-once only) and the drain completed. */
  readonly ok: boolean;
  readonly lossChecked: boolean;
  readonly measuredS: number;
  readonly sentMsgsPerS: number;
  readonly acceptedMsgsPerS: number;
  readonly receivedMsgsPerS: number;
  readonly receivedMiBPerS: number;
  readonly latencyMs: {
    /** Producer send to consumer receipt, for messages received in the window. */
    readonly endToEnd: LatencySummaryMs;
    /** Producer send to the server's accepted disposition, for deliveries settled in the window. */
    readonly settle: LatencySummaryMs;
  };
  readonly counts: LoadgenCounts;
  readonly drained: boolean;
  readonly drainMs: number;
  readonly errors: number;
  /** The first few error descriptions, for a human reading the output. */
  readonly errorSamples: readonly string[];
  /** Accepted and received messages per 100 ms from the first send, on the machine-wide clock
   * (epoch ms), so a harness can cut out the rate during an event it caused (a catch-up). */
  readonly timeline: TimelineData;
  /** The load generator's own CPU over the run; near 100 means it, not the server, may be the limit. */
  readonly cpu: { readonly userS: number; readonly systemS: number; readonly pctOfCore: number };
}
