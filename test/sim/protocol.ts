// What simulated clients and brokers say to each other over a client connection: the few AMQP
// 1.0 operations the simulation needs (attach a sending or receiving link, transfer, settle a
// delivery with an outcome, a management request), as plain frames. Message bodies carry the
// producer's id and sequence number, which is all the checkers need to follow a message.

import type { ErrorBody } from './network.js';

export type Outcome = 'accepted' | 'rejected' | 'released';

/** Configuration changes the simulated operator makes (as qpid-config would). */
export type AdminOp =
  | { readonly kind: 'declare-queue'; readonly name: string; readonly args: Record<string, string> }
  | { readonly kind: 'delete-queue'; readonly name: string }
  | { readonly kind: 'declare-exchange'; readonly name: string; readonly type: 'direct' | 'fanout' | 'topic'; readonly args: Record<string, string> }
  | { readonly kind: 'delete-exchange'; readonly name: string }
  | { readonly kind: 'bind'; readonly exchange: string; readonly queue: string; readonly key: string }
  | { readonly kind: 'unbind'; readonly exchange: string; readonly queue: string; readonly key: string };

export type ClientFrame =
  | { readonly t: 'attach'; readonly link: number; readonly role: 'sender' | 'receiver'; readonly queue: string; readonly credit: number }
  | { readonly t: 'transfer'; readonly link: number; readonly delivery: number; readonly body: Uint8Array }
  | { readonly t: 'disposition'; readonly link: number; readonly delivery: number; readonly outcome: 'accepted' | 'released' }
  | { readonly t: 'admin'; readonly request: number; readonly op: AdminOp };

/** Who settled a delivery and under which epoch, as the checkers saw it at that moment. */
export interface SettleInfo {
  readonly broker: string;
  readonly epoch: number;
  /** The broker held the highest epoch promoted so far. */
  readonly legit: boolean;
  /** Brokers that had the message durable when it was settled: the primary and every backup in
   * its ack gate, as the primary's gate says. */
  readonly holders: readonly string[];
  readonly atMs: number;
}

export type ServerFrame =
  | { readonly t: 'attached'; readonly link: number }
  | { readonly t: 'detach'; readonly link: number; readonly error: ErrorBody }
  | { readonly t: 'settled'; readonly link: number; readonly delivery: number; readonly outcome: Outcome; readonly info: SettleInfo | null; readonly error: string | null }
  | { readonly t: 'deliver'; readonly link: number; readonly delivery: number; readonly body: Uint8Array; readonly deliveryCount: number }
  | { readonly t: 'admin-reply'; readonly request: number; readonly ok: boolean; readonly code: string | null; readonly info: SettleInfo | null };

export interface MessageId {
  readonly producer: string;
  readonly seq: number;
}

export function messageBody(producer: string, seq: number): Uint8Array {
  return Buffer.from(`m:${producer}:${seq}`);
}

export function parseBody(body: Uint8Array): MessageId | null {
  const match = /^m:([^:]+):(\d+)$/.exec(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1'));
  return match ? { producer: match[1] as string, seq: Number(match[2]) } : null;
}

export function messageKey(id: MessageId): string {
  return `${id.producer}:${id.seq}`;
}
