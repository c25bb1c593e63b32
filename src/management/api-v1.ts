// The HTTP API for scripts and the console, under /api/v1/ (README.md documents each route
// with a curl example). Every route is a command of the management command set, authorized as
// the HTTP requester (ManagementCommands.execute); listings answer one page, { items, next }.
// On a backup, which serves no messaging model, the read-only listings are answered by the
// primary (asked over its management node with the HA identity, after the local
// authorization), so the console works from any broker of the cluster.
//   GET /api/v1/overview /api/v1/ha /api/v1/cluster /api/v1/queues /api/v1/queues/NAME
//       /api/v1/queues/NAME/messages /api/v1/exchanges /api/v1/bindings /api/v1/connections
//       /api/v1/links /api/v1/events (Server-Sent Events: cluster, overview and queues)

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../core/log.js';
import { parseQpidUrl, type QpidAddress } from '../core/qpid-url.js';
import type { HaNode } from '../ha/node.js';
import { ClusterWatch, type ClusterMember } from './cluster-watch.js';
import type { ManagementCommands, ManagementResult, Requester } from './commands.js';

/** A management request to another broker of the cluster, as the HA identity. */
export type PeerRequest = (address: QpidAddress, operation: string, args: Record<string, unknown>) => Promise<unknown>;

/** What a backup asks the primary for instead of answering NOT_ALLOWED. */
const PROXIED = new Set(['stats', 'queue-stats', 'queue-detail', 'queue-messages', 'exchanges', 'bindings', 'connections', 'links']);
/** Event stream: how often the overview and the queues go out. */
const EVENTS_INTERVAL_MS = 1000;
/** Queues in each queues event (the console pages beyond with /api/v1/queues). */
const EVENTS_QUEUES_MAX = 1000;
/** Open event streams at once; more are refused (503). */
const EVENT_STREAMS_MAX = 64;

export interface ApiAnswer {
  readonly status: number;
  readonly body: unknown;
}

export class ApiV1 {
  readonly cluster: ClusterWatch;
  private streams = 0;

  constructor(
    private readonly commands: ManagementCommands,
    private readonly ha: HaNode,
    private readonly logger: Logger,
    private readonly peerRequest: PeerRequest | null,
    /** Message bodies only for a user allowed to consume from the queue (http-auth.ts). */
    private readonly hideBodies: (operation: string, args: unknown, user: string | null, result: unknown) => unknown = (_o, _a, _u, result) => result,
  ) {
    this.cluster = new ClusterWatch(ha, (address) => (peerRequest ? (peerRequest(address, 'status', {}) as Promise<never>).catch(() => null) : ha.peerStatus(address)));
  }

  close(): void {
    this.cluster.stop();
  }

  /** The command and arguments a GET of `path` runs, or null when no route matches. */
  route(path: string, query: Record<string, unknown>): { operation: string; args: Record<string, unknown> } | 'cluster' | 'ha' | null {
    const parts = path.split('/').slice(3).map((p) => decodeURIComponent(p));
    const [resource, name, sub] = parts;
    if (parts.length === 1) {
      switch (resource) {
        case 'overview':
          return { operation: 'stats', args: {} };
        case 'queues':
          return { operation: 'queue-stats', args: query };
        case 'exchanges':
        case 'bindings':
        case 'connections':
        case 'links':
          return { operation: resource, args: query };
        case 'cluster':
          return 'cluster';
        case 'ha':
          return 'ha';
      }
    }
    if (resource === 'queues' && name && parts.length === 2) return { operation: 'queue-detail', args: { queue: name } };
    if (resource === 'queues' && name && sub === 'messages' && parts.length === 3) return { operation: 'queue-messages', args: { ...query, queue: name } };
    return null;
  }

  async answer(path: string, query: Record<string, unknown>, requester: Requester): Promise<ApiAnswer> {
    const route = this.route(path, query);
    if (route === null) return { status: 404, body: { error: `no such path ${path}`, code: 'NOT_FOUND' } };
    if (route === 'cluster') {
      await this.commands.execute('status', {}, requester);
      return { status: 200, body: { members: await this.cluster.current() } };
    }
    if (route === 'ha') {
      const status = await this.commands.execute('status', {}, requester);
      const replication = await this.commands.execute('replication-status', {}, requester);
      return { status: 200, body: { status, replication } };
    }
    return { status: 200, body: await this.run(route.operation, route.args, requester) };
  }

  /** Runs a command here, or on the primary when this broker is a backup (the listings of
   * the messaging model, connections included: clients are on the primary; `broker=local`
   * lists this broker's own connections). */
  async run(operation: string, args: Record<string, unknown>, requester: Requester): Promise<ManagementResult> {
    const { broker, ...rest } = args;
    if (!this.ha.service() && PROXIED.has(operation) && broker !== 'local' && this.peerRequest) {
      const primary = await this.primaryAddress();
      if (primary) {
        this.commands.authorizeRequest(operation, rest, requester);
        return this.hideBodies(operation, rest, requester.user, await this.peerRequest(primary, operation, rest)) as ManagementResult;
      }
    }
    return this.hideBodies(operation, rest, requester.user, await this.commands.execute(operation, rest, requester)) as ManagementResult;
  }

  private async primaryAddress(): Promise<QpidAddress | null> {
    const primary = (await this.cluster.current()).find((m) => m.role === 'primary' && !m.self);
    return primary ? (parseQpidUrl(primary.address).addresses[0] ?? null) : null;
  }

  /** GET /api/v1/events: Server-Sent Events. `cluster` when the cluster changes, `overview` and
   * `queues` (the first EVENTS_QUEUES_MAX of queue-stats) every EVENTS_INTERVAL_MS, `problem`
   * when a figure cannot be read (a backup with no primary to ask). */
  async events(req: IncomingMessage, res: ServerResponse, requester: Requester): Promise<void> {
    // Authorized once, as the listings it streams would be.
    await this.commands.execute('status', {}, requester);
    if (this.streams >= EVENT_STREAMS_MAX) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `${EVENT_STREAMS_MAX} event streams are open already`, code: 'RESOURCE_LIMIT' }));
      return;
    }
    this.streams++;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    const send = (event: string, data: unknown): void => {
      // A client that does not read must not grow our buffers: skip while the socket is full.
      if (res.writableNeedDrain) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const unwatch = this.cluster.watch((members: readonly ClusterMember[]) => send('cluster', { members }));
    let busy = false;
    const tick = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      try {
        send('overview', await this.run('stats', { broker: 'local' }, requester));
        send('queues', await this.run('queue-stats', { limit: EVENTS_QUEUES_MAX }, requester));
      } catch (err) {
        send('problem', { error: (err as Error).message, code: (err as { code?: string }).code ?? 'INTERNAL' });
      } finally {
        busy = false;
      }
    };
    void tick();
    const timer = setInterval(() => void tick(), EVENTS_INTERVAL_MS);
    const close = (): void => {
      clearInterval(timer);
      unwatch();
      this.streams--;
    };
    req.once('close', close);
    this.logger.debug({ requester: requester.address }, 'event stream opened');
  }
}
