// A sending link that survives failover. Every message stays in `queue`, in send order, until the
// broker settles it; when the connection drops, everything in flight goes back to "queued" and is
// transmitted again, in the same order, on the next attachment (reference §1.12.8: "the client
// re-sends any messages that were previously sent but not acknowledged"). A message is resent
// only if the broker had not settled it, so duplicates are possible and loss is not.
import type { Session as RheaSession, Delivery as RheaDelivery, Message, Sender as RheaLink, SenderOptions } from 'rhea';
import { ClientError, type AmqpCondition } from './errors.js';
import type { Terminus } from './address.js';
import { encodeMessage, linkError, remoteTerminus, type LinkHost } from './link-host.js';

export type SendOutcome =
  | { readonly outcome: 'accepted' }
  | { readonly outcome: 'rejected'; readonly error?: AmqpCondition }
  | { readonly outcome: 'released' }
  | { readonly outcome: 'modified'; readonly deliveryFailed: boolean; readonly undeliverableHere: boolean };

export interface SenderStats {
  /** Transmissions of messages for the first time. */
  readonly sent: number;
  /** Transmissions of messages already sent on an earlier attachment. */
  readonly resent: number;
  readonly settled: number;
  /** Messages handed to send() and not yet settled (queued or in flight). */
  readonly unsettled: number;
}

interface Pending {
  readonly bytes: Buffer;
  readonly resolve: (outcome: SendOutcome) => void;
  readonly reject: (error: Error) => void;
  state: 'queued' | 'inflight' | 'done';
  transmissions: number;
}

const COMPACT_AFTER = 1024;

export function outcomeOf(state: unknown): SendOutcome {
  const type = (state as { constructor?: { composite_type?: string } } | undefined)?.constructor?.composite_type;
  const fields = state as { error?: AmqpCondition; delivery_failed?: boolean; undeliverable_here?: boolean } | undefined;
  switch (type) {
    case 'rejected':
      return fields?.error ? { outcome: 'rejected', error: fields.error } : { outcome: 'rejected' };
    case 'released':
      return { outcome: 'released' };
    case 'modified':
      return { outcome: 'modified', deliveryFailed: Boolean(fields?.delivery_failed), undeliverableHere: Boolean(fields?.undeliverable_here) };
    default:
      // Settled as accepted, or settled with no state: the broker took responsibility for it.
      return { outcome: 'accepted' };
  }
}

export class Sender {
  private readonly queue: Pending[] = [];
  /** queue[0, head) are done and wait to be compacted away. */
  private head = 0;
  /** The next index that may hold a queued entry; every entry before it is in flight or done. */
  private nextToSend = 0;
  private inflight = 0;
  private unsettledCount = 0;
  private counts = { sent: 0, resent: 0, settled: 0 };
  private link: RheaLink | undefined;
  private linkReady = false;
  private attachedOnce = false;
  private readonly byDelivery = new Map<RheaDelivery, Pending>();
  private failure: ClientError | undefined;
  private closed = false;
  private capacityWaiters: Array<() => void> = [];
  private openWaiter: { resolve: (sender: Sender) => void; reject: (error: Error) => void } | undefined;
  readonly opened: Promise<Sender>;

  constructor(
    private readonly host: LinkHost,
    readonly address: string,
    private readonly terminus: Terminus,
    readonly linkName: string,
    /** The most messages in flight (sent, not settled) at once. */
    readonly capacity: number,
  ) {
    this.opened = new Promise((resolve, reject) => (this.openWaiter = { resolve, reject }));
    this.opened.catch(() => undefined);
  }

  get stats(): SenderStats {
    return { ...this.counts, unsettled: this.unsettledCount };
  }

