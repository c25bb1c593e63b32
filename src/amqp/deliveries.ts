// Small rules about deliveries and link options shared by the listener (server.ts) and the HA
// transport: settling what the peer pre-settled, and a sending link's unroutable policy.

import type { Delivery } from 'rhea';
import type { UnroutablePolicy } from '../broker/broker.js';

/** A transfer the peer sent settled (at-most-once; replication frames) needs no disposition,
 * but rhea keeps every incoming delivery in the session's buffer until it is settled locally,
 * and the session's incoming window is the buffer's free space: after 2048 pre-settled
 * transfers the window closed and the peer could send nothing more. */
export function settleIfPresettled(delivery: Delivery): void {
  const d = delivery as unknown as { remote_settled?: boolean; settled?: boolean };
  if (d.remote_settled) d.settled = true;
}

export function parseUnroutable(properties: Record<string, unknown> | undefined): UnroutablePolicy {
  const value = properties?.['qpid.unroutable'];
  if (value === 'release' || value === 'discard' || value === 'reject') return value;
  return 'discard';
}
