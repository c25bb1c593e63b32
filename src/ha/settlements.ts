// The one place producers' deliveries and configuration changes are settled (STYLE.md 2).
// It feeds the ack gate (ack-gate.ts, pure) with the events that release holds: local commits
// becoming durable, backups confirming LSNs, messages being consumed, backups joining and
// leaving, the gate opening when a recovering primary becomes active; and it calls each hold's
// settle (or fail) callback when the gate says so.

import type { Store } from '../../store/index.js';
import type { SettlementHold } from '../broker/broker.js';
import type { Logger } from '../core/log.js';
import { AckGate, type HoldKey } from './ack-gate.js';
import { HaInstruments } from './instruments.js';

export interface HoldCallbacks {
  settle(): void;
  fail(err: unknown): void;
}

export class Settlements {
  readonly gate: AckGate;
  private readonly callbacks = new Map<HoldKey, HoldCallbacks>();
  /** When each waiting hold was taken (performance.now() ms), for the settle latency. */
  private readonly heldAtMs = new Map<HoldKey, number>();
  private readonly instruments: HaInstruments;
  private readonly logger: Logger;

  /** Runs before anything may settle (the serving lease's check of its deadline): a timer alone
   * is not enough, since after a pause (SIGSTOP, a VM freeze) the event loop may deliver a
   * backup's confirmation before the overdue deadline's timer. */
  private guard: (() => void) | null = null;

  private readonly unsubscribe: () => void;
  private readonly unsubscribeRollback: () => void;

  constructor(options: { open: boolean; logger: Logger; store: Store; minBackups?: number; instruments?: HaInstruments }) {
    this.gate = new AckGate({ open: options.open, minMembers: options.minBackups ?? 0 });
    this.logger = options.logger;
    this.instruments = options.instruments ?? new HaInstruments();
    // One durability signal per group commit, instead of a promise per held delivery.
    this.unsubscribe = options.store.onDurable((lsn) => {
      this.guard?.();
      this.release(this.gate.durable(lsn));
    });
    // A failed commit's LSNs are reused (store contract): the gate forgets them first, or a
    // hold on a reused LSN would arrive behind the failed ones (issue 19: on a full disk the
    // broker died on "ack gate: hold LSN 1002 after 2001").
    this.unsubscribeRollback = options.store.onRollback((lsn) => this.gate.rolledBack(lsn));
  }

  /** Stops following the store (the service is being torn down). */
  close(): void {
    this.unsubscribe();
    this.unsubscribeRollback();
  }

  get pending(): number {
    return this.callbacks.size;
  }

  /** Waits for the hold's conditions, then calls settle (or fail if its commit failed).
   * Returns the key (to cancel) or null when it was settled at once. */
  hold(hold: SettlementHold, callbacks: HoldCallbacks): HoldKey | null {
    this.guard?.();
    const { key, settleNow } = this.gate.hold({ lsn: hold.lsn, needsDurable: hold.needsDurable, messageId: hold.messageId, replicated: hold.replicated ?? true });
    if (settleNow) {
      if (this.instruments.enabled) this.instruments.settleLatency(0);
      callbacks.settle();
      return null;
    }
    this.callbacks.set(key, callbacks);
    if (this.instruments.enabled) this.heldAtMs.set(key, performance.now());
    // A failed commit fails its hold: for messages the broker reports it (messageFailed, from
    // the catch it already has on the enqueue); other holds (configuration) watch their ticket.
    if (hold.ticket && hold.messageId === 0) hold.ticket.durable.catch((err: unknown) => this.failHold(key, err));
    return key;
  }

  cancel(key: HoldKey): void {
    this.gate.cancel(key);
    this.callbacks.delete(key);
    this.heldAtMs.delete(key);
  }

  /** The message's enqueue failed in the store: its producer is told so. */
  messageFailed(messageId: number, err: unknown): void {
    for (const key of this.gate.holdsOf(messageId)) this.failHold(key, err);
  }

  messageResolved(messageId: number): void {
    this.guard?.();
    this.release(this.gate.messageResolved(messageId));
  }

  backupConfirmed(backup: string, lsn: number): void {
    this.guard?.();
    this.release(this.gate.confirmed(backup, lsn));
  }

  /** A backup enters the gate at `gateLsn`, having confirmed `confirmedLsn` (ack-gate.ts). */
  addBackup(backup: string, gateLsn: number, confirmedLsn: number): void {
    this.guard?.();
    this.release(this.gate.addMember(backup, gateLsn, confirmedLsn));
  }

  /** `wasReady`: the backup was ready (promotable) when it left (ack-gate.ts, recorded departures). */
  removeBackup(backup: string, wasReady = false): void {
    this.guard?.();
    this.release(this.gate.removeMember(backup, wasReady));
  }

  /** A cluster manager leases this primary: ready backups' departures must be recorded in etcd. */
  requireRecordedDepartures(): void {
    this.gate.requireRecordedDepartures();
  }

  /** The manager says etcd records the gate as of `generation`. */
  departuresRecorded(generation: number): void {
    this.guard?.();
    this.release(this.gate.departuresRecorded(generation));
  }

  setOpen(open: boolean): void {
    this.guard?.();
    this.release(this.gate.setOpen(open));
  }

  /** Called before every settling step (at most one guard: the primary's serving lease). */
  setGuard(guard: (() => void) | null): void {
    this.guard = guard;
  }

  /** The serving lease expired (false) or was renewed (true). */
  setServing(serving: boolean): void {
    this.release(this.gate.setServing(serving));
  }

  /** A commit that is durable but held no settlement (e.g. the local store's own progress). */
  durable(lsn: number): void {
    this.guard?.();
    this.release(this.gate.durable(lsn));
  }

  private failHold(key: HoldKey, err: unknown): void {
    const callbacks = this.callbacks.get(key);
    this.gate.cancel(key);
    this.callbacks.delete(key);
    this.heldAtMs.delete(key);
    callbacks?.fail(err);
  }

  private release(keys: readonly HoldKey[]): void {
    for (const key of keys) {
      const callbacks = this.callbacks.get(key);
      if (!callbacks) continue;
      this.callbacks.delete(key);
      const heldAtMs = this.instruments.enabled ? this.heldAtMs.get(key) : undefined;
      if (heldAtMs !== undefined) {
        this.heldAtMs.delete(key);
        this.instruments.settleLatency((performance.now() - heldAtMs) / 1000);
      }
      try {
        callbacks.settle();
      } catch (err) {
        this.logger.error({ err }, 'settle callback failed');
      }
    }
  }
}
