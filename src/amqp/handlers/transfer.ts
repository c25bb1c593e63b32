// transfer (AMQP 1.0 §2.7.5): a message on a link the broker receives on, handed to its special
// node, its transaction coordinator (§4.5) or its producer (which buffers a transactional one in
// its transaction, §4.4.1). Only message format 0 (§3.2) is served; a special node's message is
// bounds-checked before rhea decodes it.

import type { Delivery, EventContext, Receiver } from 'rhea';
import { settleIfPresettled } from '../deliveries.js';
import { locateSections, MessageFormatError } from '../message-format.js';
import { RAW_FORMAT } from '../rhea-sessions.js';
import type { ServerState } from '../server-state.js';
import { onCoordinatorMessage } from './coordinator.js';

export function onMessage(server: ServerState, ctx: EventContext): void {
  const receiver = ctx.receiver as Receiver;
  const delivery = ctx.delivery as Delivery;
  const raw = ctx.message as unknown as Buffer;
  const format = (ctx as unknown as { format?: number }).format ?? 0;
  settleIfPresettled(delivery);
  const state = server.stateOf(ctx.connection);
  if (!state) return;
  const special = state.special.get(receiver);
  if (special) {
    if (format === RAW_FORMAT && !wellFormed(server, raw, delivery)) return;
    special.message?.(receiver, raw, delivery, format === RAW_FORMAT ? 0 : format);
    return;
  }
  const coordinator = state.coordinators.get(receiver);
  if (coordinator) {
    if (format !== RAW_FORMAT) delivery.reject({ condition: 'amqp:not-implemented', description: `message format ${format} is not supported` });
    else onCoordinatorMessage(server, state, coordinator, raw, delivery);
    return;
  }
  const producer = state.producers.get(receiver);
  if (!producer) return;
  if (format !== RAW_FORMAT) {
    delivery.reject({ condition: 'amqp:not-implemented', description: `message format ${format} is not supported` });
    return;
  }
  producer.onMessage(raw, delivery);
}

/** Special nodes decode their messages with rhea: its decoder must see only bounded bytes. */
function wellFormed(server: ServerState, raw: Buffer, delivery: Delivery): boolean {
  try {
    locateSections(raw, server.decodeLimits);
    return true;
  } catch (err) {
    if (!(err instanceof MessageFormatError)) throw err;
    server.logger.warn({ code: err.code, err: err.message }, 'malformed message to a special node rejected');
    if (!(delivery as unknown as { remote_settled?: boolean }).remote_settled) delivery.reject({ condition: err.condition, description: `malformed message: ${err.message}` });
    return false;
  }
}
