// What a broker has heard of the cluster beyond its own store (issue 15, "a store that knows it
// is behind"): the highest (epoch, LSN) a primary announced to it. A broker that dies first
// cannot know what happened after, but one that heard of LSNs it never stored (it was catching
// up, or the primary took it out of the ack gate) must not forget them: promoted alone, it would
// lose what was settled without it. Pure: the record is kept by heard-file.ts.

/** A primary's position as a backup heard it. */
export interface Heard {
  readonly epoch: number;
  readonly lsn: number;
  /** The address of the primary that announced it, when known: the one broker whose silence
   * need not block the liveness rule (promote-checks.ts), for its store is not a backup's. */
  readonly primary?: string;
}

/** The later of two positions: a higher epoch wins, then a higher LSN. */
export function laterHeard(a: Heard | null, b: Heard | null): Heard | null {
  if (a === null) return b;
  if (b === null) return a;
  if (a.epoch !== b.epoch) return a.epoch > b.epoch ? a : b;
  return a.lsn >= b.lsn ? a : b;
}

/** Why the store (ending at `lastLsn`, its latest epoch `epoch`) is behind what it heard, or
 * null when it is not. A primary of a later epoch than the store holds counts as ahead only when
 * it had reached beyond the store's end (its epoch record alone settles nothing). */
export function behindHeard(store: { readonly epoch: number; readonly lastLsn: number }, heard: Heard | null): string | null {
  if (heard === null || heard.lsn <= store.lastLsn) return null;
  if (heard.epoch < store.epoch) return null;
  return `this store ends at LSN ${store.lastLsn.toLocaleString('en-US')}; the primary of epoch ${heard.epoch} had reached ${heard.lsn.toLocaleString('en-US')}`;
}
