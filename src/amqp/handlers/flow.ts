// flow (AMQP 1.0 §2.7.4, §2.6.7): a peer gave credit to, or asked to drain, a link the broker
// sends on; its consumer sends what the credit allows (and, draining, uses up the rest).

import type { EventContext, Sender } from 'rhea';
import type { ConsumerLink } from '../outbound.js';
import type { ServerState } from '../server-state.js';

export function consumerOf(server: ServerState, ctx: EventContext): ConsumerLink | undefined {
  return server.stateOf(ctx.connection)?.consumers.get(ctx.sender as Sender);
}

export function onCreditChanged(server: ServerState, ctx: EventContext, draining: boolean): void {
  consumerOf(server, ctx)?.creditChanged(draining);
}
