// The listing operations of the management command set, each answered one bounded page at a
// time (src/core/paging.ts): queues, exchanges and bindings of the messaging model, and what a
// broker's store holds (for operators and tests looking inside a backup). Every listing takes
// `after` (the previous page's `next`) and `limit`, and answers { items, next }.

import { createRequire } from 'node:module';
import { z } from 'zod';
import type { Store } from '../../store/index.js';
import type { Broker } from '../broker/broker.js';
import { duplicatesDropped } from '../broker/dedup.js';
import { jsonBytes, PAGE_BYTES_MAX, PAGE_ROWS_DEFAULT, PAGE_ROWS_MAX, sortedBy, takePage, type Page } from '../core/paging.js';

const rheaMessage = createRequire(import.meta.url)('rhea/lib/message.js') as { decode(buffer: Buffer): Record<string, unknown> };

/** Cursor and size of a page of a listing keyed by name. */
export const NamePage = z.object({
  // A name of digits comes as a number from an HTTP query string (?after=42).
  after: z.union([z.string().max(4096), z.number().transform(String)]).optional(),
  limit: z.number().int().min(1).max(PAGE_ROWS_MAX).default(PAGE_ROWS_DEFAULT),
});
/** A body shown by store-messages is cut to this many characters (bodyTruncated says so). */
export const BODY_CHARS_MAX = 64 * 1024;
/** A stored message larger than this is not decoded for store-messages (its body is null). */
const BODY_DECODE_BYTES_MAX = 1024 * 1024;
export const StoreMessagesPage = z.object({
  queue: z.string().min(1),
  after: z.number().int().min(0).default(0),
  limit: z.number().int().min(1).max(PAGE_ROWS_MAX).default(PAGE_ROWS_DEFAULT),
});

export type NamePageArgs = z.output<typeof NamePage>;

function byName<T extends { readonly name: string }>(rows: Iterable<T>): T[] {
  return sortedBy(rows, (r) => r.name);
}

function* mapped<T, U>(rows: Iterable<T>, f: (row: T) => U): Generator<U> {
  for (const row of rows) yield f(row);
}

export function queuesPage(broker: Broker, args: NamePageArgs): Page<Record<string, unknown>> {
  const rows = mapped(byName(broker.queues), (q) => ({
    name: q.name,
    durable: q.settings.durable,
    autoDelete: q.settings.autoDelete,
    exclusive: q.settings.exclusive,
    alternateExchange: q.settings.alternateExchange,
    replicate: q.settings.replicate,
    maxCount: q.settings.maxCount,
    maxSizeBytes: q.settings.maxSizeBytes,
    policy: q.settings.policy,
    arguments: q.settings.arguments,
    count: q.count,
    bytes: q.bytes,
    acquired: q.acquiredCount,
    consumers: q.consumers.length,
    flowStopped: q.flowStopped,
    flowStopCount: q.settings.flow?.stopCount ?? null,
    flowResumeCount: q.settings.flow?.resumeCount ?? null,
    flowStopSize: q.settings.flow?.stopBytes ?? null,
    flowResumeSize: q.settings.flow?.resumeBytes ?? null,
    dedupWindow: q.settings.dedupWindow ?? null,
    duplicatesDropped: duplicatesDropped(q),
  }));
  return takePage(rows, (r) => r.name, args);
}

export function exchangesPage(broker: Broker, args: NamePageArgs): Page<Record<string, unknown>> {
  const rows = mapped(byName(broker.exchanges), (e) => ({
    name: e.name,
    type: e.settings.type,
    durable: e.settings.durable,
    builtIn: e.settings.builtIn,
    replicate: e.settings.builtIn ? 'none' : e.settings.replicate,
    alternateExchange: e.settings.alternateExchange,
    arguments: e.settings.arguments,
    bindings: e.bindings.length,
    unrouted: e.unroutedCount,
  }));
  return takePage(rows, (r) => r.name, args);
}

/** A binding's cursor: its three names, which together are unique. */
function bindingKey(b: { readonly exchange: string; readonly queue: string; readonly key: string }): string {
  return JSON.stringify([b.exchange, b.queue, b.key]);
}

