// The management command set (DESIGN.md §7): one implementation, reached over AMQP
// ($management, node.ts) by the tools and over HTTP (http.ts) by operators. Arguments are
// validated with zod; failures are BrokerErrors with stable codes. Configuration changes
// complete only when the ack gate releases them: every ready backup has them (issue 4). A
// command that removes messages says how many, and logs who asked (issue 19).

import { hostname } from 'node:os';
import { z } from 'zod';
import { STATUS_WAIT_MS_MAX } from '../ha/status-watch.js';
import { toStoredArguments } from '../broker/arguments.js';
import type { ConfigChange } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import type { MessagingService } from '../amqp/server.js';
import type { Logger } from '../core/log.js';
import type { HaNode } from '../ha/node.js';
import type { FirstSync } from '../ha/queue-replica.js';
import { PAGE_ROWS_MAX } from '../core/paging.js';
import { LEASE_SECONDS_MAX } from '../ha/lease-keeper.js';
import {
  bindingsPage,
  exchangesPage,
  NamePage,
  queuesPage,
  storeBindingsPage,
  storeExchangesPage,
  StoreMessagesPage,
  storeMessagesPage,
  storeQueuesPage,
  storeSummary,
} from './listings.js';
import { connectionsPage, linksPage, subscriptionsPage, type ConnectionsSource } from './connections.js';
import { browseQueue, QueueBrowse, queueDetail, QueueName } from './queue-detail.js';
import { queueFigures, QueueRates, replicationFloor, replicationSummary } from './queue-figures.js';
import { ManagerReportInput, ManagerReports } from './manager-report.js';
import { sortedBy, takePage } from '../core/paging.js';

export type ManagementResult = Record<string, unknown> | unknown[];

/** Who sent a request, as the transport knows it: logged with every command that removes
 * messages. */
export interface Requester {
  readonly transport: 'amqp' | 'http';
  /** The peer's address (host:port). */
  readonly address: string;
  /** The AMQP container id the peer gave in its open (null over HTTP). */
  readonly containerId: string | null;
  readonly connectionId: string | null;
  /** The authenticated identity (user@realm); null over HTTP when no login is needed (--auth no). */
  readonly user: string | null;
}

const UNKNOWN_REQUESTER: Requester = { transport: 'amqp', address: 'in-process', containerId: null, connectionId: null, user: null };

/** How long `replicate` waits for the replica's first snapshot before answering (qpid-ha waits
 * longer): long enough for every address of a small cluster to be tried once. */
const REPLICATE_WAIT_MS = 15_000;

const args = z.record(z.string(), z.unknown()).default({});
const name = z.string().min(1);

