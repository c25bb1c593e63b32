// Carries out catch-up-throttle.ts on a primary: samples the catching-up backups on a timer of
// the injected clock, pauses and resumes producers as the policy says, and logs each stall and
// its end once.

import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { IDLE_THROTTLE, stepThrottle, type CatchUpPolicy, type CatchUpSample, type ThrottleState } from './catch-up-throttle.js';

export interface CatchUpGovernorDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly policy: CatchUpPolicy;
  /** The backups catching up now. */
  readonly samples: () => CatchUpSample[];
  /** Withholds credit from every producer (a reason), or gives it back (null). */
  readonly pauseProducers: (reason: string | null) => void;
}

/** How often the backups are sampled: the pause is cut to this granularity. */
const TICK_MS = 50;

export class CatchUpGovernor {
  private state: ThrottleState = IDLE_THROTTLE;
  private timer: TimerHandle | null = null;
  private paused = false;
  private stalled: readonly string[] = [];
  private stopped = false;

  constructor(private readonly deps: CatchUpGovernorDeps) {}

  /** A backup started catching up: sampling runs until none is. */
  wake(): void {
    if (this.timer || this.stopped || this.deps.policy.stallTimeoutMs <= 0 || this.deps.policy.share <= 0) return;
    this.timer = this.deps.clock.setTimer(TICK_MS, () => this.tick());
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    this.setPaused(false, []);
  }

  private tick(): void {
    this.timer = null;
    if (this.stopped) return;
    const samples = this.deps.samples();
    const step = stepThrottle(this.state, samples, this.deps.clock.monotonicMs(), this.deps.policy);
    this.state = step.state;
    if (step.stalled.length > 0 && this.stalled.length === 0) {
      this.deps.logger.warn(
        { backups: step.stalled, logAtRisk: step.logAtRisk, stallTimeoutMs: this.deps.policy.stallTimeoutMs, logAlarmBytes: this.deps.policy.logAlarmBytes, share: this.deps.policy.share },
        'catch-up stalled: producers get no credit for --ha-catchup-share of each second until the backup gains',
      );
    } else if (step.stalled.length === 0 && this.stalled.length > 0) {
      this.deps.logger.info({ backups: this.stalled }, 'catch-up gaining again: producers unthrottled');
    }
    this.setPaused(step.paused, step.stalled);
    if (samples.length > 0 || this.paused) this.wake();
  }

  private setPaused(paused: boolean, stalled: readonly string[]): void {
    this.stalled = stalled;
    if (paused === this.paused) return;
    this.paused = paused;
    this.deps.pauseProducers(paused ? `backup ${stalled.join(', ')} is not catching up (--ha-catchup-stall-timeout)` : null);
  }
}
