// Taking link credit back from a producer (AMQP 1.0 §2.6.7: a receiver may lower link-credit at
// any time with a flow): used while a primary pauses every producer for a backup's catch-up, when
// waiting for held credit to run out would not pause anything. rhea 3.0.5 only adds credit
// (Receiver.flow), so a revocation sets its count to zero and has it send the flow. Transfers the
// producer sent before that flow reached it are legal (it had the credit when it sent them): they
// are let in against the revoked amount, the "grace", which the intake (rhea-intake.ts) spends
// before it judges a transfer. A new grant ends the grace: the flow it sends carries our
// delivery-count, so the producer counts the transfers still in flight against the new credit,
// and so do we.

import type { Receiver } from 'rhea';

interface RheaReceiverInternals {
  credit: number;
  issue_flow: boolean;
  connection: { _register(): void };
}

const grace = new WeakMap<Receiver, number>();

function internals(receiver: Receiver): RheaReceiverInternals {
  return receiver as unknown as RheaReceiverInternals;
}

export function revokeCredit(receiver: Receiver): void {
  const r = internals(receiver);
  if (r.credit <= 0) return;
  grace.set(receiver, (grace.get(receiver) ?? 0) + r.credit);
  r.credit = 0;
  r.issue_flow = true;
  r.connection._register();
}

export function grantCredit(receiver: Receiver, credit: number): void {
  grace.delete(receiver);
  receiver.add_credit(credit);
}

/** A new transfer arrived: if only grace covers it, turn one unit back into credit, so that the
 * credit check and rhea's own count see the credit the producer had when it sent it. */
export function spendGrace(receiver: Receiver): void {
  const r = internals(receiver);
  const left = grace.get(receiver) ?? 0;
  if (r.credit > 0 || left === 0) return;
  r.credit = 1;
  if (left === 1) grace.delete(receiver);
  else grace.set(receiver, left - 1);
}