const AddQueue = z.object({
  name,
  durable: z.boolean().default(false),
  autoDelete: z.boolean().default(false),
  exclusive: z.boolean().default(false),
  alternateExchange: z.string().min(1).nullable().default(null),
  arguments: args,
});
const DelQueue = z.object({ name, ifEmpty: z.boolean().default(false), ifUnused: z.boolean().default(false) });
const AddExchange = z.object({
  name,
  type: z.enum(['direct', 'topic', 'fanout', 'headers']),
  durable: z.boolean().default(false),
  autoDelete: z.boolean().default(false),
  alternateExchange: z.string().min(1).nullable().default(null),
  arguments: args,
});
const DelExchange = z.object({ name });
// A binding key is in every row of the bindings listing: bounded like declare arguments (and
// like a key from an AMQP link, which must fit in one attach frame of the default size).
const bindingKey = z.string().max(64 * 1024).default('');
const Bind = z.object({ exchange: z.string(), queue: name, key: bindingKey, arguments: args });
const Unbind = z.object({ exchange: z.string(), queue: name, key: bindingKey });
const Purge = z.object({ queue: name });
const Replicate = z.object({ source: z.string().min(1), queue: name, force: z.boolean().default(false) });
const rows = z.number().int().min(1).max(PAGE_ROWS_MAX);
const StoreInspect = z.discriminatedUnion('view', [
  z.object({ view: z.literal('summary'), limit: rows.optional() }),
  z.object({ view: z.enum(['queues', 'exchanges', 'bindings']), after: z.string().max(4096).optional(), limit: rows }),
  z.object({ view: z.literal('queue'), queue: name }),
  z.object({ view: z.literal('messages'), queue: name, limit: rows, after: z.number().int().min(0) }),
  z.object({ view: z.literal('log'), from: z.number().int().min(1).optional(), limit: rows }),
  z.object({ view: z.literal('verify') }),
]);
const leaseSeconds = z.number().positive().max(LEASE_SECONDS_MAX);
const Promote = z.object({
  clusterManager: z.literal(true, { message: 'promote is a cluster-manager command: pass --cluster-manager' }),
  force: z.boolean().default(false),
  /** Promote under a serving lease (qpid-ha-manager does): the primary is never unleased. */
  leaseSeconds: leaseSeconds.optional(),
  leaseId: z.string().min(1).max(200).optional(),
  /** The lowest epoch to take: the cluster manager reserved it in etcd before promoting. */
  minEpoch: z.number().int().min(0).optional(),
  /** The cluster manager's record of how far the cluster got (qpid-ha-manager's etcd record). */
  record: z.object({ epoch: z.number().int().min(0), lsn: z.number().int().min(0), gate: z.array(name).max(1000).optional(), primary: name.optional() }).optional(),
});
// A grant (seconds, optionally naming the lease) or an extension of a named lease.
const PrimaryHint = z.object({ address: z.string().min(1).max(300) });
/** A long poll (src/ha/status-watch.ts): answer once the role differs from `changedFrom`. */
const StatusRequest = z.object({ changedFrom: z.string().max(200).optional(), waitMs: z.number().int().min(0).max(STATUS_WAIT_MS_MAX).optional() });
// Or the manager's word that etcd records the primary's gate as of a generation (the departures
// of ready backups it counted up to then no longer hold settlement back: ack-gate.ts).
const Lease = z.union([
  z.object({ seconds: leaseSeconds, id: z.string().min(1).max(200).optional(), since: z.number().finite().min(0).optional() }).strict(),
  z.object({ id: z.string().min(1).max(200), extendMs: z.number().min(0).max(LEASE_SECONDS_MAX * 1000 * 1000), remainingMs: z.number().min(0).max(LEASE_SECONDS_MAX * 1000).optional() }).strict(),
  z.object({ gateRecorded: z.object({ epoch: z.number().int().min(0), generation: z.number().int().min(0) }).strict() }).strict(),
]);

