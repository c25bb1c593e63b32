// What a client's attach asks of the broker's model, and the terminus the broker answers with
// (AMQP 1.0 §2.6.3, §3.5). A sending link publishes to a queue, an exchange (`exchange/key`),
// the anonymous relay (no address), or a temporary queue (a dynamic target); a receiving link
// consumes a queue, a private subscription queue bound to an exchange, or a temporary queue (a
// dynamic source). Temporary queues are named in the reply and live as long as their link.

import { randomUUID } from 'node:crypto';
import type { Broker, PublishTarget, UnroutablePolicy } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import { resolveOrCreate, type NodePolicies, type Terminus } from './address.js';
import { selectorOf } from '../broker/arguments.js';
import type { Selector } from '../selector/index.js';
import { selectorFilter, sourceFilters, subscriptionFilters } from './filters.js';
import { bindCheck, checkedBroker, consumeCheck, publishCheck, type Check } from '../security/acl-requests.js';

export interface AttachScope {
  readonly broker: Broker;
  /** The connection's id: owner of exclusive queues it creates. */
  readonly owner: string;
  readonly containerId: string;
  readonly policies: NodePolicies;
  /** The connection's identity asks the ACL; throws UNAUTHORIZED when it denies. */
  readonly authorize: (check: Check) => void;
}

export interface ProducerAttach {
  /** null: the anonymous relay (each message's `to` names its node). */
  readonly target: PublishTarget | null;
  /** The target of our attach reply. */
  readonly reply: Record<string, unknown>;
  /** A temporary queue made for a dynamic target: deleted when the link detaches. */
  readonly temporaryQueue: string | null;
}

export interface ConsumerAttach {
  readonly queue: string;
  readonly browse: boolean;
  /** The consumer's own selector (on a queue); on an exchange it is the subscription queue's
   * qpid.filter instead, so null here. */
  readonly selector: Selector | null;
  /** The source of our attach reply. */
  readonly reply: Record<string, unknown>;
  /** A temporary queue made for a dynamic source (auto-deleted with its consumer). */
  readonly temporaryQueue: string | null;
}

function temporaryQueueName(): string {
  return `TempQueue${randomUUID()}`;
}

export function attachProducer(scope: AttachScope, target: Terminus | undefined, unroutable: UnroutablePolicy): ProducerAttach {
  // Every node this attach makes is checked against the ACL as it is made (acl-requests.ts).
  const broker = checkedBroker(scope.broker, scope.authorize);
  if (target?.dynamic) {
    // A dynamic target asks for a node of the broker's choosing (§3.5.4): a temporary queue
    // that others can consume from (a reply address), not exclusive to this connection.
    const name = temporaryQueueName();
    broker.declareQueue({ name, durable: false, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }, scope.owner);
    return { target: { kind: 'queue', queue: name }, reply: { address: name, dynamic: true }, temporaryQueue: name };
  }
  const address = target?.address ?? null;
  if (address === null || address === '') {
    // The anonymous relay: a target with a null address. A null terminus in the reply would
    // mean the link was refused (§2.6.3).
    scope.authorize(publishCheck(null));
    return { target: null, reply: {}, temporaryQueue: null };
  }
  const { node } = resolveOrCreate(broker, address, target, scope.owner, scope.policies);
  scope.authorize(publishCheck(node));
  const publishTarget: PublishTarget = node.kind === 'queue' ? node : { ...node, unroutable };
  return { target: publishTarget, reply: { address, ...(target?.capabilities ? { capabilities: target.capabilities as string[] } : {}) }, temporaryQueue: null };
}

/** The queue a consumer reads: the named queue, a fresh temporary queue for a dynamic source, or
 * a private subscription queue bound to an exchange (durable when the link asks for a durable
 * terminus that never expires, named after the client's container and link). */
export function attachConsumer(scope: AttachScope, source: Terminus | undefined, linkName: string): ConsumerAttach {
  const broker = checkedBroker(scope.broker, scope.authorize);
  const browse = source?.distribution_mode === 'copy';
  const mode = browse || source?.distribution_mode === 'move' ? { distribution_mode: source?.distribution_mode } : {};
  if (source?.dynamic) {
    const name = temporaryQueueName();
    scope.authorize(consumeCheck(name));
    broker.declareQueue({ name, durable: false, autoDelete: true, exclusive: true, alternateExchange: null, arguments: {} }, scope.owner);
    return { queue: name, browse, selector: null, reply: { address: name, dynamic: true, ...mode }, temporaryQueue: name };
  }
  const address = source?.address;
  if (!address) throw new BrokerError('NOT_FOUND', 'a receiving link needs a source address (or a dynamic source)');
  const { node } = resolveOrCreate(broker, address, source, scope.owner, scope.policies);
  const filters = sourceFilters(source?.filter);
  // A bad selector refuses the attach before anything is declared or bound.
  const selectorText = selectorFilter(filters);
  const selector = selectorText === null ? null : selectorOf(selectorText);
  const honoured = selector ? (['selector'] as const) : [];
  if (node.kind === 'queue') {
    scope.authorize(consumeCheck(node.queue));
    const inForce = subscriptionFilters(filters, null, honoured);
    return { queue: node.queue, browse, selector, reply: { address, ...mode, ...(inForce.echo ? { filter: inForce.echo } : {}) }, temporaryQueue: null };
  }
  const type = broker.exchange(node.exchange)?.settings.type ?? 'direct';
  const inForce = subscriptionFilters(filters, type, honoured);
  const key = node.key ?? inForce.bindingKey ?? (type === 'topic' ? '#' : '');
  const durableSubscription = (source?.durable ?? 0) > 0 && source?.expiry_policy === 'never';
  const name = durableSubscription ? `${scope.containerId}_${linkName}` : `${node.exchange}_${linkName}_${randomUUID().slice(0, 8)}`;
  // Checked before the subscription queue is made, so that a refusal leaves nothing behind.
  scope.authorize(consumeCheck(name));
  scope.authorize(bindCheck('bind', node.exchange, name, key));
  // On an exchange the selector decides what enters the subscription queue (qpidd's qpid.filter):
  // stored and replicated with the queue, so a durable subscription keeps it across restarts.
  const args: Record<string, string> = selector ? { 'qpid.filter': selector.text } : {};
  broker.declareQueue({ name, durable: durableSubscription, autoDelete: !durableSubscription, exclusive: !durableSubscription, alternateExchange: null, arguments: args }, scope.owner);
  broker.bind(node.exchange, name, key, type === 'headers' ? (inForce.headers ?? {}) : {});
  return { queue: name, browse, selector: null, reply: { address, ...mode, ...(inForce.echo ? { filter: inForce.echo } : {}) }, temporaryQueue: null };
}
