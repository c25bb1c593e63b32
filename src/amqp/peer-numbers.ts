// The numbers a peer chooses, made safe to act on: link credit and delivery-id ranges from its
// flow and disposition frames (AMQP 1.0 §2.6.7, §2.7.4, §2.7.6) computed in time that does not
// depend on them (credit in O(1), a disposition in O(deliveries held in its range)), and the
// max-frame-size and idle-time-out of its open (§2.7.1, §2.4.5) kept to what can be honoured.
// Counts are sequence numbers modulo 2^32 (RFC 1982, §2.8.9). Pure.

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

/** §2.7.1 MIN-MAX-FRAME-SIZE: every peer accepts frames of this size. */
export const MIN_MAX_FRAME_SIZE = 512;

/** The largest frame to send a peer that announced `value` as its max-frame-size: that (absent:
 * no limit, 2^32-1), unless it is not a uint or is below 512; then 512. rhea cut messages into
 * frames of max-frame-size minus 50 bytes, and looped forever below 50. */
export function peerMaxFrameSizeBytes(value: unknown): number {
  if (value === undefined || value === null) return UINT32_MAX;
  const size = uint(value);
  return size === null ? MIN_MAX_FRAME_SIZE : Math.max(MIN_MAX_FRAME_SIZE, size);
}

/** A heartbeat to a peer is due at half its idle-time-out; this broker sends at most one every
 * 50 ms. Timers cannot wait longer than 2^31-1 ms (a longer one fires at once). */
export const PEER_IDLE_TIMEOUT_MS_MIN = 100;
const TIMER_MS_MAX = 2 ** 31 - 1;

/** The peer's idle-time-out (§2.4.5) as this broker honours it: absent or 0 is none; otherwise
 * kept between 100 ms and the longest timer. */
export function peerIdleTimeoutMs(value: unknown): number | undefined {
  const ms = uint(value);
  if (ms === null || ms === 0) return undefined;
  return Math.min(TIMER_MS_MAX, Math.max(PEER_IDLE_TIMEOUT_MS_MIN, ms));
}
