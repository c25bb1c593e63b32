// Link addresses (issue 3, "AMQP 1.0 over rhea's server side"): a queue name, an exchange name,
// or `exchange/key`; and Qpid's create-on-demand convention, where a terminus with capability
// `create-on-demand` plus `queue` (default) or `topic` asks the broker to create the node, with
// its settings in the terminus's dynamic-node-properties (`durable`, `auto-delete`,
// `exclusive`, `alternate-exchange`, `exchange-type`, every other key a declare argument).

import { z } from 'zod';
import type { ExchangeType } from '../../store/index.js';
import { toStoredArguments } from '../broker/arguments.js';
import type { Broker } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';

export type ResolvedNode =
  | { readonly kind: 'queue'; readonly queue: string }
  | { readonly kind: 'exchange'; readonly exchange: string; readonly key: string | null };

export interface Terminus {
  readonly address?: string | null;
  readonly capabilities?: unknown;
  readonly dynamic_node_properties?: unknown;
  readonly dynamic?: boolean;
  readonly durable?: number;
  readonly expiry_policy?: string;
  readonly distribution_mode?: string;
  readonly filter?: unknown;
}

const flag = z.union([z.boolean(), z.enum(['true', 'false', 'yes', 'no', '1', '0']).transform((v) => v === 'true' || v === 'yes' || v === '1')]);

const NodePropertiesSchema = z.object({
  durable: flag.optional(),
  'auto-delete': flag.optional(),
  exclusive: flag.optional(),
  'alternate-exchange': z.string().min(1).optional(),
  'exchange-type': z.enum(['direct', 'topic', 'fanout', 'headers']).optional(),
});

export interface NodeProperties {
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusive: boolean;
  readonly alternateExchange: string | null;
  readonly exchangeType: ExchangeType | null;
  readonly arguments: Record<string, string | number | boolean | null>;
}

export function capabilitiesOf(terminus: Terminus | undefined): string[] {
  const caps = terminus?.capabilities;
  if (caps === undefined || caps === null) return [];
  const list = Array.isArray(caps) ? caps : [caps];
  return list.map((c) => String(c));
}

/** Parses dynamic-node-properties, naming the property that has a bad value. */
export function parseNodeProperties(raw: unknown): NodeProperties {
  const props = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const parsed = NodePropertiesSchema.safeParse(props);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? '?');
    throw new BrokerError('INVALID_ARGUMENT', `invalid node property ${key}=${JSON.stringify(props[key])}: ${issue?.message ?? 'invalid'}`);
  }
  const known = new Set(['durable', 'auto-delete', 'exclusive', 'alternate-exchange', 'exchange-type']);
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(props)) if (!known.has(key)) rest[key] = value;
  return {
    durable: parsed.data.durable ?? false,
    autoDelete: parsed.data['auto-delete'] ?? false,
    exclusive: parsed.data.exclusive ?? false,
    alternateExchange: parsed.data['alternate-exchange'] ?? null,
    exchangeType: parsed.data['exchange-type'] ?? null,
    arguments: toStoredArguments(rest, 'node'),
  };
}

/** Finds the node an address names: an exact queue name first, then an exact exchange name,
 * then `exchange/key`. Undefined when none exists. */
export function findNode(broker: Broker, address: string): ResolvedNode | undefined {
  if (broker.queue(address)) return { kind: 'queue', queue: address };
  if (broker.exchange(address)) return { kind: 'exchange', exchange: address, key: null };
  const slash = address.indexOf('/');
  if (slash > 0) {
    const exchange = address.slice(0, slash);
    if (broker.exchange(exchange)) return { kind: 'exchange', exchange, key: address.slice(slash + 1) };
  }
  return undefined;
}

/** qpidd's node policies (--queue-patterns, --topic-patterns): unknown addresses matching a
 * pattern are created on demand, with no create-on-demand capability needed. */
export interface NodePolicies {
  readonly queuePatterns: RegExp | null;
  readonly topicPatterns: RegExp | null;
}

export const NO_NODE_POLICIES: NodePolicies = { queuePatterns: null, topicPatterns: null };

/** Resolves a link's address, creating the node when the terminus asks for it or a node policy
 * matches. Returns the node and the commit to wait for before the link is confirmed (null if
 * nothing was created). */
export function resolveOrCreate(
  broker: Broker,
  address: string,
  terminus: Terminus | undefined,
  owner: string,
  policies: NodePolicies = NO_NODE_POLICIES,
): { node: ResolvedNode; created: ReturnType<Broker['declareQueue']>['ticket'] } {
  const existing = findNode(broker, address);
  if (existing) return { node: existing, created: null };
  const caps = capabilitiesOf(terminus);
  if (!caps.includes('create-on-demand')) return createFromPolicy(broker, address, terminus, owner, policies, caps.includes('topic'));
  const props = parseNodeProperties(terminus?.dynamic_node_properties);
  if (caps.includes('topic')) {
    const change = broker.declareExchange({
      name: address,
      type: props.exchangeType ?? 'fanout',
      durable: props.durable,
      autoDelete: props.autoDelete,
      alternateExchange: props.alternateExchange,
      arguments: props.arguments,
    });
    return { node: { kind: 'exchange', exchange: address, key: null }, created: change.ticket };
  }
  const change = broker.declareQueue(
    {
      name: address,
      durable: props.durable,
      autoDelete: props.autoDelete,
      exclusive: props.exclusive,
      alternateExchange: props.alternateExchange,
      arguments: props.arguments,
    },
    owner,
  );
  return { node: { kind: 'queue', queue: address }, created: change.ticket };
}

/** A node policy's queue or topic exchange, durable when the link asks for a durable terminus
 * (AMQP 1.0 §3.5.5 terminus-durability above none). qpidd deletes a non-durable policy queue
 * once it is unused and empty; this broker keeps it (its auto-delete goes with the last
 * consumer even when messages remain, which would lose them). */
function createFromPolicy(broker: Broker, address: string, terminus: Terminus | undefined, owner: string, policies: NodePolicies, topicAsked: boolean): ReturnType<typeof resolveOrCreate> {
  const durable = (terminus?.durable ?? 0) > 0;
  const queueMatch = policies.queuePatterns?.test(address) ?? false;
  const topicMatch = policies.topicPatterns?.test(address) ?? false;
  if (topicMatch && (topicAsked || !queueMatch)) {
    const change = broker.declareExchange({ name: address, type: 'topic', durable, autoDelete: false, alternateExchange: null, arguments: {} });
    return { node: { kind: 'exchange', exchange: address, key: null }, created: change.ticket };
  }
  if (queueMatch) {
    const change = broker.declareQueue({ name: address, durable, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }, owner);
    return { node: { kind: 'queue', queue: address }, created: change.ticket };
  }
  throw new BrokerError('NOT_FOUND', `no queue or exchange named ${address}`);
}
