// Producer links: a client's sending link. Each transfer is scanned (never re-encoded),
// published to the broker, and settled through the Settlements service: that is the only path
// by which a producer hears `accepted` (STYLE.md 2). Credit is the link's window minus the
// deliveries still waiting for their settlement, so a slow disk or a slow backup slows the
// producer instead of growing memory.

import type { Delivery, Receiver } from 'rhea';
import type { Broker, PublishTarget, UnroutablePolicy } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import type { Clock } from '../core/clock.js';
import { conditionFor } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { HoldKey } from '../ha/ack-gate.js';
import type { Settlements } from '../ha/settlements.js';
import { findNode } from './address.js';
import { MessageFormatError, scanMessage } from './message-format.js';
import type { ScanLimits } from './value-scan.js';

export interface AmqpErrorBody {
  condition: string;
  description: string;
}

export function errorBody(err: unknown): AmqpErrorBody {
  if (err instanceof BrokerError) return { condition: conditionFor(err.code), description: err.message };
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') return { condition: conditionFor(code), description: (err as Error).message };
  return { condition: 'amqp:internal-error', description: err instanceof Error ? err.message : String(err) };
}

export class ProducerLink {
  private waiting = 0;
  private readonly holds = new Set<HoldKey>();
  private closed = false;

  constructor(
    private readonly broker: Broker,
    private readonly settlements: Settlements,
    private readonly receiver: Receiver,
    /** null: the anonymous relay; each message's `to` names its node. */
    private readonly target: PublishTarget | null,
    private readonly options: { window: number; unroutable: UnroutablePolicy; clock: Clock; logger: Logger; decode: ScanLimits },
  ) {
    this.topUpCredit();
  }

  onMessage(raw: Buffer, delivery: Delivery): void {
    // rhea hands us a view into its read buffer; the message outlives it.
    const body = Buffer.from(raw);
    let outcome: ReturnType<Broker['publish']>;
    try {
      const scanned = scanMessage(body, this.options.decode);
      const target = this.target ?? this.anonymousTarget(scanned.to);
      const now = this.options.clock.nowMs();
      const expiresAtMs = scanned.ttlMs !== null ? now + scanned.ttlMs : scanned.absoluteExpiryMs;
      outcome = this.broker.publish(target, {
        body,
        durable: scanned.durable,
        expiresAtMs,
        subject: scanned.subject,
        applicationProperties: scanned.applicationProperties,
      });
    } catch (err) {
      if (err instanceof MessageFormatError) {
        this.options.logger.warn({ err: err.message }, 'malformed message rejected');
        outcome = { kind: 'rejected', error: new BrokerError('DECODE_ERROR', `malformed message: ${err.message}`) };
      } else if (err instanceof BrokerError) {
        outcome = { kind: 'rejected', error: err };
      } else {
        throw err;
      }
    }
    const presettled = (delivery as unknown as { remote_settled?: boolean }).remote_settled === true;
    switch (outcome.kind) {
      case 'rejected':
        if (!presettled) delivery.reject(errorBody(outcome.error));
        this.topUpCredit();
        return;
      case 'released':
        if (!presettled) delivery.release({});
        this.topUpCredit();
        return;
      case 'accepted':
        break;
    }
    if (presettled) {
      this.topUpCredit();
      return;
    }
    this.waiting++;
    let key: HoldKey | null = null;
    key = this.settlements.hold(outcome.hold, {
      settle: () => {
        if (key !== null) this.holds.delete(key);
        this.waiting--;
        if (!this.closed) delivery.accept();
        this.topUpCredit();
      },
      fail: (err) => {
        if (key !== null) this.holds.delete(key);
        this.waiting--;
        if (!this.closed) delivery.reject(errorBody(err));
        this.topUpCredit();
      },
    });
    if (key !== null) this.holds.add(key);
  }

  /** The anonymous relay (null target address): the message's `to` names the node. */
  private anonymousTarget(to: string | null): PublishTarget {
    if (to === null || to === '') throw new BrokerError('NOT_FOUND', 'message to the anonymous relay has no "to" address');
    const node = findNode(this.broker, to);
    if (!node) throw new BrokerError('NOT_FOUND', `no queue or exchange named ${to}`);
    return node.kind === 'queue' ? node : { ...node, unroutable: this.options.unroutable };
  }

  private topUpCredit(): void {
    if (this.closed) return;
    const outstanding = (this.receiver as unknown as { credit: number }).credit + this.waiting;
    const grant = this.options.window - outstanding;
    // Grant in chunks so that flow frames stay rare.
    if (grant >= Math.max(1, this.options.window / 4)) this.receiver.add_credit(grant);
  }

  /** The link or connection closed: its deliveries can no longer be settled. */
  close(): void {
    this.closed = true;
    for (const key of this.holds) this.settlements.cancel(key);
    this.holds.clear();
  }
}
