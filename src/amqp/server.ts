// The AMQP 1.0 listener on rhea's server side: accepts connections (or refuses them, as an HA
// backup does), turns links into producers and consumers of the broker, and hands special
// addresses ($management, HA replication) to their own handlers. Bad input from one client
// closes that client's connection, never the broker.

import { createServer, type Server, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import rhea, { type Connection, type Container, type Delivery, type EventContext, type Receiver, type Sender } from 'rhea';
import type { Broker, UnroutablePolicy } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import { packageVersion } from '../config/index.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { Settlements } from '../ha/settlements.js';
import { NO_NODE_POLICIES, type NodePolicies, type Terminus } from './address.js';
import { attachConsumer, attachProducer, type AttachScope } from './attach.js';
import { ProducerLink } from './inbound.js';
import { ConsumerLink } from './outbound.js';
import { locateSections, MessageFormatError } from './message-format.js';
import type { ScanLimits } from './value-scan.js';
import { inputErrorCondition } from './connection-errors.js';
import { acceptGuarded, peerOf, type ConnectionGuard } from './connection-guard.js';
import { HandshakeGate } from './handshakes.js';
import { announceIdleTimeout } from './idle-timeout.js';
import { rheaServerMechanisms, serveSasl, type SaslService } from './rhea-sasl-server.js';
import type { AccessControl } from '../security/access-control.js';
import { ConnectionGate } from './connection-gate.js';
import { channelMaxOf, limitSessionsAndLinks, type OpenLimits } from './rhea-limits.js';
import { connectionIntake } from './rhea-intake.js';
import { boundPeerOpen } from './rhea-peer-numbers.js';
import { coalesceWrites, patchSessions, RAW_FORMAT } from './rhea-sessions.js';
import { parseUnroutable, refuseLink, settleIfPresettled } from './deliveries.js';

export { settleIfPresettled };

const require = createRequire(import.meta.url);
type RheaConnectionClass = new (options: Record<string, unknown>, container: Container) => Connection & { accept(socket: Socket): void };
const RheaConnection = require('rhea/lib/connection.js') as RheaConnectionClass;
const PRODUCT_VERSION = packageVersion();

export type ConnectionRole = 'client' | 'admin' | 'replication';

/** accept; refuse with a close frame; or drop the TCP connection with no close frame at all
 * (an HA backup's answer to a client: DESIGN.md §3). */
export type Admission =
  | { readonly kind: 'accept'; readonly role: ConnectionRole }
  | { readonly kind: 'refuse'; readonly error: { condition: string; description: string; info?: Record<string, unknown> } }
  | { readonly kind: 'drop'; readonly reason: string };

export interface ConnectionInfo {
  readonly id: string;
  readonly containerId: string;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly remoteAddress: string;
  /** The authenticated identity, user@realm (anonymous@realm for ANONYMOUS or no SASL). */
  readonly user: string;
}

/** A connection and its links as the management listings show them. */
export interface ConnectionSnapshot {
  readonly info: ConnectionInfo;
  readonly role: ConnectionRole;
  readonly producers: readonly { readonly name: string; readonly target: string | null }[];
  readonly consumers: readonly { readonly name: string; readonly queue: string | null; readonly browse: boolean }[];
}

/** A node with its own protocol on the broker port ($management, HA replication). */
export interface SpecialNode {
  /** A client attached a receiving link from this node (we send). */
  senderOpened?(sender: Sender, connection: ConnectionInfo, role: ConnectionRole): void;
  /** A client attached a sending link to this node (we receive). */
  receiverOpened?(receiver: Receiver, connection: ConnectionInfo, role: ConnectionRole): void;
  /** A transfer on a receiver this node owns; `raw` is the encoded message. */
  message?(receiver: Receiver, raw: Buffer, delivery: Delivery, format: number): void;
  linkClosed?(link: Sender | Receiver): void;
  connectionClosed?(connection: ConnectionInfo): void;
}

export interface AmqpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly containerId: string;
  readonly maxConnections: number;
  readonly maxFrameSizeBytes: number;
  readonly maxUnsettled: number;
  readonly sasl: SaslService;
  /** The ACL (--acl-file): links and connections are checked against it. */
  readonly access: AccessControl;
  /** 0: no per-identity limit (the ACL's connection quotas still apply). */
  readonly maxConnectionsPerUser: number;
  /** Sessions per connection and links per session (announced as channel-max, handle-max). */
  readonly openLimits: OpenLimits;
  /** A delivery streamed over several frames is refused past this (--max-message-size). */
  readonly maxMessageSizeBytes: number;
  /** Bytes of unfinished deliveries one connection may hold (--max-connection-buffer). */
  readonly maxConnectionBufferBytes: number;
  /** Deepest nesting of AMQP values in a frame or message (--max-decode-depth). */
  readonly maxDecodeDepth: number;
  /** A socket that has not completed its open in this time is dropped (--handshake-timeout). */
  readonly handshakeTimeoutMs: number;
  /** The pending-handshake budget before the open-file cap (--max-pending-handshakes). */
  readonly maxPendingHandshakes: number;
  /** AMQP idle timeout we announce (ms): a peer silent for twice this is dropped. Set in a
   * cluster (--link-heartbeat-interval) so that a hung backup leaves the ack gate. */
  readonly idleTimeoutMs?: number;
  /** --queue-patterns / --topic-patterns. */
  readonly nodePolicies?: NodePolicies;
}

