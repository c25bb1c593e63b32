// The one path by which a producer hears `accepted` (STYLE.md 2, DESIGN.md §5): a publish's
// outcome is answered at once when it is a refusal (rejected, released) or the delivery was
// pre-settled, and otherwise only when Settlements says the message is safe (durable here and on
// every backup of the ack gate, or consumed). No AMQP library here: the AMQP adapter
// (src/amqp/inbound.ts) and the simulator's server (test/sim/server.ts) both answer through it,
// so the rule the simulator checks is the production one.

import type { PublishOutcome } from '../broker/broker.js';
import type { HoldKey } from './ack-gate.js';
import type { Settlements } from './settlements.js';

/** How a delivery is answered (the adapter turns these into dispositions). */
export interface DeliveryAnswer {
  accept(): void;
  reject(error: unknown): void;
  release(): void;
}

export class ProducerSettlement {
  private waitingCount = 0;
  private readonly holds = new Set<HoldKey>();
  private closed = false;

  constructor(
    private readonly settlements: Settlements,
    /** After every answer: the adapter may give the producer credit again. */
    private readonly answered: () => void,
  ) {}

  /** Deliveries published and not yet answered. */
  get waiting(): number {
    return this.waitingCount;
  }

  /** Answers the delivery whose publish had `outcome` (`presettled`: the producer wants no
   * answer; it is never acknowledged). */
  settle(outcome: PublishOutcome, presettled: boolean, answer: DeliveryAnswer): void {
    if (outcome.kind !== 'accepted' || presettled) {
      if (!presettled && outcome.kind === 'rejected') answer.reject(outcome.error);
      if (!presettled && outcome.kind === 'released') answer.release();
      this.answered();
      return;
    }
    this.waitingCount++;
    const held = new HeldDelivery(this, answer);
    held.key = this.settlements.hold(outcome.hold, held);
    if (held.key !== null) this.holds.add(held.key);
  }

  /** A held delivery was answered (settled or failed): it no longer counts. */
  answeredHeld(key: HoldKey | null): void {
    if (key !== null) this.holds.delete(key);
    this.waitingCount--;
    this.answered();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The link or connection closed: its deliveries can no longer be answered. */
  close(): void {
    this.closed = true;
    for (const key of this.holds) this.settlements.cancel(key);
    this.holds.clear();
  }
}

/** One delivery waiting for the ack gate: its own settle and fail, so that holding a delivery
 * costs one object and no closures (issue 14: per-delivery garbage on the durable path). */
class HeldDelivery {
  key: HoldKey | null = null;

  constructor(
    private readonly owner: ProducerSettlement,
    private readonly answer: DeliveryAnswer,
  ) {}

  settle(): void {
    if (!this.owner.isClosed) this.answer.accept();
    this.owner.answeredHeld(this.key);
  }

  fail(err: unknown): void {
    if (!this.owner.isClosed) this.answer.reject(err);
    this.owner.answeredHeld(this.key);
  }
}
