// attach with the broker as receiver (AMQP 1.0 §2.7.3, §2.6.3): a peer's sending link, to a
// special node, a transaction coordinator (§4.5.1, coordinator.ts), or a producer to a queue or
// exchange (§3.5.3 target). A refusal answers with a
// null target and the detach that carries the error.

import type { EventContext, Receiver } from 'rhea';
import { BrokerError } from '../../broker/errors.js';
import type { Terminus } from '../address.js';
import { attachProducer } from '../attach.js';
import { parseUnroutable, refuseLink } from '../deliveries.js';
import { ProducerLink } from '../inbound.js';
import type { ServerState } from '../server-state.js';
import { scopeOf } from './attach-scope.js';
import { onCoordinatorAttach } from './coordinator.js';
import { coordinatorOf } from '../transaction-codec.js';
import { keepRawTransferState } from '../rhea-transactions.js';

export function onReceiverOpen(server: ServerState, ctx: EventContext): void {
  const receiver = ctx.receiver as Receiver;
  const state = server.stateOf(ctx.connection);
  if (!state) {
    if (!server.dropped.has(ctx.connection)) receiver.close({ condition: 'amqp:not-allowed', description: 'connection not admitted' } as never);
    return;
  }
  keepRawTransferState((receiver as unknown as { session: { incoming?: object } }).session);
  const remote = (receiver as unknown as { remote: { attach: { target?: Terminus; properties?: Record<string, unknown> } } }).remote.attach;
  if (coordinatorOf(remote.target)) {
    onCoordinatorAttach(server, state, receiver);
    return;
  }
  const target = remote.target;
  const address = target?.address ?? null;
  const special = address !== null ? server.nodes.get(address) : undefined;
  if (special?.receiverOpened) {
    state.special.set(receiver, special);
    receiver.set_target({ address: address as string });
    special.receiverOpened(receiver, state.info, state.role);
    return;
  }
  if (state.role === 'replication') {
    refuseLink(receiver, new BrokerError('NOT_ALLOWED', 'a replication connection cannot publish'), server.logger);
    return;
  }
  const service = server.service;
  if (!service) {
    refuseLink(receiver, new BrokerError('NOT_ALLOWED', 'this broker is not serving clients (not primary)'), server.logger);
    return;
  }
  const unroutable = parseUnroutable(remote.properties);
  try {
    const attach = attachProducer(scopeOf(server, service, state), target, unroutable);
    receiver.set_target(attach.reply as never);
    if (attach.temporaryQueue !== null) state.temporaryQueues.set(receiver, attach.temporaryQueue);
    const producer = new ProducerLink(service.broker, service.settlements, receiver, attach.target, { window: server.options.maxUnsettled, unroutable, clock: server.clock, logger: server.logger, decode: server.decodeLimits, transactions: () => state.transactions });
    state.producers.set(receiver, producer);
  } catch (err) {
    refuseLink(receiver, err, server.logger);
  }
}