function parse<T>(schema: z.ZodType<T>, input: unknown, operation: string): T {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || '(arguments)';
    throw new BrokerError('INVALID_ARGUMENT', `${operation}: invalid ${field}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** The commands a cluster manager sends in a failover, parsed once at start: zod builds each
 * schema's parser on its first use (3-10 ms), and a backup had never been promoted or leased
 * before the failover that needs it fast (messages.ts, warmUpCodecs). */
function warmUpFailoverCommands(): void {
  Promote.safeParse({ clusterManager: true, force: false, leaseSeconds: 1, leaseId: 'warm-up' });
  Lease.safeParse({ seconds: 1, id: 'warm-up' });
  Lease.safeParse({ id: 'warm-up', extendMs: 1 });
  PrimaryHint.safeParse({ address: '127.0.0.1:1' });
  StatusRequest.safeParse({ changedFrom: 'x', waitMs: 1 });
}

/** Throws UNAUTHORIZED when the ACL denies `user` the command (security.ts). */
export type CommandAuthorizer = (operation: string, input: unknown, user: string | null) => void;

function* mappedRows<T, U>(rows: Iterable<T>, f: (row: T) => U): Generator<U> {
  for (const row of rows) yield f(row);
}

export class ManagementCommands {
  /** Enqueue/dequeue rates, sampled when queue-stats is asked (shared by both transports). */
  readonly rates = new QueueRates();
  /** What this broker's cluster manager last reported (shown by status and the console). */
  readonly managerReports = new ManagerReports();

  constructor(
    private readonly ha: HaNode,
    private readonly logger: Logger,
    private readonly authorize: CommandAuthorizer = () => {},
    private readonly connections: ConnectionsSource = () => [],
  ) {
    warmUpFailoverCommands();
  }

  /** Every command that removes messages logs here, whatever it removed (a warning when it
   * removed any). */
  private removedMessages(requester: Requester, fields: { readonly removed: number } & Record<string, unknown>): void {
    if (fields.removed > 0) this.logger.warn({ ...fields, requester }, 'management command removed messages');
    else this.logger.info({ ...fields, requester }, 'management command removed messages');
  }

  private service(operation: string): MessagingService {
    const service = this.ha.service();
    if (!service) throw new BrokerError('NOT_ALLOWED', `${operation}: this broker is ${this.ha.state} and does not serve the messaging model; use the primary`);
    return service;
  }

  /** Waits until the change (or, for one that changed nothing, everything journaled before it)
   * is durable and confirmed by every ready backup (Broker.configSettlement). */
  private async gated(service: MessagingService, change: ConfigChange): Promise<void> {
    const hold = service.broker.configSettlement(change);
    if (!hold) return;
    await new Promise<void>((resolve, reject) => {
      service.settlements.hold(hold, { settle: resolve, fail: reject });
    });
  }

  /** Checks the requester may run the command, without running it (api-v1.ts asks the
   * primary for a backup, after this check). */
  authorizeRequest(operation: string, input: unknown, requester: Requester): void {
    if (requester !== UNKNOWN_REQUESTER) this.authorize(operation, input, requester.user);
  }

  async execute(operation: string, input: unknown, requester: Requester = UNKNOWN_REQUESTER): Promise<ManagementResult> {
    // Before anything else: a denied identity learns nothing, not even argument errors.
    if (requester !== UNKNOWN_REQUESTER) this.authorize(operation, input, requester.user);
    switch (operation) {
      case 'ping':
        return { pong: true, name: this.ha.status().name, state: this.ha.state };
      case 'status': {
        const { changedFrom, waitMs } = parse(StatusRequest, input ?? {}, operation);
        if (changedFrom === undefined) return { ...this.ha.status(), manager: this.managerReports.view() };
        return { ...(await this.ha.statusAfterChange(changedFrom, waitMs ?? 0)), manager: this.managerReports.view() };
      }
      case 'manager-report':
        this.managerReports.record(parse(ManagerReportInput, input, operation));
        return { recorded: true };
      case 'promote': {
        const { force, leaseSeconds: seconds, leaseId, record, minEpoch } = parse(Promote, input, operation);
        const withRecord = { ...(record !== undefined ? { record } : {}), ...(minEpoch !== undefined ? { minEpoch } : {}) };
        return await this.ha.promote(seconds === undefined ? { force, ...withRecord } : { force, leaseSeconds: seconds, ...(leaseId !== undefined ? { leaseId } : {}), ...withRecord });
      }
      case 'primary-hint':
        return { hinted: this.ha.primaryHint(parse(PrimaryHint, input, operation).address) };
      case 'lease': {
        const request = parse(Lease, input, operation);
        if ('gateRecorded' in request) return this.ha.gateRecorded(request.gateRecorded.epoch, request.gateRecorded.generation);
        if ('extendMs' in request) return { ...this.ha.servingLease(request) };
        return { ...this.ha.servingLease({ seconds: request.seconds, ...(request.id !== undefined ? { id: request.id } : {}), ...(request.since !== undefined ? { since: request.since } : {}) }) };
      }
      // Listings answer one bounded page, { items, next }: pass `next` back as `after`.
      case 'queues':
        return { ...queuesPage(this.service(operation).broker, parse(NamePage, input, operation)) };
      // Depth, rates and replication exposure per queue (qpid-ha status --queues, qpid-stat -q).
      case 'queue-stats': {
        const service = this.service(operation);
        const page = parse(NamePage, input, operation);
        const floor = replicationFloor(service);
        const nowMs = performance.now();
        const queues = sortedBy(service.broker.queues, (q) => q.name);
        return { ...takePage(mappedRows(queues, (q) => queueFigures(q, floor, this.rates, nowMs)), (r) => r.name, page) };
      }
      case 'queue-detail':
        return queueDetail(this.service(operation), this.connections(), parse(QueueName, input, operation).queue, this.rates);
      case 'queue-messages':
        return { ...browseQueue(this.service(operation), parse(QueueBrowse, input, operation)) };
      case 'connections':
        return { ...connectionsPage(this.connections(), parse(NamePage, input, operation)) };
      case 'links':
        return { ...linksPage(this.connections(), parse(NamePage, input, operation)) };
      case 'subscriptions':
        return { ...subscriptionsPage(this.connections(), parse(NamePage, input, operation)) };
      case 'replication-status':
        return { ...replicationSummary(this.ha) };
      case 'exchanges':
        return { ...exchangesPage(this.service(operation).broker, parse(NamePage, input, operation)) };
      case 'bindings':
        return { ...bindingsPage(this.service(operation).broker, parse(NamePage, input, operation)) };
      case 'stats':
        return this.stats();
      case 'store-summary':
        return storeSummary(this.ha.store());
      case 'store-queues':
        return { ...storeQueuesPage(this.ha.store(), parse(NamePage, input, operation)) };
      case 'store-exchanges':
        return { ...storeExchangesPage(this.ha.store(), parse(NamePage, input, operation)) };
      case 'store-bindings':
        return { ...storeBindingsPage(this.ha.store(), parse(NamePage, input, operation)) };
      case 'store-messages':
        return { ...storeMessagesPage(this.ha.store(), parse(StoreMessagesPage, input, operation)) };
      case 'store-inspect':
        return { ...(await this.ha.inspectStore(parse(StoreInspect, input, operation))) };
      case 'add-queue': {
        const a = parse(AddQueue, input, operation);
        const service = this.service(operation);
        const change = service.broker.declareQueue(
          { name: a.name, durable: a.durable, autoDelete: a.autoDelete, exclusive: a.exclusive, alternateExchange: a.alternateExchange, arguments: toStoredArguments(a.arguments, 'queue') },
          null,
        );
        await this.gated(service, change);
        const source = a.arguments['qpid.replica-source'];
        // A new queue is empty: a replica of it has nothing to lose ('resume').
        if (typeof source === 'string' && change.changed) this.ha.startReplica(a.name, source, 'resume');
        return { created: change.changed };
      }
      case 'replicate':
        return await this.replicate(parse(Replicate, input, operation), requester);
      case 'replication':
        return this.ha.replication();
      case 'del-queue': {
        const a = parse(DelQueue, input, operation);
        const service = this.service(operation);
        const queue = service.broker.queue(a.name);
        const removed = queue?.count ?? 0;
        const alternateExchange = queue?.settings.alternateExchange ?? null;
        await this.gated(service, service.broker.deleteQueue(a.name, { ifEmpty: a.ifEmpty, ifUnused: a.ifUnused }));
        // With an alternate exchange the waiting messages were routed there, not destroyed.
        this.removedMessages(requester, { operation, queue: a.name, removed, alternateExchange });
        return { deleted: true, removed, alternateExchange };
      }
      case 'add-exchange': {
        const a = parse(AddExchange, input, operation);
        const service = this.service(operation);
        const change = service.broker.declareExchange({
          name: a.name,
          type: a.type,
          durable: a.durable,
          autoDelete: a.autoDelete,
          alternateExchange: a.alternateExchange,
          arguments: toStoredArguments(a.arguments, 'exchange'),
        });
        await this.gated(service, change);
        return { created: change.changed };
      }
      case 'del-exchange': {
        const a = parse(DelExchange, input, operation);
        const service = this.service(operation);
        await this.gated(service, service.broker.deleteExchange(a.name));
        return { deleted: true };
      }
      case 'bind': {
        const a = parse(Bind, input, operation);
        const service = this.service(operation);
        const change = service.broker.bind(a.exchange, a.queue, a.key, toStoredArguments(a.arguments, 'binding'));
        await this.gated(service, change);
        return { created: change.changed };
      }
      case 'unbind': {
        const a = parse(Unbind, input, operation);
        const service = this.service(operation);
        await this.gated(service, service.broker.unbind(a.exchange, a.queue, a.key));
        return { deleted: true };
      }
      case 'purge': {
        const a = parse(Purge, input, operation);
        const service = this.service(operation);
        const { purged, ticket } = service.broker.purge(a.queue);
        this.removedMessages(requester, { operation, queue: a.queue, removed: purged });
        await this.gated(service, { changed: purged > 0, ticket });
        return { purged, removed: purged };
      }
      default:
        throw new BrokerError('INVALID_ARGUMENT', `unknown management operation "${operation}"`);
    }
  }

  /** `qpid-ha replicate` (reference §1.13): refused, with nothing changed, when the queue holds
   * messages, or the source cannot be reached or has no such queue, unless forced. Waits for
   * the replica's first snapshot (up to REPLICATE_WAIT_MS) to say which. */
  private async replicate(a: z.output<typeof Replicate>, requester: Requester): Promise<ManagementResult> {
    const service = this.service('replicate');
    const queue = service.broker.queue(a.queue);
    if (!queue) throw new BrokerError('NOT_FOUND', `replicate: queue ${a.queue} does not exist here; create it first (or use qpid-config add queue --start-replica)`);
    if (queue.count > 0 && !a.force) {
      throw new BrokerError('REPLICA_NOT_EMPTY', `replicate: queue ${a.queue} holds ${queue.count} messages, which the original's would replace; nothing was changed (purge it, or use --force to replace them)`);
    }
    const replica = this.ha.startReplica(a.queue, a.source, a.force ? 'force' : 'strict');
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      replica.firstSync,
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), REPLICATE_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    const log = { operation: 'replicate', queue: a.queue, source: a.source, force: a.force };
    if (outcome === null) return this.replicateStillSyncing(replica, a, requester, log);
    if (outcome.kind === 'refused') {
      this.logger.warn({ ...log, code: outcome.code, requester }, 'replicate refused');
      throw new BrokerError(outcome.code, outcome.message);
    }
    this.removedMessages(requester, { ...log, removed: outcome.removed, copied: outcome.copied });
    return { replicating: a.queue, from: a.source, state: 'following', removed: outcome.removed, copied: outcome.copied };
  }

  /** No first snapshot yet. A source that never answered is refused (unless forced); one that
   * is still sending its snapshot goes on, and how its first sync ends is logged. */
  private replicateStillSyncing(
    replica: { readonly state: string; readonly firstSync: Promise<FirstSync>; stop(): void },
    a: z.output<typeof Replicate>,
    requester: Requester,
    log: Record<string, unknown>,
  ): ManagementResult {
    if (!a.force && replica.state === 'connecting') {
      replica.stop();
      this.logger.warn({ ...log, code: 'REPLICA_SOURCE_UNREACHABLE', requester }, 'replicate refused');
      throw new BrokerError('REPLICA_SOURCE_UNREACHABLE', `replicate: ${a.source} did not answer within ${REPLICATE_WAIT_MS} ms; nothing was changed (--force keeps trying)`);
    }
    void replica.firstSync.then((later) => {
      if (later.kind === 'following') this.removedMessages(requester, { ...log, removed: later.removed, copied: later.copied });
      else this.logger.warn({ ...log, code: later.code, requester }, 'replicate refused');
    });
    return { replicating: a.queue, from: a.source, state: replica.state, removed: 0, pending: true };
  }

  stats(): Record<string, unknown> {
    const status = this.ha.status();
    const service = this.ha.service();
    let messages = 0;
    let bytes = 0;
    let queues = 0;
    if (service) {
      for (const q of service.broker.queues) {
        queues++;
        messages += q.count;
        bytes += q.bytes;
      }
    }
    return {
      name: status.name,
      state: status.state,
      epoch: status.epoch,
      lastLsn: status.lastLsn,
      queues,
      messages,
      bytes,
      pendingSettlements: service?.settlements.pending ?? 0,
      memory: process.memoryUsage(),
      // Which process on which host holds which data dir: qpid-ha drill signals a broker only
      // when this pid is the one its broker.json names on the drill's own host.
      process: { pid: process.pid, host: hostname(), dataDir: this.ha.dataDir },
    };
  }
}
