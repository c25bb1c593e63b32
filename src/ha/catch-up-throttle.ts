// Catch-up that converges (issue 15). A backup catching up from the primary's log must outrun
// what producers add meanwhile, or it never becomes ready and the cluster never regains its
// redundancy. The policy, with its bound:
//   - a catching-up backup is *stalled* when, for --ha-catchup-stall-timeout, its lag (the
//     primary's last LSN less what the backup confirmed) has not reached a new low, or, while it
//     takes a snapshot, nothing more was shipped to it;
//   - a catching-up backup is stalled at once, whatever its progress, while the log the primary
//     keeps for it (written since it joined and not yet sent to it) passes half of --store-log-max-bytes (the retention alarm): a catch-up slower
//     than ingest loses the log it still needs when the log reaches that limit, and starts over
//     from a snapshot, for ever (bench catch-up-cases, 10^6 queued and 4+4 unthrottled: the
//     snapshot ran 97 s at 12 MB/s while ~470 MB of log piled up behind it, past the 256 MiB
//     limit, twice in a row);
//   - while any backup is stalled, the primary withholds credit from every producer for
//     --ha-catchup-share of each second (default 0.25; the first part of each second on the
//     monotonic clock, so that stalls that end and begin again never add up): at most that
//     fraction of the producers' time goes to catch-up, and at least 1 - share stays theirs;
//   - this lasts until no catching-up backup is stalled: each that gains again (a new low) or
//     becomes ready or leaves is no longer counted.
// Pure: (state, observation, now) -> (state, whether producers are paused now). The primary's
// replicator feeds it on a timer of the injected clock and carries the pause out.

export interface CatchUpPolicy {
  /** 0 turns the policy off. */
  readonly stallTimeoutMs: number;
  /** The fraction of each period producers are paused while a backup is stalled (0: never). */
  readonly share: number;
  readonly periodMs: number;
  /** Retained log at which a catch-up counts as stalled (half of --store-log-max-bytes; 0: never). */
  readonly logAlarmBytes: number;
}

/** One catching-up backup as the primary sees it now. */
export interface CatchUpSample {
  readonly name: string;
  readonly snapshot: boolean;
  /** Primary's last LSN minus the LSN the backup confirmed. */
  readonly lag: number;
  readonly shippedBytes: number;
  /** The log the primary keeps for this backup now: written since it joined, not yet sent. */
  readonly retainedLogBytes: number;
}

interface Track {
  readonly bestLag: number;
  readonly shippedBytes: number;
  /** When it last made progress (a new low, or bytes shipped during a snapshot). */
  readonly progressAtMs: number;
}

export interface ThrottleState {
  readonly tracks: ReadonlyMap<string, Track>;
}

export const IDLE_THROTTLE: ThrottleState = { tracks: new Map() };

export interface ThrottleStep {
  readonly state: ThrottleState;
  /** Producers must get no credit now. */
  readonly paused: boolean;
  /** The backups stalled now. */
  readonly stalled: readonly string[];
  /** Those of them stalled by the retention alarm. */
  readonly logAtRisk: readonly string[];
}

export function stepThrottle(state: ThrottleState, samples: readonly CatchUpSample[], nowMs: number, policy: CatchUpPolicy): ThrottleStep {
  const tracks = new Map<string, Track>();
  const stalled: string[] = [];
  const logAtRisk: string[] = [];
  for (const sample of samples) {
    const before = state.tracks.get(sample.name);
    let track: Track;
    if (!before) track = { bestLag: sample.lag, shippedBytes: sample.shippedBytes, progressAtMs: nowMs };
    else {
      const progressed = sample.snapshot ? sample.shippedBytes > before.shippedBytes : sample.lag < before.bestLag;
      track = progressed ? { bestLag: Math.min(before.bestLag, sample.lag), shippedBytes: sample.shippedBytes, progressAtMs: nowMs } : before;
    }
    tracks.set(sample.name, track);
    const atRisk = policy.logAlarmBytes > 0 && sample.retainedLogBytes >= policy.logAlarmBytes;
    if (atRisk) logAtRisk.push(sample.name);
    if (atRisk || (policy.stallTimeoutMs > 0 && nowMs - track.progressAtMs >= policy.stallTimeoutMs)) stalled.push(sample.name);
  }
  const paused = stalled.length > 0 && policy.share > 0 && ((nowMs % policy.periodMs) + policy.periodMs) % policy.periodMs < policy.share * policy.periodMs;
  return { state: { tracks }, paused, stalled, logAtRisk };
}
