// Exchanges and their bindings: routing a message to the set of queues it belongs on. Pure.
// Types as in Qpid: direct (key equality), topic (words with * and #, topic.ts), fanout
// (every binding), headers (amq.match: binding arguments matched against the message's
// application properties, x-match all or any).

import type { Arguments, ExchangeType } from '../../store/index.js';
import { topicMatches } from './topic.js';
import type { Queue, ReplicateLevel } from './queue.js';

export interface ExchangeSettings {
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly alternateExchange: string | null;
  readonly arguments: Arguments;
  readonly replicate: ReplicateLevel;
  /** The default exchange and amq.*: exist on every broker, never replicated, never deleted. */
  readonly builtIn: boolean;
}

export interface Binding {
  readonly exchange: string;
  readonly queue: Queue;
  readonly key: string;
  readonly arguments: Arguments;
}

export interface RoutableMessage {
  readonly routingKey: string;
  readonly applicationProperties: Readonly<Record<string, unknown>> | null;
}

export const BUILT_IN_EXCHANGES: readonly { name: string; type: ExchangeType }[] = [
  { name: '', type: 'direct' },
  { name: 'amq.direct', type: 'direct' },
  { name: 'amq.topic', type: 'topic' },
  { name: 'amq.fanout', type: 'fanout' },
  { name: 'amq.match', type: 'headers' },
];

export class Exchange {
  readonly settings: ExchangeSettings;
  private readonly bindingList: Binding[] = [];
  /** direct: key -> bindings, so routing is one lookup. */
  private readonly byKey = new Map<string, Binding[]>();
  /** Messages published here that no binding (nor alternate exchange) took: dropped by default,
   * as qpidd does, or refused under the link option qpid.unroutable. Since the broker started. */
  unroutedCount = 0;

  constructor(settings: ExchangeSettings) {
    this.settings = settings;
  }

  get name(): string {
    return this.settings.name;
  }

  get bindings(): readonly Binding[] {
    return this.bindingList;
  }

  findBinding(queue: string, key: string): Binding | undefined {
    return this.bindingList.find((b) => b.queue.name === queue && b.key === key);
  }

  /** Adds a binding; false if the same (queue, key) is already bound. */
  bind(binding: Binding): boolean {
    if (this.findBinding(binding.queue.name, binding.key)) return false;
    this.bindingList.push(binding);
    const list = this.byKey.get(binding.key);
    if (list) list.push(binding);
    else this.byKey.set(binding.key, [binding]);
    return true;
  }

  unbind(queue: string, key: string): Binding | undefined {
    const index = this.bindingList.findIndex((b) => b.queue.name === queue && b.key === key);
    if (index === -1) return undefined;
    const [removed] = this.bindingList.splice(index, 1);
    const list = this.byKey.get(key);
    if (list) {
      const at = list.findIndex((b) => b.queue.name === queue);
      if (at !== -1) list.splice(at, 1);
      if (list.length === 0) this.byKey.delete(key);
    }
    return removed;
  }

  /** Removes every binding to the queue (the queue is being deleted). */
  unbindQueue(queue: string): Binding[] {
    const removed = this.bindingList.filter((b) => b.queue.name === queue);
    for (const binding of removed) this.unbind(queue, binding.key);
    return removed;
  }

  /** The queues the message goes to, each once. */
  route(message: RoutableMessage): Set<Queue> {
    const queues = new Set<Queue>();
    switch (this.settings.type) {
      case 'direct':
        for (const binding of this.byKey.get(message.routingKey) ?? []) queues.add(binding.queue);
        break;
      case 'fanout':
        for (const binding of this.bindingList) queues.add(binding.queue);
        break;
      case 'topic':
        for (const binding of this.bindingList) {
          if (topicMatches(binding.key, message.routingKey)) queues.add(binding.queue);
        }
        break;
      case 'headers':
        for (const binding of this.bindingList) {
          if (headersMatch(binding.arguments, message.applicationProperties)) queues.add(binding.queue);
        }
        break;
    }
    return queues;
  }
}

/** amq.match semantics: every binding argument except x-match must match the message's
 * application property of the same name; a null or empty-string binding value only requires the
 * property to be present. x-match=all (the default) needs all of them, any needs one. */
export function headersMatch(bindingArguments: Arguments, properties: Readonly<Record<string, unknown>> | null): boolean {
  const mode = bindingArguments['x-match'] === 'any' ? 'any' : 'all';
  let tested = 0;
  for (const [key, expected] of Object.entries(bindingArguments)) {
    if (key === 'x-match') continue;
    tested++;
    const present = properties !== null && Object.prototype.hasOwnProperty.call(properties, key);
    const actual = present ? (properties as Record<string, unknown>)[key] : undefined;
    const matched = present && (expected === null || expected === '' || looselyEqual(expected, actual));
    if (mode === 'any' && matched) return true;
    if (mode === 'all' && !matched) return false;
  }
  return mode === 'all' ? tested > 0 : false;
}

function looselyEqual(expected: unknown, actual: unknown): boolean {
  if (expected === actual) return true;
  // Binding arguments set from tools often arrive as strings; compare numbers by value.
  if (typeof actual === 'number' || typeof actual === 'bigint') return String(actual) === String(expected);
  if (typeof actual === 'boolean') return String(actual) === String(expected);
  return false;
}
