// Consumer links: a client's receiving link attached to a queue is a broker Consumer. Messages
// go out as the producer's encoded bytes (`sender.send(bytes, tag, 0)`, no re-encoding); a
// redelivery gets a rewritten header carrying its delivery count (AMQP 1.0 §3.2.1). The
// client's outcome (accepted, released, rejected, modified: §3.4) settles the queue entry.

import type { Delivery, Sender } from 'rhea';
import type { Broker } from '../broker/broker.js';
import type { Consumer, Queue, QueueEntry } from '../broker/queue.js';
import type { Logger } from '../core/log.js';
import { Selection } from '../broker/selection.js';
import type { Selector } from '../selector/index.js';
import { lazyMessageEnv } from '../selector/message-fields.js';
import { withDeliveryCount } from './message-format.js';
import { selectorFields } from './selector-fields.js';
import { BrokerError } from '../broker/errors.js';
import type { ConsumerOutcome } from '../broker/broker.js';
import { transactionOf } from './rhea-transactions.js';
import type { ConnectionTransactions } from './transactions.js';

/** Where a sent delivery's queue entry is kept until the client settles it. */
const ENTRY = Symbol('queueEntry');
type TrackedDelivery = Delivery & { [ENTRY]?: QueueEntry };

let nextConsumerId = 1;

export class ConsumerLink implements Consumer {
  readonly id = nextConsumerId++;
  readonly browse: boolean;
  browsePosition = 0;
  readonly selection?: Selection;
  queue: Queue | null = null;
  private unsettled = 0;
  private closed = false;
  /** Deliveries handed to rhea and not yet written as transfers (oldest first). rhea takes a
   * unit of link credit only when it writes the transfer, at the end of the event-loop turn,
   * so `sender.sendable()` stays true meanwhile: without counting these, one dispatch loop
   * acquired up to --max-unsettled messages for a link with credit 1, starving other consumers,
   * and a link closed with transfers still queued blocked every later transfer of its session
   * (rhea sends a session's deliveries in order). */
  private readonly queued: Delivery[] = [];
  /** At-most-once: the client asked for pre-settled deliveries (snd-settle-mode settled). */
  private readonly presettled: boolean;

  constructor(
    private readonly broker: Broker,
    private readonly sender: Sender,
    private readonly options: { browse: boolean; selector: Selector | null; maxUnsettled: number; logger: Logger; onQueueDeleted: () => void; transactions?: () => ConnectionTransactions | null },
  ) {
    this.browse = options.browse;
    const selector = options.selector;
    // The message is decoded only if the selector names an identifier, and with the delivery
    // count it would go out with (amqp.redelivered, amqp.delivery_count).
    if (selector) this.selection = new Selection((entry) => selector.matches(lazyMessageEnv(() => selectorFields(broker.bodyOf(entry), entry.deliveryCount, entry.message.expiresAtMs))));
    const remote = (sender as unknown as { remote: { attach?: { snd_settle_mode?: number } } }).remote.attach;
    this.presettled = remote?.snd_settle_mode === 1;
    // Echo the settle mode the client asked for, before our attach goes out.
    (sender as unknown as { local: { attach: { snd_settle_mode?: number } } }).local.attach.snd_settle_mode = this.presettled || this.browse ? 1 : 0;
  }

  attachTo(queue: Queue): void {
    this.queue = queue;
  }

  canTake(): boolean {
    return !this.closed && this.sender.sendable() && this.creditLeft() > 0 && (this.browse || this.presettled || this.unsettled < this.options.maxUnsettled);
  }

  /** Link credit not yet spoken for by deliveries rhea has still to write. */
  private creditLeft(): number {
    const outgoing = (this.sender as unknown as { session: { outgoing: { next_pending_delivery: number } } }).session.outgoing;
    let written = 0;
    while (written < this.queued.length && (this.queued[written] as unknown as { id: number }).id < outgoing.next_pending_delivery) written++;
    if (written > 0) this.queued.splice(0, written);
    return (this.sender as unknown as { credit: number }).credit - this.queued.length;
  }

