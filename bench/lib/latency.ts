// Latency recording on an HDR histogram: values are recorded in microseconds (integers, 3
// significant digits) and reported in milliseconds, so that sub-millisecond loopback latencies
// keep their resolution and a multi-second stall still fits.
import * as hdr from 'hdr-histogram-js';

export interface LatencySummaryMs {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export class LatencyRecorder {
  private readonly histogram = hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000, // one hour in µs
    numberOfSignificantValueDigits: 3,
    autoResize: false,
  });

  recordMs(latencyMs: number): void {
    const us = Math.round(latencyMs * 1000);
    this.histogram.recordValue(us < 1 ? 1 : us > 3_600_000_000 ? 3_600_000_000 : us);
  }

  summary(): LatencySummaryMs {
    const h = this.histogram;
    const ms = (us: number): number => Math.round(us) / 1000;
    if (h.totalCount === 0) return { count: 0, p50: 0, p99: 0, p999: 0, max: 0, mean: 0 };
    return {
      count: h.totalCount,
      p50: ms(h.getValueAtPercentile(50)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      max: ms(h.maxValue),
      mean: ms(h.mean),
    };
  }
}