  /** Resolves with the broker's terminal outcome; rejects only when the link or connection fails. */
  send(message: Message | Record<string, unknown>): Promise<SendOutcome> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new ClientError('CLOSED', `sender to ${this.address} is closed`));
    const bytes = encodeMessage(message);
    return new Promise((resolve, reject) => {
      this.queue.push({ bytes, resolve, reject, state: 'queued', transmissions: 0 });
      this.unsettledCount++;
      this.pump();
    });
  }

  /** Resolves when fewer than `capacity` messages are unsettled, so a send() goes out at once. */
  waitForCapacity(): Promise<void> {
    if (this.unsettledCount < this.capacity || this.failure || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.capacityWaiters.push(resolve));
  }

  /** Resolves when every message handed to send() so far is settled. */
  async flush(): Promise<void> {
    while (this.unsettledCount > 0 && !this.failure && !this.closed) {
      await new Promise<void>((resolve) => this.capacityWaiters.push(resolve));
    }
    if (this.failure) throw this.failure;
  }

  /** Called by the connection once a broker admits it: attach a fresh link to the same target. */
  attach(session: RheaSession): void {
    if (this.failure || this.closed) return;
    const link: RheaLink = session.open_sender({
      name: this.linkName,
      target: this.terminus,
      autosettle: true,
      treat_modified_as_released: false,
    } as SenderOptions);
    this.link = link;
    this.linkReady = false;
    link.on('sender_open', () => {
      if (link !== this.link) return;
      // A refused attach carries a null target and is followed by a detach with the reason.
      if (!remoteTerminus(link, 'target')) return;
      this.linkReady = true;
      if (!this.attachedOnce) {
        this.attachedOnce = true;
        this.openWaiter?.resolve(this);
      }
      this.pump();
    });
    link.on('sendable', () => link === this.link && this.pump());
    for (const event of ['accepted', 'rejected', 'released', 'modified', 'settled']) {
      link.on(event, (context) => this.settle(link, context.delivery as RheaDelivery));
    }
    link.on('sender_error', () => undefined);
    link.on('sender_close', () => this.remoteDetach(link));
  }

  /** Called by the connection when the connection carrying the link is lost. */
  detached(): void {
    this.link = undefined;
    this.linkReady = false;
    this.byDelivery.clear();
    for (let index = this.head; index < this.nextToSend; index++) {
      const entry = this.queue[index] as Pending;
      if (entry.state === 'inflight') entry.state = 'queued';
    }
    this.inflight = 0;
    this.nextToSend = this.head;
  }

  fail(error: ClientError): void {
    if (this.failure) return;
    this.failure = error;
    this.openWaiter?.reject(error);
    for (let index = this.head; index < this.queue.length; index++) {
      const entry = this.queue[index] as Pending;
      if (entry.state !== 'done') entry.reject(error);
      entry.state = 'done';
    }
    this.queue.length = 0;
    this.head = this.nextToSend = this.inflight = this.unsettledCount = 0;
    this.wakeCapacityWaiters();
    this.link?.close();
    this.link = undefined;
    this.host.remove(this);
  }

  /** Detaches the link; messages still unsettled are rejected with CLOSED (flush() first to wait). */
  close(): void {
    if (this.closed || this.failure) return;
    this.fail(new ClientError('CLOSED', `sender to ${this.address} was closed with messages unsettled`));
    this.closed = true;
  }

  private pump(): void {
    const link = this.link;
    if (!link || !this.linkReady) return;
    while (this.inflight < this.capacity && this.nextToSend < this.queue.length && link.sendable()) {
      const entry = this.queue[this.nextToSend++] as Pending;
      if (entry.state !== 'queued') continue;
      const delivery = link.send(entry.bytes, undefined, 0);
      entry.state = 'inflight';
      this.inflight++;
      if (entry.transmissions > 0) {
        this.counts.resent++;
        this.host.countResent();
      } else this.counts.sent++;
      entry.transmissions++;
      this.byDelivery.set(delivery, entry);
    }
  }

  private settle(link: RheaLink, delivery: RheaDelivery): void {
    const entry = this.byDelivery.get(delivery);
    if (link !== this.link || !entry) return;
    // A terminal outcome without settled=true is still final (AMQP 1.0 §3.4): settle our side.
    if (!delivery.remote_settled) delivery.update(true);
    this.byDelivery.delete(delivery);
    entry.state = 'done';
    this.inflight--;
    this.unsettledCount--;
    this.counts.settled++;
    entry.resolve(outcomeOf(delivery.remote_state));
    this.compact();
    this.wakeCapacityWaiters();
    this.pump();
  }

  private compact(): void {
    while (this.head < this.nextToSend && (this.queue[this.head] as Pending).state === 'done') this.head++;
    if (this.head >= COMPACT_AFTER && this.head * 2 >= this.queue.length) {
      this.queue.splice(0, this.head);
      this.nextToSend -= this.head;
      this.head = 0;
    }
  }

  private wakeCapacityWaiters(): void {
    if (this.capacityWaiters.length === 0) return;
    if (this.unsettledCount >= this.capacity && this.unsettledCount > 0 && !this.failure && !this.closed) return;
    const waiters = this.capacityWaiters;
    this.capacityWaiters = [];
    for (const wake of waiters) wake();
  }

  private remoteDetach(link: RheaLink): void {
    if (link !== this.link) return;
    const error = linkError(link);
    if (!this.linkReady) {
      this.fail(new ClientError('LINK_REFUSED', `the broker refused a sender to ${this.address}`, error));
    } else if (error) {
      this.fail(new ClientError('LINK_DETACHED', `the broker detached the sender to ${this.address}`, error));
    } else {
      // Detached without an error: the node is still there, so attach again and resend.
      this.detached();
      this.host.reattachLater(this);
    }
  }
}
