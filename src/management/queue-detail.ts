// A queue's page (the console, GET /api/v1/queues/NAME): its settings and figures, its
// bindings and its consumers; and browsing its messages (headers and a body preview) without
// acquiring them, one bounded page at a time from the messages in memory (paged-out messages
// are in the store: store-messages lists those).

import { createRequire } from 'node:module';
import { z } from 'zod';
import type { MessagingService } from '../amqp/server.js';
import { BrokerError } from '../broker/errors.js';
import type { Queue, QueueEntry } from '../broker/queue.js';
import { PAGE_BYTES_MAX, jsonBytes, type Page } from '../core/paging.js';
import type { ConnectionSnapshot } from '../amqp/server.js';
import { queueFigures, replicationFloor, type QueueRates } from './queue-figures.js';

const rheaMessage = createRequire(import.meta.url)('rhea/lib/message.js') as { decode(buffer: Buffer): Record<string, unknown> };

/** A body preview is cut to this many characters (bodyTruncated says so). */
export const PREVIEW_CHARS_MAX = 1024;
const BROWSE_ROWS_MAX = 200;

export const QueueName = z.object({ queue: z.string().min(1) });
export const QueueBrowse = z.object({
  queue: z.string().min(1),
  after: z.number().int().min(0).default(0),
  limit: z.number().int().min(1).max(BROWSE_ROWS_MAX).default(50),
});

function queueOf(service: MessagingService, name: string): Queue {
  const queue = service.broker.queue(name);
  if (!queue) throw new BrokerError('NOT_FOUND', `queue ${name} does not exist`);
  return queue;
}

export function queueDetail(service: MessagingService, connections: readonly ConnectionSnapshot[], name: string, rates: QueueRates): Record<string, unknown> {
  const queue = queueOf(service, name);
  const bindings: { exchange: string; key: string; arguments: unknown }[] = [];
  for (const exchange of service.broker.exchanges) {
    for (const b of exchange.bindings) if (b.queue === queue) bindings.push({ exchange: exchange.name, key: b.key, arguments: b.arguments });
  }
  const consumers: { connection: string; address: string; containerId: string; link: string; browse: boolean }[] = [];
  for (const c of connections) {
    for (const s of c.consumers) if (s.queue === name) consumers.push({ connection: c.info.id, address: c.info.remoteAddress, containerId: c.info.containerId, link: s.name, browse: s.browse });
  }
  return {
    ...queueFigures(queue, replicationFloor(service), rates, performance.now()),
    settings: {
      durable: queue.settings.durable,
      autoDelete: queue.settings.autoDelete,
      exclusive: queue.settings.exclusive,
      alternateExchange: queue.settings.alternateExchange,
      maxCount: queue.settings.maxCount,
      maxSizeBytes: queue.settings.maxSizeBytes,
      policy: queue.settings.policy,
      arguments: queue.settings.arguments,
    },
    pagedOut: queue.pagedCount,
    bindings: bindings.slice(0, 1000),
    consumerLinks: consumers.slice(0, 1000),
  };
}

export interface BrowsedMessage {
  readonly position: number;
  readonly size: number;
  readonly state: string;
  readonly deliveryCount: number;
  readonly header: unknown;
  readonly properties: unknown;
  readonly applicationProperties: unknown;
  readonly body: unknown;
  readonly bodyTruncated?: true;
}

function preview(entry: QueueEntry): BrowsedMessage {
  const base = { position: entry.position, size: entry.message.size, state: entry.state, deliveryCount: entry.deliveryCount };
  let decoded: Record<string, unknown>;
  try {
    const b = entry.message.body;
    // A recovered message keeps its body in the store until delivered.
    if (!b) return { ...base, header: null, properties: null, applicationProperties: null, body: '(in the store)' };
    decoded = rheaMessage.decode(Buffer.from(b.buffer, b.byteOffset, Math.min(b.byteLength, 1024 * 1024)));
  } catch {
    return { ...base, header: null, properties: null, applicationProperties: null, body: '(undecodable)' };
  }
  const header = { durable: decoded['durable'] ?? false, priority: decoded['priority'] ?? null, ttl: decoded['ttl'] ?? null };
  const properties: Record<string, unknown> = {};
  for (const key of ['message_id', 'user_id', 'to', 'subject', 'reply_to', 'correlation_id', 'content_type', 'content_encoding', 'absolute_expiry_time', 'creation_time', 'group_id']) {
    if (decoded[key] !== undefined) properties[key] = decoded[key];
  }
  let body = decoded['body'];
  if (Buffer.isBuffer(body)) body = body.toString('utf8');
  else if (body !== null && typeof body === 'object') body = JSON.stringify(body);
  const text = body === undefined ? null : typeof body === 'string' ? body : String(body);
  const truncated = text !== null && text.length > PREVIEW_CHARS_MAX;
  // Application properties are bounded by the message, but shown no larger than a preview.
  const appText = JSON.stringify(decoded['application_properties'] ?? null);
  return {
    ...base,
    header,
    properties,
    applicationProperties: appText.length > 4 * PREVIEW_CHARS_MAX ? '(too large to preview)' : JSON.parse(appText),
    body: truncated ? text.slice(0, PREVIEW_CHARS_MAX) : text,
    ...(truncated ? { bodyTruncated: true as const } : {}),
  };
}

/** The messages on the queue after position `after`, oldest first, without acquiring them. */
export function browseQueue(service: MessagingService, args: z.output<typeof QueueBrowse>): Page<BrowsedMessage, number> {
  const queue = queueOf(service, args.queue);
  const items: BrowsedMessage[] = [];
  let bytes = 0;
  let position = args.after;
  for (;;) {
    const entry = queue.nextLiveAfter(position);
    if (!entry) return { items, next: null };
    if (items.length >= args.limit || (items.length > 0 && bytes >= PAGE_BYTES_MAX)) return { items, next: position };
    const row = preview(entry);
    items.push(row);
    bytes += jsonBytes(row);
    position = entry.position;
  }
}
