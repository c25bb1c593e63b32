// Drives a primary's serving lease (serving-lease.ts) on the injected clock: when the deadline
// passes it suspends settlement (the ack gate settles nothing) and pauses every producer (no new
// credit); a renewal resumes both. The lease lives as long as the process: a broker promoted
// with a lease keeps obeying one until it stops.

import { BrokerError } from '../broker/errors.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { ProducerPauses } from './producer-pauses.js';
import { ServingLease } from './serving-lease.js';
import type { Settlements } from './settlements.js';

/** What an expired lease stops: the primary's settlement and its producers' credit. */
export interface LeaseTarget {
  readonly settlements: Settlements;
  readonly pauses: ProducerPauses;
}

export interface LeaseStatus {
  /** Ms left before the primary stops settling (0 once it has). */
  readonly remainingMs: number;
  readonly expired: boolean;
}

/** The longest lease a manager may set: a typo must not leave a primary serving for a day
 * after its manager is gone. */
export const LEASE_SECONDS_MAX = 3600;

export class LeaseKeeper {
  private readonly lease = new ServingLease();
  private timer: TimerHandle | null = null;
  private target: LeaseTarget | null = null;
  private suspended = false;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** A grant: serving may go on for `seconds` from now, under lease `id`; with `sinceMs` (this
   * lease clock as a status showed it to the manager, which decided the grant on that status),
   * for `seconds` from then. A grant held up on its way (the broker was stopped, its socket
   * full) then starts no later than the status it was decided on, so it ends no later than the
   * manager's timing argument allows; one that arrives after that has already expired (the
   * simulator, etcd seed 17697: a grant sent just after a SIGSTOP gave the thawed primary a full
   * second from its thaw, and it could still settle for 172 ms after another manager took the
   * leader key). */
  grant(seconds: number, id: string | null = null, sinceMs?: number): LeaseStatus {
    this.check();
    const nowMs = this.clock.monotonicMs();
    // Ahead of this clock: a status of an earlier process of this broker (the manager lengthens a
    // grant by its status's age, which is only safe counted from that status). Refused; the
    // manager grants again on a fresh status.
    if (sinceMs !== undefined && sinceMs > nowMs) throw new BrokerError('NOT_ALLOWED', `lease: since ${Math.round(sinceMs)} is ahead of this broker's lease clock (${Math.round(nowMs)}): a status from before it restarted; grant again on a fresh status`);
    this.lease.grant(sinceMs ?? nowMs, seconds * 1000, id);
    this.check();
    return this.status() as LeaseStatus;
  }

  /** An extension of lease `id` to its grant's deadline + `offsetMs`; refused (NOT_ALLOWED) when
   * the lease has expired or was replaced. */
  extend(id: string, offsetMs: number, remainingMs?: number): LeaseStatus {
    // The deadline is looked at before the extension: one that arrives late finds it passed.
    this.check();
    const outcome = this.lease.extend(this.clock.monotonicMs(), id, offsetMs, remainingMs);
    if (outcome !== 'extended') throw new BrokerError('NOT_ALLOWED', outcome === 'expired' ? `lease: lease ${id} has expired; only a new grant (--seconds) can restart serving` : `lease: lease ${id} is not the current lease`);
    this.check();
    return this.status() as LeaseStatus;
  }

  /** The lease clock now (ms): the status shows it, and a manager's grant names it back. */
  clockMs(): number {
    return this.clock.monotonicMs();
  }

  /** The primary started serving (or stopped: null); an expired lease applies to it at once. */
  attach(target: LeaseTarget | null): void {
    this.target?.settlements.setGuard(null);
    this.target = target;
    this.suspended = false;
    if (!target) return;
    // Settling asks first whether the deadline has passed, whatever the timer says.
    target.settlements.setGuard(() => {
      if (!this.suspended && this.lease.expired(this.clock.monotonicMs())) this.check();
    });
    this.check();
  }

  status(): LeaseStatus | null {
    const remainingMs = this.lease.remainingMs(this.clock.monotonicMs());
    return remainingMs === null ? null : { remainingMs: Math.round(remainingMs), expired: remainingMs === 0 };
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private check(): void {
    const now = this.clock.monotonicMs();
    // Under a manager's lease a ready backup's departure is recorded in etcd before anything
    // settles without it (ack-gate.ts): the manager's election reads that record.
    if (this.target && this.lease.isSet) this.target.settlements.requireRecordedDepartures();
    const expired = this.lease.expired(now);
    const target = this.target;
    if (target && expired !== this.suspended) {
      this.suspended = expired;
      if (expired) this.logger.warn({}, 'serving lease expired: no producer is settled or given credit until the cluster manager renews it');
      else this.logger.info({ remainingMs: this.lease.remainingMs(now) }, 'serving lease renewed: settling producers again');
      target.pauses.set('lease', expired ? 'the serving lease expired (qpid-ha lease)' : null);
      target.settlements.setServing(!expired);
    }
    this.timer?.cancel();
    this.timer = null;
    const remainingMs = this.lease.remainingMs(now);
    // One timer at the deadline (+1 ms: the clock's time must have reached it).
    if (!expired && remainingMs !== null) this.timer = this.clock.setTimer(remainingMs + 1, () => this.check());
  }
}
