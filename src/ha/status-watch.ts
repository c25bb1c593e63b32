// `status` as a long poll: a cluster manager asks with the token of the last status it saw, and
// the answer waits until the broker's role changes (its HA state, its primary connection, its
// epoch) or `waitMs` passes. A manager then hears at once that its backup lost its primary,
// instead of at its next poll: the election after a primary's death waits for exactly those
// reports (manager/step.ts, elect), and polling made every failover wait for them (issue 17).

import type { Clock, TimerHandle } from '../core/clock.js';

/** The most a status answer waits for a change. */
export const STATUS_WAIT_MS_MAX = 10_000;

export interface RoleView {
  readonly state: string;
  readonly connectedToPrimary: boolean;
  readonly epoch: number;
}

/** What a watcher waits to see change. */
export function statusToken(view: RoleView): string {
  return `${view.state}/${view.connectedToPrimary ? 'following' : 'alone'}/${view.epoch}`;
}

export class StatusWatch {
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly clock: Clock,
    private readonly current: () => string,
  ) {}

  /** Resolves once the token differs from `seen`, or after `waitMs`. */
  changed(seen: string, waitMs: number): Promise<void> {
    if (this.current() !== seen || waitMs <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | null = null;
      const done = (): void => {
        timer?.cancel();
        this.waiters.delete(check);
        resolve();
      };
      const check = (): void => {
        if (this.current() !== seen) done();
      };
      this.waiters.add(check);
      timer = this.clock.setTimer(Math.min(waitMs, STATUS_WAIT_MS_MAX), done);
    });
  }

  /** Something a token is made of may have changed. */
  notify(): void {
    for (const check of [...this.waiters]) check();
  }
}
