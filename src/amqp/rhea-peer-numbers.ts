// Takes the peer's numbers out of rhea's loops and timers (AMQP 1.0 §2.6.7, §2.7.6, §2.7.1,
// §2.4.5). rhea 3.0.5 drains a sender one credit at a time (link.js Sender._get_drain: drain with
// link-credit 2^32-1 froze the broker for 99 s), walks every id of a disposition's range
// (session.js on_disposition: 0..2^32-1, 16-24 s), cuts messages into frames of the peer's
// max-frame-size minus 50 (forever, below 50) and beats at half the peer's idle-time-out (every
// millisecond for 2^32-1, which overflows the timer). The replacements are O(1) or O(held).

import { createRequire } from 'node:module';
import type { Connection } from 'rhea';
import { drained, heldRange, peerIdleTimeoutMs, peerMaxFrameSizeBytes, receiverCredit, senderCredit } from './peer-numbers.js';
import { unwrapRemoteState } from './rhea-transactions.js';

const require = createRequire(import.meta.url);
const rheaLink = require('rhea/lib/link.js') as { Sender: { prototype: object }; Receiver: { prototype: object } };
const rheaMessage = require('rhea/lib/message.js') as { unwrap_outcome(state: unknown): unknown };

interface Delivery {
  readonly id: number;
  remote_settled: boolean;
  remote_state: unknown;
  readonly link: { dispatch(event: string, context: unknown): void; _context(c: unknown): unknown };
}
interface HeldDeliveries {
  readonly size: number;
  get_head(): Delivery | undefined;
  by_id(id: number): Delivery | undefined;
}
interface DispositionFields {
  readonly first?: unknown;
  readonly last?: unknown;
  readonly settled?: boolean;
  readonly state?: unknown;
}
interface SenderLink {
  credit: number;
  delivery_count: number;
  _draining: boolean;
  _drained: boolean;
  readonly local: { readonly attach: { readonly initial_delivery_count?: number } };
  is_open(): boolean;
  sendable(): boolean;
  dispatch(event: string, context: unknown): void;
  _context(): unknown;
}
interface ReceiverLink {
  credit: number;
  delivery_count: number;
  dispatch(event: string, context: unknown): void;
  _context(): unknown;
}
interface FlowFrame {
  readonly performative: { readonly delivery_count?: unknown; readonly link_credit?: unknown; readonly drain?: boolean };
}

const PATCHED = Symbol.for('qpidd.rhea-peer-numbers');

/** Each delivery held in the disposition's range, oldest first. */
function* inRange(deliveries: HeldDeliveries, fields: DispositionFields): Generator<Delivery> {
  const head = deliveries.get_head();
  if (!head) return;
  const range = heldRange(fields.first, fields.last, head.id, deliveries.size);
  if (!range) return;
  for (let id = range.from; id <= range.to; id++) {
    const delivery = deliveries.by_id(id);
    if (delivery) yield delivery;
  }
}

/** Our transfers, settled or given an outcome by the receiving peer (session.js Outgoing). */
function onOutgoingDisposition(this: { deliveries: HeldDeliveries; updated: Delivery[] }, fields: DispositionFields): void {
  for (const delivery of inRange(this.deliveries, fields)) {
    if (delivery.remote_settled) continue;
    let updated = false;
    if (fields.settled) {
      delivery.remote_settled = true;
      updated = true;
    }
    if (fields.state && fields.state !== delivery.remote_state) {
      // A transactional outcome (AMQP 1.0 §4.4.2) is unwrapped, its txn-id kept on the delivery.
      delivery.remote_state = unwrapRemoteState(delivery, fields.state);
      updated = true;
    }
    if (updated) this.updated.push(delivery);
  }
}

/** The peer's transfers to us, settled by the peer (session.js Incoming). */
function onIncomingDisposition(this: { deliveries: HeldDeliveries }, fields: DispositionFields): void {
  for (const delivery of inRange(this.deliveries, fields)) {
    if (delivery.remote_settled) continue;
    if (fields.state && fields.state !== delivery.remote_state) delivery.remote_state = rheaMessage.unwrap_outcome(fields.state);
    if (fields.settled) {
      delivery.remote_settled = true;
      delivery.link.dispatch('settled', delivery.link._context({ delivery }));
    }
  }
}

