// disposition (AMQP 1.0 §2.7.6) from a peer that consumes: the outcome (§3.4) of a delivery the
// broker sent, handed to its consumer link, which settles the queue entry.

import type { Delivery, EventContext } from 'rhea';
import type { ServerState } from '../server-state.js';
import { consumerOf } from './flow.js';

export function onOutcome(server: ServerState, ctx: EventContext, outcome: 'accepted' | 'released' | 'rejected' | 'modified'): void {
  const consumer = consumerOf(server, ctx);
  if (consumer) consumer.outcome(ctx.delivery as Delivery, outcome);
}
