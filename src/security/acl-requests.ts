// What each broker operation asks of the ACL, in qpidd's terms (reference §1.12.9 and qpid-cpp's
// AclValidator): creating or deleting a node, binding, publishing (to an exchange, the default
// exchange `amq.default` with the queue as routing key for a queue), consuming, purging, and
// management commands as `access method` (or `access query` for read-only ones) on the broker.
// Pure: names and settings in, ACL requests out (the user is added by the caller).

import type { AclRequest } from './acl.js';
import type { Broker } from '../broker/broker.js';

export type Check = Omit<AclRequest, 'user'>;

/** qpidd's name for the default exchange in ACL rules. */
export const DEFAULT_EXCHANGE_NAME = 'amq.default';

const bool = (value: unknown): string => String(value === true);

export function createQueueCheck(declare: { name: string; durable: boolean; autoDelete: boolean; exclusive: boolean; alternateExchange: string | null }): Check {
  return {
    action: 'create',
    object: 'queue',
    properties: { name: declare.name, durable: bool(declare.durable), autodelete: bool(declare.autoDelete), exclusive: bool(declare.exclusive), ...(declare.alternateExchange ? { alternate: declare.alternateExchange } : {}) },
  };
}

export function createExchangeCheck(declare: { name: string; type: string; durable: boolean; autoDelete?: boolean; alternateExchange: string | null }): Check {
  return {
    action: 'create',
    object: 'exchange',
    properties: { name: declare.name, type: declare.type, durable: bool(declare.durable), autodelete: bool(declare.autoDelete), ...(declare.alternateExchange ? { alternate: declare.alternateExchange } : {}) },
  };
}

export function bindCheck(action: 'bind' | 'unbind', exchange: string, queue: string, key: string): Check {
  return { action, object: 'exchange', properties: { name: exchange, queuename: queue, routingkey: key } };
}

/** Publishing to a node: an exchange (with the link's fixed key if it has one), or a queue
 * through the default exchange. The anonymous relay has no name: only rules without one apply. */
export function publishCheck(node: { kind: 'queue'; queue: string } | { kind: 'exchange'; exchange: string; key: string | null } | null): Check {
  if (node === null) return { action: 'publish', object: 'exchange' };
  if (node.kind === 'queue') return { action: 'publish', object: 'exchange', properties: { name: DEFAULT_EXCHANGE_NAME, routingkey: node.queue } };
  return { action: 'publish', object: 'exchange', properties: { name: node.exchange, ...(node.key !== null ? { routingkey: node.key } : {}) } };
}

export function consumeCheck(queue: string): Check {
  return { action: 'consume', object: 'queue', properties: { name: queue } };
}

/** The broker as attach.ts and address.ts use it, with creation and binding checked first: every
 * way a link can make a node (create-on-demand, node policies, dynamic and subscription queues)
 * goes through these three calls. */
export function checkedBroker(broker: Broker, authorize: (check: Check) => void): Broker {
  return new Proxy(broker, {
    get(target, property, receiver) {
      if (property === 'declareQueue') {
        return (declare: Parameters<Broker['declareQueue']>[0], owner: string | null) => {
          authorize(createQueueCheck(declare));
          return target.declareQueue(declare, owner);
        };
      }
      if (property === 'declareExchange') {
        return (declare: Parameters<Broker['declareExchange']>[0]) => {
          authorize(createExchangeCheck(declare));
          return target.declareExchange(declare);
        };
      }
      if (property === 'bind') {
        return (exchange: string, queue: string, key: string, args: Parameters<Broker['bind']>[3]) => {
          authorize(bindCheck('bind', exchange, queue, key));
          return target.bind(exchange, queue, key, args);
        };
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A backup asking for the replication stream, which carries every message. */
export const REPLICATION_CHECK: Check = { action: 'access', object: 'method', properties: { name: 'ha-replication', schemaclass: 'broker', schemapackage: 'org.apache.qpid.broker' }, explicit: true };

/** Commands that only read. */
const QUERIES = new Set(['ping', 'status', 'queues', 'exchanges', 'bindings', 'stats', 'store-summary', 'store-queues', 'store-exchanges', 'store-bindings', 'store-messages', 'store-inspect', 'replication', 'queue-stats', 'replication-status', 'connections', 'links', 'subscriptions', 'queue-detail', 'queue-messages']);
/** Commands that change who is primary or what replicates, or whether a primary serves (the
 * cluster manager's lease and primary hint), and the manager's report of its decisions (which
 * operators read as the truth): never allowed by a broad rule. */
const EXPLICIT = new Set(['promote', 'replicate', 'lease', 'primary-hint', 'manager-report']);

/** The ACL checks of one management command, in order: the command itself, then what it does
 * to a queue or exchange. `input` is the request's raw arguments (checked before parsing, so a
 * denied identity learns nothing from argument errors). */
export function managementChecks(operation: string, input: unknown): Check[] {
  const a = (input ?? {}) as Record<string, unknown>;
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  const command: Check = QUERIES.has(operation)
    ? { action: 'access', object: 'query', properties: { name: operation, schemaclass: 'broker' } }
    : { action: 'access', object: 'method', properties: { name: operation, schemaclass: 'broker', schemapackage: 'org.apache.qpid.broker' }, ...(EXPLICIT.has(operation) ? { explicit: true } : {}) };
  const checks = [command];
  switch (operation) {
    case 'add-queue':
      checks.push(createQueueCheck({ name: text(a['name']), durable: a['durable'] === true, autoDelete: a['autoDelete'] === true, exclusive: a['exclusive'] === true, alternateExchange: text(a['alternateExchange']) || null }));
      break;
    case 'del-queue':
      checks.push({ action: 'delete', object: 'queue', properties: { name: text(a['name']) } });
      break;
    case 'add-exchange':
      checks.push(createExchangeCheck({ name: text(a['name']), type: text(a['type']), durable: a['durable'] === true, autoDelete: a['autoDelete'] === true, alternateExchange: text(a['alternateExchange']) || null }));
      break;
    case 'del-exchange':
      checks.push({ action: 'delete', object: 'exchange', properties: { name: text(a['name']) } });
      break;
    case 'bind':
    case 'unbind':
      checks.push(bindCheck(operation, text(a['exchange']), text(a['queue']), text(a['key'])));
      break;
    case 'purge':
      checks.push({ action: 'purge', object: 'queue', properties: { name: text(a['queue']) } });
      break;
    // Browsing shows the messages' contents: whoever may not consume from the queue sees none.
    case 'queue-messages':
      checks.push(consumeCheck(text(a['queue'])));
      break;
  }
  return checks;
}
