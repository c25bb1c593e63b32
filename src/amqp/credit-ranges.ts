// Link credit and delivery-id ranges from a peer's flow and disposition frames (AMQP 1.0 §2.6.7,
// §2.7.4, §2.7.6), computed in time that does not depend on the numbers the peer chose: credit in
// O(1), a disposition in O(deliveries actually held in its range). Counts are sequence numbers
// modulo 2^32 (RFC 1982, §2.8.9): they wrap and never exceed a uint. Pure.

export const UINT32_MAX = 0xffff_ffff;
const MODULUS = 2 ** 32;
const HALF = 2 ** 31;

/** A value from the wire that should be a uint, or null if it is not one. */
function uint(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= UINT32_MAX ? value : null;
}

/** (a - b) mod 2^32, in [0, 2^32). */
function ahead(a: number, b: number): number {
  return (((a - b) % MODULUS) + MODULUS) % MODULUS;
}

/** A sender's link credit from its receiver's flow (§2.6.7): the receiver's delivery-count plus
 * its link-credit, less the deliveries sent since. `initialDeliveryCount` stands in for an absent
 * delivery-count (the receiver has not seen our attach yet). Never negative, never above a uint. */
export function senderCredit(ourDeliveryCount: number, flowDeliveryCount: unknown, flowLinkCredit: unknown, initialDeliveryCount: number): number {
  const credit = uint(flowLinkCredit) ?? 0;
  const theirCount = uint(flowDeliveryCount) ?? initialDeliveryCount;
  const inFlight = ahead(ourDeliveryCount, theirCount);
  // A receiver that claims more deliveries than were sent is wrong: credit as granted.
  if (inFlight >= HALF) return credit;
  return Math.max(0, credit - inFlight);
}

/** A sender that drains (§2.6.7, drain): every unit of credit is used up at once by advancing
 * the delivery-count, not one at a time. */
export function drained(deliveryCount: number, credit: number): { readonly deliveryCount: number; readonly credit: 0 } {
  return { deliveryCount: (deliveryCount + credit) % MODULUS, credit: 0 };
}

/** A receiver's credit after its sender's flow reports the sender's delivery-count (a drain):
 * the sender may use up credit it was granted, never add to it. */
export function receiverCredit(ourDeliveryCount: number, ourCredit: number, flowDeliveryCount: unknown): { readonly deliveryCount: number; readonly credit: number } {
  const theirCount = uint(flowDeliveryCount);
  if (theirCount === null) return { deliveryCount: ourDeliveryCount, credit: ourCredit };
  const used = ahead(theirCount, ourDeliveryCount);
  if (used >= HALF) return { deliveryCount: ourDeliveryCount, credit: ourCredit }; // behind us: nonsense, ignored
  return { deliveryCount: theirCount, credit: Math.max(0, ourCredit - used) };
}

/** The ids of a disposition's range [first, last] (last absent: first alone) that fall among
 * the `held` deliveries numbered from `headId`; null when none do. Ranges that wrap past 2^32-1
 * are not followed (delivery ids are far from wrapping on any real connection). */
export function heldRange(first: unknown, last: unknown, headId: number, held: number): { readonly from: number; readonly to: number } | null {
  const from = uint(first);
  if (from === null || held <= 0) return null;
  const to = last === undefined || last === null ? from : uint(last);
  if (to === null || to < from) return null;
  const lo = Math.max(from, headId);
  const hi = Math.min(to, headId + held - 1);
  return lo <= hi ? { from: lo, to: hi } : null;
}