/** A drained sender writes its flow with the credit used up (called as the flow is written). */
function senderGetDrain(this: SenderLink): boolean {
  this.delivery_count %= 2 ** 32; // rhea counts deliveries without wrapping; the field is a uint
  if (!(this._draining && this._drained && this.credit > 0)) return false;
  const after = drained(this.delivery_count, this.credit);
  this.delivery_count = after.deliveryCount;
  this.credit = after.credit;
  return true;
}

function senderOnFlow(this: SenderLink, frame: FlowFrame): void {
  const flow = frame.performative;
  this.delivery_count %= 2 ** 32;
  this.credit = senderCredit(this.delivery_count, flow.delivery_count, flow.link_credit, this.local.attach.initial_delivery_count ?? 0);
  this._draining = flow.drain === true;
  this._drained = this.credit > 0;
  if (!this.is_open()) return;
  this.dispatch('sender_flow', this._context());
  if (this._draining) this.dispatch('sender_draining', this._context());
  if (this.sendable()) this.dispatch('sendable', this._context());
}

/** A sending peer's flow: with drain it reports the credit it used up; it cannot add any. */
function receiverOnFlow(this: ReceiverLink, frame: FlowFrame): void {
  this.dispatch('receiver_flow', this._context());
  if (!frame.performative.drain) return;
  const after = receiverCredit(this.delivery_count, this.credit, frame.performative.delivery_count);
  this.delivery_count = after.deliveryCount;
  this.credit = after.credit;
  this.dispatch('receiver_drained', this._context());
}

/** The payload of each transfer frame to the peer: its max-frame-size (at least 512) less
 * rhea's allowance for the frame's header and performative. */
function computeMaxPayload(this: { connection: { max_frame_size?: unknown } }, tag: Buffer): number {
  return Math.max(1, peerMaxFrameSizeBytes(this.connection.max_frame_size) - (50 + tag.length));
}

/** Installs the replacements on rhea's prototypes, reached through a session (rhea does not
 * export its Outgoing and Incoming classes). Idempotent. */
export function boundPeerRanges(session: { outgoing?: object; incoming?: object }): void {
  for (const [instance, replacements] of [
    [session.outgoing, { on_disposition: onOutgoingDisposition, compute_max_payload: computeMaxPayload }],
    [session.incoming, { on_disposition: onIncomingDisposition }],
  ] as const) {
    const prototype = instance ? (Object.getPrototypeOf(instance) as Record<string | symbol, unknown>) : undefined;
    if (!prototype || prototype[PATCHED]) continue;
    prototype[PATCHED] = true;
    Object.assign(prototype, replacements);
  }
  const sender = rheaLink.Sender.prototype as Record<string | symbol, unknown>;
  if (!sender[PATCHED]) {
    sender[PATCHED] = true;
    sender['_get_drain'] = senderGetDrain;
    sender['on_flow'] = senderOnFlow;
  }
  const receiver = rheaLink.Receiver.prototype as Record<string | symbol, unknown>;
  if (!receiver[PATCHED]) {
    receiver[PATCHED] = true;
    receiver['on_flow'] = receiverOnFlow;
  }
}

/** The peer's open is kept to what can be honoured before rhea acts on it: its idle-time-out
 * between 100 ms and the longest timer (rhea schedules a heartbeat at half of it). */
export function boundPeerOpen(connection: Connection): void {
  const c = connection as unknown as { on_open(frame: { performative: { idle_time_out?: unknown } }): void };
  const onOpen = c.on_open.bind(connection);
  c.on_open = (frame) => {
    const idle = peerIdleTimeoutMs(frame.performative.idle_time_out);
    if (idle !== frame.performative.idle_time_out) frame.performative.idle_time_out = idle;
    onOpen(frame);
  };
}
