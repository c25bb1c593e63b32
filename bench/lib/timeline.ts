// Counts per time bucket, on the wall clock shared by every process on the machine (epoch ms from
// performance.timeOrigin), so that a harness can ask a load process "how many messages were
// accepted between the moment I started a backup and the moment it was ready" after the fact.
// Pure bookkeeping: the caller passes the times in.

export interface TimelineData {
  /** Epoch ms at the start of bucket 0. */
  readonly startEpochMs: number;
  readonly bucketMs: number;
  /** Count per bucket, one array per series (e.g. accepted, received). */
  readonly series: Readonly<Record<string, readonly number[]>>;
}

/** Now on the machine-wide clock, in ms, with sub-ms resolution (comparable across processes). */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

export class Timeline {
  private readonly counts = new Map<string, number[]>();

  constructor(
    readonly startEpochMs: number,
    readonly bucketMs: number,
    seriesNames: readonly string[],
  ) {
    for (const name of seriesNames) this.counts.set(name, []);
  }

  add(series: string, atEpochMs: number, count = 1): void {
    const buckets = this.counts.get(series);
    if (!buckets) throw new Error(`timeline: no series ${series}`);
    const index = Math.floor((atEpochMs - this.startEpochMs) / this.bucketMs);
    if (index < 0) return;
    while (buckets.length <= index) buckets.push(0);
    buckets[index] = (buckets[index] as number) + count;
  }

  data(): TimelineData {
    return { startEpochMs: this.startEpochMs, bucketMs: this.bucketMs, series: Object.fromEntries(this.counts) };
  }
}

/**
 * The rate (per second) of one series between two epoch times, counting the buckets that lie
 * wholly inside [fromMs, toMs) (a partial bucket at either end is left out, so a short window is
 * not biased by where its edges fall); null when no whole bucket fits.
 */
export function timelineRate(timeline: TimelineData, series: string, fromMs: number, toMs: number): number | null {
  const buckets = timeline.series[series];
  if (!buckets) return null;
  const first = Math.ceil((fromMs - timeline.startEpochMs) / timeline.bucketMs);
  const end = Math.floor((toMs - timeline.startEpochMs) / timeline.bucketMs);
  if (end <= first || first < 0) return null;
  let total = 0;
  for (let i = first; i < end; i++) total += buckets[i] ?? 0;
  return total / (((end - first) * timeline.bucketMs) / 1000);
}

/**
 * The longest run of empty buckets of one series wholly inside [fromMs, toMs), in ms: how long
 * producers went without a single settlement while a backup was frozen, say. 0 when every bucket
 * counted something; null when no whole bucket fits.
 */
export function longestGapMs(timeline: TimelineData, series: string, fromMs: number, toMs: number): number | null {
  const buckets = timeline.series[series];
  if (!buckets) return null;
  const first = Math.ceil((fromMs - timeline.startEpochMs) / timeline.bucketMs);
  const end = Math.floor((toMs - timeline.startEpochMs) / timeline.bucketMs);
  if (end <= first || first < 0) return null;
  let longest = 0;
  let run = 0;
  for (let i = first; i < end; i++) {
    run = (buckets[i] ?? 0) === 0 ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest * timeline.bucketMs;
}