export function bindingsPage(broker: Broker, args: NamePageArgs): Page<Record<string, unknown>> {
  const rows: { exchange: string; queue: string; key: string; arguments: unknown }[] = [];
  for (const exchange of broker.exchanges) {
    for (const b of exchange.bindings) rows.push({ exchange: exchange.name, queue: b.queue.name, key: b.key, arguments: b.arguments });
  }
  return takePage(sortedBy(rows, bindingKey), bindingKey, args);
}

/** What a store holds, in numbers (the rows are store-queues, store-exchanges, store-bindings). */
export function storeSummary(store: Store): { lastLsn: number; epoch: number; queues: number; exchanges: number; bindings: number } {
  const meta = store.meta();
  return { lastLsn: meta.lastLsn, epoch: meta.epoch, queues: store.queues().length, exchanges: store.exchanges().length, bindings: store.bindings().length };
}

export function storeQueuesPage(store: Store, args: NamePageArgs): Page<Record<string, unknown>> {
  const rows = mapped(byName(store.queues().map((q) => ({ name: q.declare.queue, q }))), ({ name, q }) => ({ name, count: q.count, bytes: q.bytes, durable: q.declare.durable, arguments: { ...q.declare.arguments } }));
  return takePage(rows, (r) => r.name, args);
}

export function storeExchangesPage(store: Store, args: NamePageArgs): Page<Record<string, unknown>> {
  const rows = byName(store.exchanges().map((e) => ({ name: e.exchange, type: e.type })));
  return takePage(rows, (r) => r.name, args);
}

export function storeBindingsPage(store: Store, args: NamePageArgs): Page<Record<string, unknown>> {
  const rows = store.bindings().map((b) => ({ exchange: b.exchange, queue: b.queue, key: b.key }));
  return takePage(sortedBy(rows, bindingKey), bindingKey, args);
}

export interface StoredMessageRow {
  readonly position: number;
  readonly messageId: number;
  readonly size: number;
  readonly persistent: boolean;
  /** The decoded AMQP body (a string for binary data); null when not decoded (too large). */
  readonly body: unknown;
  readonly bodyTruncated?: true;
}

/** The messages a queue holds in the store, oldest first, with their decoded bodies: one page,
 * bounded in rows and bytes, each body cut to BODY_CHARS_MAX. Bodies are read only for the rows
 * that fit. */
export function storeMessagesPage(store: Store, args: z.output<typeof StoreMessagesPage>): Page<StoredMessageRow, number> {
  // One more index entry than asked for says whether there is a next page.
  const entries = store.readQueue(args.queue, args.after, args.limit + 1);
  const items: StoredMessageRow[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (items.length >= args.limit || (items.length > 0 && bytes >= PAGE_BYTES_MAX)) return { items, next: items[items.length - 1]!.position };
    const row = messageRow(store, entry);
    items.push(row);
    bytes += jsonBytes(row);
  }
  return { items, next: null };
}

function messageRow(store: Store, entry: { position: number; messageId: number; size: number; persistent: boolean }): StoredMessageRow {
  const base = { position: entry.position, messageId: entry.messageId, size: entry.size, persistent: entry.persistent };
  if (entry.size > BODY_DECODE_BYTES_MAX) return { ...base, body: null, bodyTruncated: true };
  let body: unknown = null;
  let bytes: Uint8Array | undefined;
  try {
    bytes = store.readMessage(entry.messageId);
  } catch (err) {
    // A body that fails its checksum is never shown (nor delivered): say so instead.
    return { ...base, body: `(unreadable: ${(err as Error).message})` };
  }
  try {
    body = bytes ? rheaMessage.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))['body'] : null;
  } catch {
    body = '(undecodable)';
  }
  if (Buffer.isBuffer(body)) body = body.toString('utf8');
  if (typeof body === 'string' && body.length > BODY_CHARS_MAX) return { ...base, body: body.slice(0, BODY_CHARS_MAX), bodyTruncated: true };
  // Anything else (a list, a map) is bounded by the message, itself at most BODY_DECODE_BYTES_MAX.
  return { ...base, body };
}
