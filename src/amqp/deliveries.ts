// Small rules about deliveries and links shared by the listener (server.ts) and the HA
// transport: settling what the peer pre-settled, a sending link's unroutable policy, and how a
// link is refused.

import type { Delivery, Receiver, Sender } from 'rhea';
import type { UnroutablePolicy } from '../broker/broker.js';
import type { Logger } from '../core/log.js';
import { errorBody } from './inbound.js';

/** Refuses an attach: a null terminus, then the detach with the error (AMQP 1.0 §2.6.3); a
 * terminus set before the refusal (the address resolved, then subscribing failed) would tell
 * the client its link was established. */
export function refuseLink(link: Sender | Receiver, err: unknown, logger: Logger): void {
  const body = errorBody(err);
  logger.info({ link: link.name, condition: body.condition, description: body.description }, 'link refused');
  const local = (link as unknown as { local: { attach: { source?: unknown; target?: unknown } } }).local.attach;
  if (link.is_sender()) local.source = null;
  else local.target = null;
  link.close(body as never);
}

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
