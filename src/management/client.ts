// A client of the `$management` node (node.ts), used by qpid-ha, qpid-config, qpid-stat and by
// a broker asking its peers for their status before a promotion. One connection to one broker:
// management tools talk to the broker they are pointed at, never fail over.

import { randomUUID } from 'node:crypto';
import rhea, { type Connection, type EventContext, type Receiver, type Sender } from 'rhea';
import type { QpidAddress } from '../core/qpid-url.js';
import { connectGuarded } from '../amqp/client-guard.js';
import { saslConnectionOptions } from '../security/rhea-sasl-client.js';
import { clientTlsOptions } from '../security/tls-context.js';

export class ManagementError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ManagementError';
  }
}

export interface ManagementClientOptions {
  /** Connect as an administrative connection (qpid.ha-admin): accepted by backups too. */
  readonly admin?: boolean;
  readonly timeoutMs?: number;
  readonly username?: string;
  readonly password?: string;
}

export class ManagementClient {
  private readonly pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }>();
  private readonly disconnectListeners = new Set<() => void>();
  private disconnected = false;

  private constructor(
    private readonly connection: Connection,
    private readonly sender: Sender,
    private readonly timeoutMs: number,
  ) {}

  static connect(address: QpidAddress, options: ManagementClientOptions = {}): Promise<ManagementClient> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const container = rhea.create_container({ id: `qpid-tool-${randomUUID().slice(0, 8)}` });
    return new Promise((resolve, reject) => {
      // Guarded: a broker (or whatever answers on its address) cannot feed us a frame that makes
      // rhea's decoder allocate gigabytes; the probe of a backup runs inside the broker.
      const connection = connectGuarded(
        container,
        {
          host: address.host,
          port: address.port,
          ...clientTlsOptions(address),
          reconnect: false,
          properties: options.admin ? { 'qpid.ha-admin': true } : {},
          ...saslConnectionOptions(options.username, options.password),
        } as never,
        (violation) => fail(new ManagementError(0, violation.code, `bad frame from ${address.host}:${address.port}: ${violation.description}`)),
      );
      let settled = false;
      let client: ManagementClient | null = null;
      const timer = setTimeout(() => fail(new ManagementError(0, 'TIMEOUT', `no answer from ${address.host}:${address.port} within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        try {
          connection.close();
        } catch {
          // not open
        }
        reject(err);
      };
      connection.on('connection_error', (ctx: EventContext) => {
        // A failed SASL login is reported on the event (ctx.error), not as the connection's error.
        type Closing = { error?: { condition?: string; description?: string } };
        const error = (ctx as unknown as Closing).error ?? (ctx.connection as unknown as Closing).error;
        fail(new ManagementError(0, error?.condition ?? 'CONNECTION', `${address.host}:${address.port} refused the connection: ${error?.condition ?? ''} ${error?.description ?? ''}`.trim()));
      });
      connection.on('disconnected', (ctx: EventContext) => {
        const err = (ctx as unknown as { error?: Error }).error;
        client?.lost();
        fail(new ManagementError(0, 'CONNECTION', `cannot connect to ${address.host}:${address.port}: ${err?.message ?? 'disconnected'}`));
      });
      connection.on('error', () => {});
      connection.on('connection_open', () => {
        const receiver: Receiver = connection.open_receiver({ source: { address: '$management' }, credit_window: 100 } as never);
        const sender: Sender = connection.open_sender({ target: { address: '$management' } } as never);
        receiver.on('message', (ctx: EventContext) => client?.response(ctx.message as unknown as Record<string, unknown>));
        let open = 0;
        const opened = (): void => {
          if (++open < 2 || settled) return;
          settled = true;
          clearTimeout(timer);
          client = new ManagementClient(connection, sender, timeoutMs);
          resolve(client);
        };
        receiver.once('receiver_open', opened);
        sender.once('sender_open', opened);
      });
    });
  }

  /** The connection dropped (the broker died, or its socket was cut): a cluster manager learns
   * of its broker's death this way, at once. Pending requests fail. */
  onDisconnect(listener: () => void): void {
    if (this.disconnected) listener();
    else this.disconnectListeners.add(listener);
  }

  private lost(): void {
    if (this.disconnected) return;
    this.disconnected = true;
    for (const [id, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new ManagementError(0, 'CONNECTION', 'the management connection was lost'));
      this.pending.delete(id);
    }
    for (const listener of this.disconnectListeners) listener();
    this.disconnectListeners.clear();
  }

  private response(message: Record<string, unknown>): void {
    const id = String(message['correlation_id'] ?? '');
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    clearTimeout(waiter.timer);
    const props = (message['application_properties'] ?? {}) as Record<string, unknown>;
    const status = Number(props['status'] ?? 500);
    if (status === 200) waiter.resolve(message['body']);
    else {
      const body = (message['body'] ?? {}) as Record<string, unknown>;
      waiter.reject(new ManagementError(status, String(body['code'] ?? 'ERROR'), String(props['description'] ?? 'management request failed')));
    }
  }

  request<T = unknown>(operation: string, args: Record<string, unknown> = {}, timeoutMs = this.timeoutMs): Promise<T> {
    const id = randomUUID();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ManagementError(0, 'TIMEOUT', `${operation}: no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.sender.send({ message_id: id, application_properties: { operation }, body: args } as never);
    });
  }

  /** Every row of a paged listing (queues, exchanges, bindings, store-*): asks page after page,
   * passing each answer's `next` back as `after`, until there is none. */
  async requestAll<T = Record<string, unknown>>(operation: string, args: Record<string, unknown> = {}, timeoutMs = this.timeoutMs): Promise<T[]> {
    const items: T[] = [];
    let after: string | number | undefined;
    for (let pages = 0; ; pages++) {
      // A broker that never says "no more" must not keep a tool asking forever.
      if (pages >= PAGES_MAX) throw new ManagementError(0, 'TOO_MANY_PAGES', `${operation}: more than ${PAGES_MAX} pages`);
      const page = await this.request<{ items?: unknown; next?: string | number | null }>(operation, after === undefined ? args : { ...args, after }, timeoutMs);
      if (!page || !Array.isArray(page.items)) throw new ManagementError(0, 'NOT_PAGED', `${operation}: the answer is not a page ({ items, next })`);
      items.push(...(page.items as T[]));
      if (page.next === null || page.next === undefined) return items;
      if (page.next === after) throw new ManagementError(0, 'NOT_PAGED', `${operation}: the page after ${String(after)} points at itself`);
      after = page.next;
    }
  }

  close(): void {
    this.disconnected = true;
    this.disconnectListeners.clear();
    for (const waiter of this.pending.values()) clearTimeout(waiter.timer);
    this.pending.clear();
    try {
      this.connection.close();
    } catch {
      // already closed
    }
    const socket = (this.connection as unknown as { socket?: { destroy(): void } }).socket;
    setTimeout(() => socket?.destroy(), 100).unref();
  }
}

/** Pages a tool follows at most for one listing (10^8 rows at the default page size). */
const PAGES_MAX = 100_000;

/** Every row of a paged listing, on a fresh connection. */
export async function managementRequestAll<T = Record<string, unknown>>(address: QpidAddress, operation: string, args: Record<string, unknown> = {}, options: ManagementClientOptions = {}): Promise<T[]> {
  const client = await ManagementClient.connect(address, options);
  try {
    return await client.requestAll<T>(operation, args);
  } finally {
    client.close();
  }
}

/** One request on a fresh connection. */
export async function managementRequest<T = unknown>(address: QpidAddress, operation: string, args: Record<string, unknown> = {}, options: ManagementClientOptions = {}): Promise<T> {
  const client = await ManagementClient.connect(address, options);
  try {
    return await client.request<T>(operation, args);
  } finally {
    client.close();
  }
}
