// A primary's look, every heartbeat interval, at the brokers of --ha-brokers-url that are not
// its backups: if one of them is a primary of a higher epoch, this one is stale and must stop
// (the backups would refuse it anyway; its clients must not be served either). DESIGN.md §3.
// The epoch rule that keeps two promotions apart is here too (nextEpoch).

import type { Clock, TimerHandle } from '../core/clock.js';
import { formatAddress, type QpidAddress } from '../core/qpid-url.js';
import type { HaStatus } from './status.js';

export interface FencingProbeDeps {
  readonly clock: Clock;
  readonly intervalMs: number;
  /** Every broker of --ha-brokers-url. */
  readonly brokers: readonly QpidAddress[];
  readonly ownAddress: string | null;
  readonly ownStoreId: () => string;
  /** The primary's epoch and the addresses of its connected backups, or null once it stopped
   * being primary (the probe then ends). */
  readonly primary: () => { readonly epoch: number; readonly backupAddresses: ReadonlySet<string | null> } | null;
  readonly probe: (address: QpidAddress) => Promise<HaStatus | null>;
  readonly fenced: (reason: string) => void;
}

export class FencingProbe {
  private timer: TimerHandle | null = null;

  constructor(private readonly deps: FencingProbeDeps) {
    this.timer = deps.clock.setTimer(deps.intervalMs, () => void this.tick());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private async tick(): Promise<void> {
    const { deps } = this;
    const primary = deps.primary();
    if (!primary) return;
    const others = deps.brokers.filter((a) => formatAddress(a) !== deps.ownAddress && !primary.backupAddresses.has(formatAddress(a)));
    for (const address of others) {
      const status = await deps.probe(address).catch(() => null);
      if (!deps.primary() || !this.timer) return;
      if (status && status.storeId !== deps.ownStoreId() && status.epoch > primary.epoch) {
        deps.fenced(`${status.name} (${formatAddress(address)}) is ${status.state} with epoch ${status.epoch}, ours is ${primary.epoch}`);
        return;
      }
    }
    if (deps.primary() && this.timer) this.timer = deps.clock.setTimer(deps.intervalMs, () => void this.tick());
  }
}

/** The first epoch above `seen` that belongs to this broker: epoch % brokers === index. Two
 * brokers promoted without hearing of each other (a cluster manager that promotes while the old
 * primary lives on, or gives up waiting for a silent broker) must never share an epoch, or
 * fencing cannot tell their histories apart (found by the simulator, seed 17: two primaries of
 * epoch 3 served clients side by side, neither fenced). Without an index (own address not in
 * ha-brokers-url) it is seen + 1, as before. */
export function nextEpoch(seen: number, index: number, brokers: number): number {
  const base = seen + 1;
  if (index < 0 || brokers <= 1) return base;
  return base + ((((index - base) % brokers) + brokers) % brokers);
}
