// A receiving link that survives failover, consumed by async iteration or receive(timeout).
// Credit is granted as the application takes deliveries, so at most `credit` messages are ever
// buffered or on the wire. When the connection drops, deliveries buffered but not yet taken are
// dropped (the broker still holds them unsettled and will deliver them again), and the next
// attachment starts with the full credit again (reference §1.12.8: "messages that have been sent
// by the broker, but not acknowledged by the client, are re-queued").
import type { Session as RheaSession, Delivery as RheaDelivery, Message, Receiver as RheaLink, ReceiverOptions } from 'rhea';
import { ClientError, type AmqpCondition } from './errors.js';
import type { Terminus } from './address.js';
import { linkError, remoteTerminus, type LinkHost } from './link-host.js';

export interface Delivery {
  readonly message: Message;
  /** The header's delivery-count: how many earlier deliveries of this message may have happened. */
  readonly deliveryCount: number;
  /** deliveryCount > 0: the broker delivered this message before (Qpid's "redelivered"). */
  readonly redelivered: boolean;
  accept(): void;
  release(): void;
  reject(error?: AmqpCondition): void;
  modify(options?: { deliveryFailed?: boolean; undeliverableHere?: boolean }): void;
}

export interface ReceiverStats {
  readonly received: number;
  /** Buffered deliveries dropped on disconnect (the broker redelivers them). */
  readonly dropped: number;
}

export class Receiver implements AsyncIterable<Delivery> {
  private buffer: Delivery[] = [];
  private bufferHead = 0;
  private waiters: Array<(delivery: Delivery | undefined) => void> = [];
  private link: RheaLink | undefined;
  private linkReady = false;
  private attachedOnce = false;
  private failure: ClientError | undefined;
  private closed = false;
  private counts = { received: 0, dropped: 0 };
  private openWaiter: { resolve: (receiver: Receiver) => void; reject: (error: Error) => void } | undefined;
  readonly opened: Promise<Receiver>;

  constructor(
    private readonly host: LinkHost,
    readonly address: string,
    private readonly terminus: Terminus,
    readonly linkName: string,
    /** Most deliveries outstanding (granted, buffered) at once; at least 1. */
    readonly credit: number,
  ) {
    this.opened = new Promise((resolve, reject) => (this.openWaiter = { resolve, reject }));
    this.opened.catch(() => undefined);
  }

  get stats(): ReceiverStats {
    return { ...this.counts };
  }

  private get buffered(): number {
    return this.buffer.length - this.bufferHead;
  }

  /** The next delivery; undefined when `timeoutMs` passes first or the receiver is closed. */
  receive(timeoutMs?: number): Promise<Delivery | undefined> {
    if (this.buffered > 0) return Promise.resolve(this.take());
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = (delivery: Delivery | undefined): void => {
        if (timer) clearTimeout(timer);
        if (delivery === undefined && this.failure) reject(this.failure);
        else resolve(delivery);
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((other) => other !== waiter);
          resolve(undefined);
        }, timeoutMs);
      }
      this.waiters.push(waiter);
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Delivery> {
    for (;;) {
      const delivery = await this.receive();
      if (delivery === undefined) return;
      yield delivery;
    }
  }

  attach(session: RheaSession): void {
    if (this.failure || this.closed) return;
    const link: RheaLink = session.open_receiver({
      name: this.linkName,
      source: this.terminus,
      credit_window: 0,
      autoaccept: false,
    } as ReceiverOptions);
    this.link = link;
    this.linkReady = false;
    link.on('receiver_open', () => {
      if (link !== this.link) return;
      if (!remoteTerminus(link, 'source')) return;
      this.linkReady = true;
      if (!this.attachedOnce) {
        this.attachedOnce = true;
        this.openWaiter?.resolve(this);
      }
      this.topUp();
    });
    link.on('message', (context) => this.arrived(link, context.message as Message, context.delivery as RheaDelivery));
    link.on('receiver_error', () => undefined);
    link.on('receiver_close', () => this.remoteDetach(link));
  }

  detached(): void {
    this.link = undefined;
    this.linkReady = false;
    this.counts.dropped += this.buffered;
    this.buffer = [];
    this.bufferHead = 0;
  }

  fail(error: ClientError): void {
    if (this.failure || this.closed) return;
    this.failure = error;
    this.openWaiter?.reject(error);
    this.endWaiters();
    this.link?.close();
    this.link = undefined;
    this.host.remove(this);
  }

  /** Detaches; buffered deliveries not yet taken go back to the broker, and iteration ends. */
  close(): void {
    if (this.closed || this.failure) return;
    this.closed = true;
    const link = this.link;
    this.detached();
    this.openWaiter?.reject(new ClientError('CLOSED', `receiver from ${this.address} was closed`));
    this.endWaiters();
    link?.close();
    this.host.remove(this);
  }

  private endWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter(undefined);
  }

  private take(): Delivery {
    const delivery = this.buffer[this.bufferHead++] as Delivery;
    if (this.bufferHead === this.buffer.length) {
      this.buffer = [];
      this.bufferHead = 0;
    }
    this.topUp();
    return delivery;
  }

  /** Grant credit back up to `credit`, in batches of a quarter so flow frames stay few. */
  private topUp(): void {
    const link = this.link;
    if (!link || !this.linkReady) return;
    // rhea counts the credit it has granted and not seen used; its typings omit the field.
    const granted = (link as unknown as { credit: number }).credit;
    const deficit = this.credit - granted - this.buffered;
    if (deficit > 0 && deficit >= Math.max(1, Math.floor(this.credit / 4))) link.add_credit(deficit);
  }

  private arrived(link: RheaLink, message: Message, raw: RheaDelivery): void {
    if (link !== this.link) return;
    this.counts.received++;
    const deliveryCount = typeof message.delivery_count === 'number' ? message.delivery_count : 0;
    // Settling on a link that has since been lost is a no-op: the broker already requeued it.
    const settle = (kind: 'accepted' | 'released' | 'rejected' | 'modified', action: () => void): void => {
      this.host.settle(kind, () => {
        if (link === this.link && !raw.settled) action();
      });
    };
    const delivery: Delivery = {
      message,
      deliveryCount,
      redelivered: deliveryCount > 0,
      accept: () => settle('accepted', () => raw.accept()),
      release: () => settle('released', () => raw.release()),
      reject: (error) => settle('rejected', () => raw.reject(error)),
      modify: (options) =>
        settle('modified', () =>
          raw.modified({ delivery_failed: options?.deliveryFailed ?? true, undeliverable_here: options?.undeliverableHere ?? false }),
        ),
    };
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(delivery);
      this.topUp();
    } else this.buffer.push(delivery);
  }

  private remoteDetach(link: RheaLink): void {
    if (link !== this.link) return;
    const error = linkError(link);
    if (!this.linkReady) {
      this.fail(new ClientError('LINK_REFUSED', `the broker refused a receiver from ${this.address}`, error));
    } else if (error) {
      this.fail(new ClientError('LINK_DETACHED', `the broker detached the receiver from ${this.address}`, error));
    } else {
      this.detached();
      this.host.reattachLater(this);
    }
  }
}
