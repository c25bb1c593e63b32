// Producer links: a client's sending link. Each transfer is scanned (never re-encoded),
// published to the broker, and settled through the Settlements service: that is the only path
// by which a producer hears `accepted` (STYLE.md 2). Credit is the link's window minus the
// deliveries still waiting for their settlement, so a slow disk or a slow backup slows the
// producer instead of growing memory.

import type { Delivery, Receiver } from 'rhea';
import type { Broker, IncomingMessage, PublishTarget, UnroutablePolicy } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import type { Clock } from '../core/clock.js';
import { conditionFor } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { ProducerSettlement, type DeliveryAnswer } from '../ha/producer-settlement.js';
import type { Settlements } from '../ha/settlements.js';
import { findNode } from './address.js';
import { MessageFormatError, scanMessage } from './message-format.js';
import { dedupKeyOf } from './message-id.js';
import { grantCredit, revokeCredit } from './rhea-credit.js';
import { ALL_PRODUCERS_PAUSED, producerFlowOf, type FlowControlledProducer, type ProducerFlow } from './producer-flow.js';
import type { ScanLimits } from './value-scan.js';
import { transactionalState, transactionalStateOf } from './transaction-codec.js';
import type { ConnectionTransactions } from './transactions.js';

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

export class ProducerLink implements FlowControlledProducer {
  private closed = false;
  private readonly settlement: ProducerSettlement;
  private readonly flow: ProducerFlow;
  /** The queue this link targets: it stops with it. */
  private readonly targetQueue: string | null;
  /** Flow-stopped queues this link waits for. */
  private readonly stoppedBy = new Set<string>();

  constructor(
    private readonly broker: Broker,
    settlements: Settlements,
    private readonly receiver: Receiver,
    /** null: the anonymous relay; each message's `to` names its node. */
    private readonly target: PublishTarget | null,
    private readonly options: { window: number; unroutable: UnroutablePolicy; clock: Clock; logger: Logger; decode: ScanLimits; transactions?: () => ConnectionTransactions | null },
  ) {
    this.settlement = new ProducerSettlement(settlements, () => this.topUpCredit());
    this.flow = producerFlowOf(broker);
    this.targetQueue = target?.kind === 'queue' ? target.queue : null;
    this.flow.add(this);
    if (this.flow.allPaused) this.stoppedBy.add(ALL_PRODUCERS_PAUSED);
    this.topUpCredit();
    if (this.targetQueue !== null) {
      this.flow.target(this.targetQueue, this);
      // Attached to a stopped queue: it has its first window, like credit held when the queue
      // stopped (so the queue's limit still answers it, as without flow control), but no more
      // until the queue resumes.
      if (this.flow.stopped(this.targetQueue)) this.stoppedBy.add(this.targetQueue);
    }
  }

  flowChanged(queue: string, stopped: boolean): void {
    if (this.closed) return;
    if (stopped) {
      this.stoppedBy.add(queue);
      // A pause of every producer is short (a fraction of a second at a time): held credit would
      // outlast it, so it is taken back. A queue's stop keeps it (producer-flow.ts says why).
      if (queue === ALL_PRODUCERS_PAUSED) revokeCredit(this.receiver);
      return;
    }
    this.stoppedBy.delete(queue);
    this.topUpCredit();
  }

