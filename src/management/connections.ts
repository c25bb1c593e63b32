// The connection listings of the management command set: connections (qpid-stat -c), their
// links (the console's connections view) and subscriptions (the consumers, qpid-stat -u), each
// one bounded page keyed by connection id (and link name), read from the AMQP server's
// snapshot when asked.

import type { ConnectionSnapshot } from '../amqp/server.js';
import { sortedBy, takePage, type Page } from '../core/paging.js';
import type { NamePageArgs } from './listings.js';

/** Where the listings read the connections (the AMQP server; absent in tests of the commands). */
export type ConnectionsSource = () => readonly ConnectionSnapshot[];

/** Properties worth showing of what a client says about itself in its open frame. */
function clientProduct(properties: Readonly<Record<string, unknown>>): string | null {
  const product = properties['product'];
  return typeof product === 'string' ? product.slice(0, 200) : null;
}

export function connectionsPage(connections: readonly ConnectionSnapshot[], args: NamePageArgs): Page<Record<string, unknown>> {
  const rows = sortedBy(connections, (c) => c.info.id).map((c) => ({
    id: c.info.id,
    address: c.info.remoteAddress,
    containerId: c.info.containerId,
    user: c.info.user,
    role: c.role,
    product: clientProduct(c.info.properties),
    producers: c.producers.length,
    consumers: c.consumers.length,
  }));
  return takePage(rows, (r) => r.id, args);
}

type LinkRow = {
  readonly key: string;
  readonly connection: string;
  readonly address: string;
  readonly direction: 'in' | 'out';
  readonly name: string;
  /** The queue or exchange: the target of a producer, the queue of a consumer. */
  readonly node: string | null;
  readonly browse: boolean;
};

function linkRows(connections: readonly ConnectionSnapshot[], only?: 'out'): LinkRow[] {
  const rows: LinkRow[] = [];
  for (const c of connections) {
    const base = { connection: c.info.id, address: c.info.remoteAddress };
    if (only === undefined) for (const p of c.producers) rows.push({ ...base, key: JSON.stringify([c.info.id, 'in', p.name]), direction: 'in', name: p.name, node: p.target, browse: false });
    for (const s of c.consumers) rows.push({ ...base, key: JSON.stringify([c.info.id, 'out', s.name]), direction: 'out', name: s.name, node: s.queue, browse: s.browse });
  }
  return sortedBy(rows, (r) => r.key);
}

/** Every link: producers (in) and consumers (out). */
export function linksPage(connections: readonly ConnectionSnapshot[], args: NamePageArgs): Page<Record<string, unknown>> {
  return takePage(linkRows(connections), (r) => r.key, args);
}

/** The consumers only, as qpid-stat -u lists subscriptions. */
export function subscriptionsPage(connections: readonly ConnectionSnapshot[], args: NamePageArgs): Page<Record<string, unknown>> {
  return takePage(linkRows(connections, 'out'), (r) => r.key, args);
}
