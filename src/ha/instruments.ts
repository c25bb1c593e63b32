// Where the HA driver reports latencies for the metrics (src/management/metrics.ts): plain
// callbacks, no-ops until the metrics are set up, so that the HA code knows nothing of
// Prometheus and costs one call per observation. Observations are made by drivers
// (settlements.ts, primary.ts), never by the pure state machines.

export class HaInstruments {
  /** False until the metrics are set up: the drivers then take no timestamps at all. */
  enabled = false;
  /** Seconds from a producer's delivery being accepted by the broker to its settlement (0 when
   * it was settled at once). Called once per settled delivery: keep it O(1). */
  settleLatency: (seconds: number) => void = () => {};
  /** Seconds from a log batch being shipped to a backup to the backup confirming it. Called
   * once per confirmed batch. */
  confirmLatency: (backup: string, seconds: number) => void = () => {};
}