  onMessage(raw: Buffer, delivery: Delivery): void {
    // rhea hands us a view into its read buffer; the message outlives it.
    const body = Buffer.from(raw);
    const transactional = transactionalStateOf((delivery as unknown as { remote_state?: unknown }).remote_state);
    if (transactional) {
      this.onTransactionalMessage(body, delivery, transactional.txnId);
      return;
    }
    let outcome: ReturnType<Broker['publish']>;
    try {
      const { target, incoming } = this.incomingOf(body);
      outcome = this.broker.publish(target, incoming);
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
    if (outcome.kind === 'accepted') {
      // Landed in a queue that is now stopped: wait for it, whatever this link targets.
      for (const queue of outcome.flowStopped ?? []) {
        if (this.stoppedBy.has(queue)) continue;
        if (queue !== this.targetQueue) this.flow.block(queue, this);
        this.flowChanged(queue, true);
      }
    }
    this.settlement.settle(outcome, presettled, new RheaAnswer(delivery));
  }

  private incomingOf(body: Buffer): { target: PublishTarget; incoming: IncomingMessage } {
    const scanned = scanMessage(body, this.options.decode);
    const target = this.target ?? this.anonymousTarget(scanned.to);
    const now = this.options.clock.nowMs();
    const expiresAtMs = scanned.ttlMs !== null ? now + scanned.ttlMs : scanned.absoluteExpiryMs;
    let dedupKey: string | null | undefined;
    const incoming: IncomingMessage = {
      body,
      durable: scanned.durable,
      expiresAtMs,
      subject: scanned.subject,
      // Decoded only if routing reads them (message-format.ts).
      get applicationProperties() {
        return scanned.applicationProperties;
      },
      // Made only if a queue with a dedup window reads it.
      get dedupKey() {
        if (dedupKey === undefined) dedupKey = dedupKeyOf(scanned.messageId);
        return dedupKey;
      },
    };
    return { target, incoming };
  }

  /** A transfer inside a transaction (AMQP 1.0 §4.4.1): checked as a publish would be, then held
   * in the transaction, invisible until it commits. The answer is provisional, a
   * transactional-state carrying the outcome; the discharge settles for real. */
  private onTransactionalMessage(body: Buffer, delivery: Delivery, txnId: Buffer): void {
    const presettled = (delivery as unknown as { remote_settled?: boolean }).remote_settled === true;
    let error: unknown = null;
    try {
      const transactions = this.options.transactions?.() ?? null;
      if (!transactions) throw new BrokerError('TRANSACTION_UNKNOWN', `unknown transaction ${txnId.toString('hex')}: this connection declared none`);
      const { target, incoming } = this.incomingOf(body);
      const outcome = this.broker.checkPublish(target, incoming);
      if (outcome.kind === 'rejected') error = outcome.error;
      else if (outcome.kind === 'released') error = new BrokerError('UNROUTABLE', 'no queue takes the message (qpid.unroutable=release)');
      else error = transactions.enqueue(txnId, target, incoming);
    } catch (err) {
      if (err instanceof MessageFormatError) error = new BrokerError('DECODE_ERROR', `malformed message: ${err.message}`);
      else if (err instanceof BrokerError) error = err;
      else throw err;
    }
    if (!presettled) {
      const state = error === null ? transactionalState(txnId, { kind: 'accepted' }) : transactionalState(txnId, { kind: 'rejected', ...errorBody(error) });
      delivery.update(true, state as never);
    }
    this.topUpCredit();
  }

  /** The anonymous relay (null target address): the message's `to` names the node. */
  private anonymousTarget(to: string | null): PublishTarget {
    if (to === null || to === '') throw new BrokerError('NOT_FOUND', 'message to the anonymous relay has no "to" address');
    const node = findNode(this.broker, to);
    if (!node) throw new BrokerError('NOT_FOUND', `no queue or exchange named ${to}`);
    return node.kind === 'queue' ? node : { ...node, unroutable: this.options.unroutable };
  }

  private topUpCredit(): void {
    if (this.closed || this.stoppedBy.size > 0) return;
    const grant = this.options.window - (this.receiver as unknown as { credit: number }).credit - this.settlement.waiting;
    // Grant in chunks so that flow frames stay rare.
    if (grant >= Math.max(1, this.options.window / 4)) grantCredit(this.receiver, grant);
  }

  /** The link or connection closed: its deliveries can no longer be settled. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.flow.remove(this);
    this.settlement.close();
  }
}

/** How a producer's delivery is answered over rhea: methods on a prototype, one object per
 * delivery, where three closures were (issue 14). */
class RheaAnswer implements DeliveryAnswer {
  constructor(private readonly delivery: Delivery) {}

  accept(): void {
    this.delivery.accept();
  }

  reject(err: unknown): void {
    this.delivery.reject(errorBody(err));
  }

  release(): void {
    this.delivery.release({});
  }
}