interface ConnectionState {
  readonly info: ConnectionInfo;
  role: ConnectionRole;
  readonly producers: Map<Receiver, ProducerLink>;
  readonly consumers: Map<Sender, ConsumerLink>;
  readonly special: Map<Sender | Receiver, SpecialNode>;
  /** Temporary queues made for dynamic targets, deleted with their link. */
  readonly temporaryQueues: Map<Receiver, string>;
  closed: boolean;
}

/** The messaging model the server serves: present on a standalone broker and an HA primary,
 * absent on a backup (which only admits management and replication connections). */
export interface MessagingService {
  readonly broker: Broker;
  readonly settlements: Settlements;
}

export class AmqpServer {
  private readonly container: Container;
  private service: MessagingService | null = null;
  private server: Server | null = null;
  private readonly connections = new Map<Connection, ConnectionState>();
  private readonly nodes = new Map<string, SpecialNode>();
  private admission: (info: ConnectionInfo) => Admission = () => ({ kind: 'accept', role: 'client' });
  /** Connections whose TCP socket we dropped at their open: rhea still reads the frames that
   * came in the same read (begin, attach), and those must go unanswered. */
  private readonly dropped = new WeakSet<Connection>();
  private readonly identities = new WeakMap<Connection, string>();
  private stopping = false;
  private readonly decodeLimits: ScanLimits;
  private readonly handshakes: HandshakeGate;
  private readonly gate: ConnectionGate;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: AmqpServerOptions,
  ) {
    // credit_window 0: every receiving link manages its own credit (producers get a window of
    // --max-unsettled, special nodes their own); rhea's default would add 1000 on top.
    // treat_modified_as_released false: rhea would otherwise report a consumer's `modified` as
    // `released`, losing delivery-failed and undeliverable-here (AMQP 1.0 §3.4.5).
    this.decodeLimits = { maxDepth: options.maxDecodeDepth };
    this.gate = new ConnectionGate(options.access, options.maxConnectionsPerUser);
    this.handshakes = new HandshakeGate({ handshakeTimeoutMs: options.handshakeTimeoutMs, maxPendingHandshakes: options.maxPendingHandshakes, clock, logger });
    this.container = rhea.create_container({ id: options.containerId, autoaccept: false, autosettle: true, credit_window: 0, treat_modified_as_released: false } as never);
    // The mechanisms rhea lists; serveSasl (rhea-sasl-server.ts) runs each exchange.
    Object.assign(this.container.sasl_server_mechanisms, rheaServerMechanisms(options.sasl.policy));
    this.wireEvents();
  }

  /** Starts (or stops, with null) serving the messaging model to clients. */
  /** The open connections and their links, for the management listings (connections, links). */
  connectionsSnapshot(): ConnectionSnapshot[] {
    const rows: ConnectionSnapshot[] = [];
    for (const state of this.connections.values()) {
      if (state.closed) continue;
      const consumers = [...state.consumers.entries()].map(([sender, link]) => ({ name: sender.name, queue: link.queue?.name ?? null, browse: link.browse }));
      rows.push({ info: state.info, role: state.role, producers: [...state.producers.keys()].map((r) => ({ name: r.name, target: (r.target as { address?: string } | undefined)?.address ?? null })), consumers });
    }
    return rows;
  }

  setService(service: MessagingService | null): void {
    this.service = service;
  }

  setAdmission(admission: (info: ConnectionInfo) => Admission): void {
    this.admission = admission;
  }

  registerNode(address: string, node: SpecialNode): void {
    this.nodes.set(address, node);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.accept(socket));
      server.once('error', reject);
      server.listen({ host: this.options.host, port: this.options.port }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.logger.error({ err }, 'listener error'));
        const address = server.address();
        const { pendingMax, openFileLimit } = this.handshakes;
        this.logger.info({ handshakeTimeoutMs: this.options.handshakeTimeoutMs, maxPendingHandshakes: pendingMax, configured: this.options.maxPendingHandshakes, openFileLimit }, 'handshake limits');
        resolve(typeof address === 'object' && address ? address.port : this.options.port);
      });
      this.server = server;
    });
  }

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    socket.on('error', (err) => this.logger.debug({ err: err.message }, 'socket error'));
    if (!this.handshakes.admit(socket)) return;
    // Until it says something a socket costs a timer and a map entry: rhea's connection (with
    // its SASL layer) is made when the first bytes are there to read, so a flood of silent
    // sockets does not take the event loop from the clients being served.
    socket.once('readable', () => {
      if (socket.readableLength === 0) socket.destroy(); // the peer ended without a word
      else this.serve(socket);
    });
  }

  private serve(socket: Socket): void {
    const connection = new RheaConnection(
      {
        id: `conn-${randomUUID()}`,
        max_frame_size: this.options.maxFrameSizeBytes,
        channel_max: channelMaxOf(this.options.openLimits),
        // Proton C++ and Qpid JMS use the anonymous relay only when the broker offers it.
        offered_capabilities: ['ANONYMOUS-RELAY'],
        // Who we are, under the keys qpidd uses (QPID-6592).
        properties: { product: 'qpidd-ts', version: PRODUCT_VERSION },
        ...(this.options.idleTimeoutMs ? { idle_time_out: Math.max(1, Math.round(this.options.idleTimeoutMs)) } : {}),
      },
      this.container,
    );
    // Read errors are reported here, with the connection they belong to (the container's
    // handlers do not learn it): answer with a close frame before rhea ends the socket.
    connection.on('protocol_error', (err: unknown) => this.inputFailed(guard, socket, err));
    connection.on('error', (err: unknown) => this.inputFailed(guard, socket, err));
    boundPeerOpen(connection);
    patchSessions(connection, connectionIntake({ maxMessageSizeBytes: this.options.maxMessageSizeBytes, maxConnectionBufferBytes: this.options.maxConnectionBufferBytes }, this.logger));
    coalesceWrites(socket);
    const guard = acceptGuarded(connection, socket, { limits: { maxFrameSizeBytes: Math.max(this.options.maxFrameSizeBytes, 512), maxDepth: this.options.maxDecodeDepth }, logger: this.logger });
    limitSessionsAndLinks(connection, this.options.openLimits, guard, this.logger.child({ connection: peerOf(socket) }));
    serveSasl(connection, this.options.sasl, { host: socket.remoteAddress ?? '?', address: peerOf(socket) }, (identity) => this.identities.set(connection, identity));
    // The 'readable' listener stopped the flow; rhea reads with 'data'.
    socket.resume();
  }

  /** rhea could not read a connection's input (a malformed or out-of-place frame). */
  private inputFailed(guard: ConnectionGuard, socket: Socket, err: unknown): void {
    // A broken assertion in one of our handlers surfaces here too: it is a bug, so crash
    // (STYLE.md 5) rather than treat it as the client's bad input.
    if ((err as Error)?.name === 'AssertionFailure') throw err;
    const error = inputErrorCondition(err);
    this.logger.warn({ condition: error.condition, err: error.description, connection: peerOf(socket) }, 'bad input; connection closed');
    guard.fail(error);
  }

  private closeWithError(connection: Connection, error: { condition: string; description: string; info?: Record<string, unknown> }): void {
    try {
      connection.close(error as never);
      (connection as unknown as { output(): void }).output?.();
    } catch (err) {
      this.logger.debug({ err }, 'close after error failed');
    }
  }

  private wireEvents(): void {
    const c = this.container;
    c.on('connection_open', (ctx: EventContext) => this.onConnectionOpen(ctx.connection));
    c.on('connection_close', (ctx: EventContext) => this.onConnectionGone(ctx.connection));
    c.on('disconnected', (ctx: EventContext) => this.onConnectionGone(ctx.connection));
    c.on('connection_error', (ctx: EventContext) => this.logger.debug({ error: ctx.connection.error }, 'connection error'));
    c.on('protocol_error', (ctx: EventContext) => {
      const connection = (ctx as unknown as { connection?: Connection }).connection ?? (ctx as unknown as Connection);
      this.logger.warn({ err: String(ctx) }, 'protocol error; connection closed');
      if (connection && typeof (connection as Connection).close === 'function') {
        this.closeWithError(connection as Connection, { condition: 'amqp:decode-error', description: 'malformed frame' });
      }
    });
    c.on('error', (ctx: unknown) => {
      const err = ctx as Error & { connection?: Connection };
      this.logger.warn({ err: err?.message ?? String(ctx) }, 'connection error; closed');
    });
    c.on('receiver_open', (ctx: EventContext) => this.guard(ctx, () => this.onReceiverOpen(ctx)));
    c.on('sender_open', (ctx: EventContext) => this.guard(ctx, () => this.onSenderOpen(ctx)));
    c.on('message', (ctx: EventContext) => this.guard(ctx, () => this.onMessage(ctx)));
    for (const outcome of ['accepted', 'released', 'rejected', 'modified'] as const) {
      c.on(outcome, (ctx: EventContext) => this.guard(ctx, () => this.onOutcome(ctx, outcome)));
    }
    c.on('sendable', (ctx: EventContext) => this.guard(ctx, () => this.consumerOf(ctx)?.creditChanged(false)));
    c.on('sender_draining', (ctx: EventContext) => this.guard(ctx, () => this.consumerOf(ctx)?.creditChanged(true)));
    c.on('receiver_close', (ctx: EventContext) => this.onLinkClosed(ctx.connection, ctx.receiver as Receiver));
    c.on('sender_close', (ctx: EventContext) => this.onLinkClosed(ctx.connection, ctx.sender as Sender));
    c.on('receiver_error', (ctx: EventContext) => this.logger.debug({ error: ctx.receiver?.error }, 'receiver detached with error'));
    c.on('sender_error', (ctx: EventContext) => this.logger.debug({ error: ctx.sender?.error }, 'sender detached with error'));
  }

  /** Runs a handler; a bug in it closes that connection with internal-error instead of taking
   * the broker down, and is logged loudly. Assertions are not caught here: they crash. */
  private guard(ctx: EventContext, handler: () => void): void {
    try {
      handler();
    } catch (err) {
      if ((err as Error)?.name === 'AssertionFailure') throw err;
      this.logger.error({ err }, 'handler failed; connection closed');
      this.closeWithError(ctx.connection, { condition: 'amqp:internal-error', description: (err as Error)?.message ?? String(err) });
    }
  }

  private onConnectionOpen(connection: Connection): void {
    const remote = connection as unknown as { properties?: Record<string, unknown>; container_id?: string; options: { id: string }; socket?: Socket };
    const info: ConnectionInfo = {
      id: remote.options.id,
      containerId: remote.container_id ?? '',
      properties: remote.properties ?? {},
      remoteAddress: `${remote.socket?.remoteAddress ?? '?'}:${remote.socket?.remotePort ?? '?'}`,
      user: this.identities.get(connection) ?? `anonymous@${this.options.sasl.policy.realm}`,
    };
    this.handshakes.opened(remote.socket);
    if (this.stopping) {
      this.dropConnection(connection);
      return;
    }
    if (this.connections.size >= this.options.maxConnections) {
      this.logger.warn({ connection: info.remoteAddress, max: this.options.maxConnections }, 'connection refused: --max-connections reached');
      this.closeWithError(connection, { condition: 'amqp:resource-limit-exceeded', description: `too many connections (--max-connections ${this.options.maxConnections})` });
      return;
    }
    const admission = this.admission(info);
    if (admission.kind === 'drop') {
      // Clients retry within milliseconds until a primary appears: not worth a line each.
      this.logger.debug({ connection: info.remoteAddress, container: info.containerId, reason: admission.reason }, 'connection dropped');
      this.dropConnection(connection);
      return;
    }
    if (admission.kind === 'refuse') {
      // Backups looking for the primary knock every --link-maintenance-interval: not news.
      const routine = info.properties['qpid.ha-replication'] === true;
      this.logger[routine ? 'debug' : 'info']({ connection: info.remoteAddress, condition: admission.error.condition }, 'connection refused');
      this.closeWithError(connection, admission.error);
      return;
    }
    const refusal = this.gate.admit(info.user, remote.socket?.remoteAddress ?? '?');
    if (refusal) {
      this.logger.info({ connection: info.remoteAddress, user: info.user, condition: refusal.condition, description: refusal.description }, 'connection refused');
      this.closeWithError(connection, refusal);
      return;
    }
    announceIdleTimeout(connection, admission.role);
    this.connections.set(connection, { info, role: admission.role, producers: new Map(), consumers: new Map(), special: new Map(), temporaryQueues: new Map(), closed: false });
    this.logger.debug({ connection: info.remoteAddress, container: info.containerId, role: admission.role }, 'connection opened');
  }

  /** Ends the TCP connection with no AMQP close frame: the client sees its transport fail and
   * reconnects or fails over, which Proton and rhea all do; an amqp:connection:forced close is
   * final for them (Proton Python does not even answer it and hangs: FACTS.md). */
  private dropConnection(connection: Connection): void {
    this.dropped.add(connection);
    (connection as unknown as { socket?: Socket }).socket?.destroy();
  }

  private onConnectionGone(connection: Connection): void {
    const state = this.connections.get(connection);
    if (!state || state.closed) return;
    state.closed = true;
    this.connections.delete(connection);
    this.gate.closed(state.info.user);
    for (const producer of state.producers.values()) producer.close();
    for (const consumer of state.consumers.values()) consumer.close();
    for (const [link, node] of state.special) node.linkClosed?.(link);
    for (const queue of state.temporaryQueues.values()) this.deleteTemporaryQueue(queue);
    for (const node of new Set(state.special.values())) node.connectionClosed?.(state.info);
    this.service?.broker.connectionClosed(state.info.id);
    this.logger.debug({ connection: state.info.remoteAddress }, 'connection closed');
  }

  private stateOf(connection: Connection): ConnectionState | undefined {
    return this.connections.get(connection);
  }

  private refuseLink(link: Sender | Receiver, err: unknown): void {
    refuseLink(link, err, this.logger);
  }

  private onReceiverOpen(ctx: EventContext): void {
    const receiver = ctx.receiver as Receiver;
    const state = this.stateOf(ctx.connection);
    if (!state) {
      if (!this.dropped.has(ctx.connection)) receiver.close({ condition: 'amqp:not-allowed', description: 'connection not admitted' } as never);
      return;
    }
    const remote = (receiver as unknown as { remote: { attach: { target?: Terminus; properties?: Record<string, unknown> } } }).remote.attach;
    const target = remote.target;
    const address = target?.address ?? null;
    const special = address !== null ? this.nodes.get(address) : undefined;
    if (special?.receiverOpened) {
      state.special.set(receiver, special);
      receiver.set_target({ address: address as string });
      special.receiverOpened(receiver, state.info, state.role);
      return;
    }
    if (state.role === 'replication') {
      this.refuseLink(receiver, new BrokerError('NOT_ALLOWED', 'a replication connection cannot publish'));
      return;
    }
    const service = this.service;
    if (!service) {
      this.refuseLink(receiver, new BrokerError('NOT_ALLOWED', 'this broker is not serving clients (not primary)'));
      return;
    }
    const unroutable = parseUnroutable(remote.properties);
    try {
      const attach = attachProducer(this.scopeOf(service, state), target, unroutable);
      receiver.set_target(attach.reply as never);
      if (attach.temporaryQueue !== null) state.temporaryQueues.set(receiver, attach.temporaryQueue);
      const producer = new ProducerLink(service.broker, service.settlements, receiver, attach.target, { window: this.options.maxUnsettled, unroutable, clock: this.clock, logger: this.logger, decode: this.decodeLimits });
      state.producers.set(receiver, producer);
    } catch (err) {
      this.refuseLink(receiver, err);
    }
  }

  private scopeOf(service: MessagingService, state: ConnectionState): AttachScope {
    const user = state.info.user;
    return { broker: service.broker, owner: state.info.id, containerId: state.info.containerId, policies: this.options.nodePolicies ?? NO_NODE_POLICIES, authorize: (check) => this.options.access.authorize({ ...check, user }) };
  }

  private deleteTemporaryQueue(name: string): void {
    const broker = this.service?.broker;
    if (!broker?.queue(name)) return;
    try {
      broker.deleteQueue(name);
    } catch (err) {
      this.logger.warn({ err, queue: name }, 'could not delete a temporary queue');
    }
  }

  private onSenderOpen(ctx: EventContext): void {
    const sender = ctx.sender as Sender;
    const state = this.stateOf(ctx.connection);
    if (!state) {
      if (!this.dropped.has(ctx.connection)) sender.close({ condition: 'amqp:not-allowed', description: 'connection not admitted' } as never);
      return;
    }
    const remote = (sender as unknown as { remote: { attach: { source?: Terminus; name: string } } }).remote.attach;
    const source = remote.source;
    const address = source?.address ?? null;
    const special = address !== null ? this.nodes.get(address) : undefined;
    if (special?.senderOpened) {
      state.special.set(sender, special);
      sender.set_source({ address: address as string });
      special.senderOpened(sender, state.info, state.role);
      return;
    }
    if (state.role === 'replication') {
      this.refuseLink(sender, new BrokerError('NOT_ALLOWED', 'a replication connection cannot consume'));
      return;
    }
    const service = this.service;
    if (!service) {
      this.refuseLink(sender, new BrokerError('NOT_ALLOWED', 'this broker is not serving clients (not primary)'));
      return;
    }
    const broker = service.broker;
    try {
      const attach = attachConsumer(this.scopeOf(service, state), source, remote.name);
      sender.set_source(attach.reply as never);
      const consumer = new ConsumerLink(broker, sender, {
        browse: attach.browse,
        selector: attach.selector,
        maxUnsettled: this.options.maxUnsettled,
        logger: this.logger,
        onQueueDeleted: () => sender.close({ condition: 'amqp:resource-deleted', description: `queue ${attach.queue} was deleted` } as never),
      });
      const queue = broker.subscribe(attach.queue, consumer, state.info.id);
      consumer.attachTo(queue);
      state.consumers.set(sender, consumer);
    } catch (err) {
      this.refuseLink(sender, err);
    }
  }

  private onMessage(ctx: EventContext): void {
    const receiver = ctx.receiver as Receiver;
    const delivery = ctx.delivery as Delivery;
    const raw = ctx.message as unknown as Buffer;
    const format = (ctx as unknown as { format?: number }).format ?? 0;
    settleIfPresettled(delivery);
    const state = this.stateOf(ctx.connection);
    if (!state) return;
    const special = state.special.get(receiver);
    if (special) {
      if (format === RAW_FORMAT && !this.wellFormed(raw, delivery)) return;
      special.message?.(receiver, raw, delivery, format === RAW_FORMAT ? 0 : format);
      return;
    }
    const producer = state.producers.get(receiver);
    if (!producer) return;
    if (format !== RAW_FORMAT) {
      delivery.reject({ condition: 'amqp:not-implemented', description: `message format ${format} is not supported` });
      return;
    }
    producer.onMessage(raw, delivery);
  }

  /** Special nodes decode their messages with rhea: its decoder must see only bounded bytes. */
  private wellFormed(raw: Buffer, delivery: Delivery): boolean {
    try {
      locateSections(raw, this.decodeLimits);
      return true;
    } catch (err) {
      if (!(err instanceof MessageFormatError)) throw err;
      this.logger.warn({ code: err.code, err: err.message }, 'malformed message to a special node rejected');
      if (!(delivery as unknown as { remote_settled?: boolean }).remote_settled) delivery.reject({ condition: err.condition, description: `malformed message: ${err.message}` });
      return false;
    }
  }

  private consumerOf(ctx: EventContext): ConsumerLink | undefined {
    return this.stateOf(ctx.connection)?.consumers.get(ctx.sender as Sender);
  }

  private onOutcome(ctx: EventContext, outcome: 'accepted' | 'released' | 'rejected' | 'modified'): void {
    const consumer = this.consumerOf(ctx);
    if (consumer) consumer.outcome(ctx.delivery as Delivery, outcome);
  }

  private onLinkClosed(connection: Connection, link: Sender | Receiver): void {
    const state = this.stateOf(connection);
    if (!state) return;
    const producer = state.producers.get(link as Receiver);
    if (producer) {
      producer.close();
      state.producers.delete(link as Receiver);
    }
    const consumer = state.consumers.get(link as Sender);
    if (consumer) {
      consumer.close();
      state.consumers.delete(link as Sender);
    }
    const special = state.special.get(link);
    if (special) {
      special.linkClosed?.(link);
      state.special.delete(link);
    }
    const temporary = state.temporaryQueues.get(link as Receiver);
    if (temporary !== undefined) {
      state.temporaryQueues.delete(link as Receiver);
      this.deleteTemporaryQueue(temporary);
    }
    if (link.is_open()) link.close();
  }

  /** Closes every connection that the predicate selects, with the given error (an HA broker
   * that stops being primary sheds its clients this way). */
  closeConnections(select: (info: ConnectionInfo, role: ConnectionRole) => boolean, error: { condition: string; description: string; info?: Record<string, unknown> }): number {
    let closed = 0;
    for (const [connection, state] of this.connections) {
      if (!select(state.info, state.role)) continue;
      this.closeWithError(connection, error);
      closed++;
    }
    return closed;
  }

  /** Drops every connection the predicate selects, with no close frame (a fenced primary sheds
   * its clients this way, so that they fail over). */
  dropConnections(select: (info: ConnectionInfo, role: ConnectionRole) => boolean): number {
    let dropped = 0;
    for (const [connection, state] of [...this.connections]) {
      if (!select(state.info, state.role)) continue;
      this.dropConnection(connection);
      dropped++;
    }
    return dropped;
  }

  /** Shutdown as qpidd does it (DESIGN.md §3): stop accepting and stop reading clients; let the
   * deliveries already in flight settle (their commits finish, and producers hear `accepted`
   * for what is durable), within `settleTimeoutMs`; then drop client sockets with no close frame,
   * so that clients reconnect. Admin and replication connections (our own tools and brokers)
   * get a proper close. */
  async stop(options: { settleTimeoutMs?: number } = {}): Promise<void> {
    this.stopping = true;
    const server = this.server;
    const listenerClosed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    const clients: Socket[] = [];
    for (const [connection, state] of this.connections) {
      const socket = (connection as unknown as { socket?: Socket }).socket;
      if (state.role === 'client' && socket) {
        socket.pause();
        clients.push(socket);
      }
    }
    const deadline = this.clock.nowMs() + (options.settleTimeoutMs ?? 5000);
    while ((this.service?.settlements.pending ?? 0) > 0 && this.clock.nowMs() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // rhea writes the dispositions on the next tick, and corked writes go out a turn later.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    for (const socket of clients) socket.end();
    this.closeConnections((_, role) => role !== 'client', { condition: 'amqp:connection:forced', description: 'broker is shutting down' });
    // Not unref'd: an ended, paused socket need not keep the process alive, and the stop must
    // still run to its end (the store's close) before main exits.
    await Promise.race([listenerClosed, new Promise((resolve) => setTimeout(resolve, 500))]);
    for (const connection of this.connections.keys()) (connection as unknown as { socket?: Socket }).socket?.destroy();
    for (const socket of clients) socket.destroy();
  }
}
