// Comparing what brokers hold, for the checkers: the replicated part of a store as text (so
// that a backup can be compared with its primary after convergence), and log records compared
// allowing for the replication filter.

import type { StoreRecord } from '../../store/index.js';
import type { SimBroker } from './broker.js';
import { messageKey, parseBody } from './protocol.js';

export function summarize(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

/** The replicated part of a broker's store, as comparable text. */
export function replicatedState(broker: SimBroker): { queues: string; exchanges: string; bindings: string; messages: string } {
  const store = broker.store;
  if (!store) return { queues: '(down)', exchanges: '(down)', bindings: '(down)', messages: '(down)' };
  const defaultLevel = broker.config().ha.replicate;
  const level = (args: Readonly<Record<string, unknown>>): string => {
    const value = args['qpid.replicate'];
    return value === 'none' || value === 'configuration' || value === 'all' ? value : defaultLevel;
  };
  const queues = store.queues().filter((q) => level(q.declare.arguments) !== 'none');
  const exchanges = store.exchanges().filter((e) => level(e.arguments) !== 'none');
  const queueNames = new Set(queues.map((q) => q.declare.queue));
  const exchangeNames = new Set(exchanges.map((e) => e.exchange));
  const bindings = store.bindings().filter((b) => queueNames.has(b.queue) && exchangeNames.has(b.exchange));
  const messages: string[] = [];
  for (const q of queues) {
    if (level(q.declare.arguments) !== 'all') continue;
    const entries = store.readQueue(q.declare.queue, 0, Number.MAX_SAFE_INTEGER);
    messages.push(`${q.declare.queue}[${entries.map((e) => `${e.position}=${(() => {
      const body = store.readMessage(e.messageId);
      const id = body ? parseBody(body) : null;
      return id ? messageKey(id) : `#${e.messageId}`;
    })()}`).join(',')}]`);
  }
  return {
    queues: JSON.stringify(queues.map((q) => q.declare)),
    exchanges: JSON.stringify(exchanges),
    bindings: JSON.stringify(bindings),
    messages: messages.join(' '),
  };
}

/** The same record, allowing for the replication filter dropping some enqueue targets. */
export function sameRecord(applied: StoreRecord, original: StoreRecord): boolean {
  if (applied.kind === 'enqueue' && original.kind === 'enqueue') {
    return (
      applied.messageId === original.messageId &&
      applied.persistent === original.persistent &&
      applied.expiresAtMs === original.expiresAtMs &&
      Buffer.compare(Buffer.from(applied.body), Buffer.from(original.body)) === 0 &&
      applied.targets.every((t) => original.targets.some((o) => o.queue === t.queue && o.position === t.position))
    );
  }
  return JSON.stringify(applied) === JSON.stringify(original);
}