  take(entry: QueueEntry): void {
    let bytes = this.broker.bodyOf(entry);
    if (entry.deliveryCount > 0 || entry.reacquirable) bytes = withDeliveryCount(bytes, entry.deliveryCount);
    const delivery = this.sender.send(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), undefined, 0) as TrackedDelivery;
    this.queued.push(delivery);
    if (this.browse) return; // a copy: nothing to settle
    if (this.presettled) {
      // At-most-once: the message counts as delivered the moment it is sent.
      this.broker.settle(entry, { kind: 'accepted' });
      return;
    }
    delivery[ENTRY] = entry;
    this.unsettled++;
  }

  queueDeleted(): void {
    this.options.onQueueDeleted();
  }

  /** The client settled a delivery with an outcome. */
  outcome(delivery: Delivery, kind: 'accepted' | 'released' | 'rejected' | 'modified'): void {
    const tracked = delivery as TrackedDelivery;
    const entry = tracked[ENTRY];
    if (!entry) return;
    tracked[ENTRY] = undefined;
    this.unsettled--;
    if (!delivery.settled) delivery.update(true);
    let outcome: ConsumerOutcome = { kind: 'accepted' };
    if (kind === 'modified') {
      const state = (delivery as unknown as { remote_state?: { delivery_failed?: boolean; undeliverable_here?: boolean } }).remote_state;
      outcome = { kind: 'modified', deliveryFailed: state?.delivery_failed === true, undeliverableHere: state?.undeliverable_here === true };
    } else {
      outcome = { kind };
    }
    const txnId = transactionOf(delivery);
    if (txnId) {
      // Inside a transaction (AMQP 1.0 §4.4.2): the outcome takes effect when it commits; until
      // then the transaction holds the message, acquired.
      const transactions = this.options.transactions?.() ?? null;
      const refused = transactions ? transactions.dequeue(txnId, entry, outcome) : new BrokerError('TRANSACTION_UNKNOWN', `unknown transaction ${txnId.toString('hex')}: this connection declared none`);
      if (refused === null) return;
      this.options.logger.warn({ queue: entry.queue.name, position: entry.position, condition: refused.code, err: refused.message }, 'transactional settlement refused; the message is released');
      outcome = { kind: 'released' };
    }
    this.broker.settle(entry, outcome);
  }

  /** More credit arrived, or the client drains: offer messages, then report drained. */
  creditChanged(draining: boolean): void {
    // A client that releases a message and grants credit in one go expects the released message
    // first (it is back at the head of the queue); rhea reports the release only after the flow.
    this.applyPendingOutcomes();
    if (this.queue && !this.queue.deleted) this.broker.dispatch(this.queue);
    if (draining && (this.sender as unknown as { credit: number }).credit > 0) this.sender.set_drained(true);
  }

  /** The link or its connection went away: held entries go back to the queue. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.applyPendingOutcomes();
    if (this.queue && !this.queue.deleted) this.broker.unsubscribe(this.queue, this);
  }

  /** rhea reports a batch of incoming dispositions only after it has read every frame of the
   * batch, while a flow or a detach is acted on as it is read: an `accept` sent just before
   * detaching was ignored (the message redelivered), and a release followed by new credit was
   * overtaken by the next message. Apply the outcomes rhea holds for this link first; its own
   * events for them later find nothing left to settle. */
  applyPendingOutcomes(): void {
    const session = (this.sender as unknown as { session?: { outgoing?: { updated?: Delivery[] } } }).session;
    for (const delivery of session?.outgoing?.updated ?? []) {
      const d = delivery as Delivery & { link?: unknown; remote_state?: { constructor?: { composite_type?: string } } };
      if (d.link !== this.sender) continue;
      const kind = d.remote_state?.constructor?.composite_type;
      if (kind === 'accepted' || kind === 'released' || kind === 'rejected' || kind === 'modified') this.outcome(d, kind);
    }
  }
}
