// attach with the broker as sender (AMQP 1.0 §2.7.3, §2.6.3): a peer's receiving link, from a
// special node, or a consumer of a queue (§3.5.3 source, with its filters and distribution
// mode). A refusal answers with a null source and the detach that carries the error.

import type { EventContext, Sender } from 'rhea';
import { BrokerError } from '../../broker/errors.js';
import type { Terminus } from '../address.js';
import { attachConsumer } from '../attach.js';
import { refuseLink } from '../deliveries.js';
import { ConsumerLink } from '../outbound.js';
import type { ServerState } from '../server-state.js';
import { scopeOf } from './attach-scope.js';

export function onSenderOpen(server: ServerState, ctx: EventContext): void {
  const sender = ctx.sender as Sender;
  const state = server.stateOf(ctx.connection);
  if (!state) {
    if (!server.dropped.has(ctx.connection)) sender.close({ condition: 'amqp:not-allowed', description: 'connection not admitted' } as never);
    return;
  }
  const remote = (sender as unknown as { remote: { attach: { source?: Terminus; name: string } } }).remote.attach;
  const source = remote.source;
  const address = source?.address ?? null;
  const special = address !== null ? server.nodes.get(address) : undefined;
  if (special?.senderOpened) {
    state.special.set(sender, special);
    sender.set_source({ address: address as string });
    special.senderOpened(sender, state.info, state.role);
    return;
  }
  if (state.role === 'replication') {
    refuseLink(sender, new BrokerError('NOT_ALLOWED', 'a replication connection cannot consume'), server.logger);
    return;
  }
  const service = server.service;
  if (!service) {
    refuseLink(sender, new BrokerError('NOT_ALLOWED', 'this broker is not serving clients (not primary)'), server.logger);
    return;
  }
  const broker = service.broker;
  try {
    const attach = attachConsumer(scopeOf(server, service, state), source, remote.name);
    sender.set_source(attach.reply as never);
    const consumer = new ConsumerLink(broker, sender, {
      browse: attach.browse,
      selector: attach.selector,
      maxUnsettled: server.options.maxUnsettled,
      logger: server.logger,
      transactions: () => state.transactions,
      onQueueDeleted: () => sender.close({ condition: 'amqp:resource-deleted', description: `queue ${attach.queue} was deleted` } as never),
    });
    const queue = broker.subscribe(attach.queue, consumer, state.info.id);
    consumer.attachTo(queue);
    state.consumers.set(sender, consumer);
  } catch (err) {
    refuseLink(sender, err, server.logger);
  }
}
