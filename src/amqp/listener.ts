// The AMQP 1.0 listener on rhea's server side: accepts connections (or refuses them, as an HA
// backup does), wires rhea's events to one handler per performative (handlers/), and hands
// special addresses ($management, HA replication) to their own handlers. Bad input from one
// client closes that client's connection, never the broker.
//
// begin and end (AMQP 1.0 §2.7.2, §2.7.8) have no handler of ours: rhea answers them, bounded
// by rhea-limits.ts (channel-max, handle-max) and ordered by rhea-session-order.ts.

import { createServer, type Server, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import rhea, { type Connection, type Container, type EventContext, type Receiver, type Sender } from 'rhea';
import { packageVersion } from '../config/index.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { inputErrorCondition } from './connection-errors.js';
import { acceptGuarded, peerOf, type ConnectionGuard } from './connection-guard.js';
import { HandshakeGate } from './handshakes.js';
import { rheaServerMechanisms, saslContainerFor, serveSasl } from './rhea-sasl-server.js';
import { listenTls } from './tls-listener.js';
import { channelSecurityOf } from '../security/tls-context.js';
import { ConnectionGate } from './connection-gate.js';
import { channelMaxOf, limitSessionsAndLinks } from './rhea-limits.js';
import { connectionIntake } from './rhea-intake.js';
import { boundPeerOpen } from './rhea-peer-numbers.js';
import { coalesceWrites, patchSessions } from './rhea-sessions.js';
import { useUnfilledWriterBuffers } from './rhea-writer-buffers.js';
import { closeWithError, dropConnection, ServerState } from './server-state.js';
import { keepCoordinatorTargets } from './transaction-codec.js';
import type { Admission, AmqpServerOptions, ConnectionInfo, ConnectionRole, ConnectionSnapshot, MessagingService, SpecialNode } from './types.js';
import { onConnectionOpen } from './handlers/open.js';
import { onConnectionGone } from './handlers/close.js';
import { onReceiverOpen } from './handlers/attach-receiver.js';
import { onSenderOpen } from './handlers/attach-sender.js';
import { onMessage } from './handlers/transfer.js';
import { onCreditChanged } from './handlers/flow.js';
import { onOutcome } from './handlers/disposition.js';
import { onLinkClosed } from './handlers/detach.js';

const require = createRequire(import.meta.url);
type RheaConnectionClass = new (options: Record<string, unknown>, container: Container) => Connection & { accept(socket: Socket): void };
const RheaConnection = require('rhea/lib/connection.js') as RheaConnectionClass;
const PRODUCT_VERSION = packageVersion();

useUnfilledWriterBuffers();

export class AmqpServer {
  private readonly container: Container;
  private server: Server | null = null;
  private tlsServer: Server | null = null;
  private readonly s: ServerState;
  private readonly handshakes: HandshakeGate;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: AmqpServerOptions,
  ) {
    // credit_window 0: every receiving link manages its own credit (producers get a window of
    // --max-unsettled, special nodes their own); rhea's default would add 1000 on top.
    // treat_modified_as_released false: rhea would otherwise report a consumer's `modified` as
    // `released`, losing delivery-failed and undeliverable-here (AMQP 1.0 §3.4.5).
    this.handshakes = new HandshakeGate({ handshakeTimeoutMs: options.handshakeTimeoutMs, maxPendingHandshakes: options.maxPendingHandshakes, clock, logger });
    this.s = new ServerState(clock, logger, options, this.handshakes, new ConnectionGate(options.access, options.maxConnectionsPerUser));
    this.container = rhea.create_container({ id: options.containerId, autoaccept: false, autosettle: true, credit_window: 0, treat_modified_as_released: false } as never);
    // The mechanisms rhea lists; serveSasl (rhea-sasl-server.ts) runs each exchange.
    Object.assign(this.container.sasl_server_mechanisms, rheaServerMechanisms(options.sasl.policy));
    keepCoordinatorTargets();
    this.wireEvents();
  }

  /** Starts (or stops, with null) serving the messaging model to clients. */
  setService(service: MessagingService | null): void {
    this.s.service = service;
  }

  setAdmission(admission: (info: ConnectionInfo) => Admission): void {
    this.s.admission = admission;
  }

  registerNode(address: string, node: SpecialNode): void {
    this.s.nodes.set(address, node);
  }

  /** The open connections and their links, for the management listings (connections, links). */
  connectionsSnapshot(): ConnectionSnapshot[] {
    const rows: ConnectionSnapshot[] = [];
    for (const state of this.s.connections.values()) {
      if (state.closed) continue;
      const consumers = [...state.consumers.entries()].map(([sender, link]) => ({ name: sender.name, queue: link.queue?.name ?? null, browse: link.browse }));
      const producers = [...state.producers.keys()].map((r) => ({ name: r.name, target: (r.target as { address?: string } | undefined)?.address ?? null }));
      rows.push({ info: state.info, role: state.role, producers, consumers });
    }
    return rows;
  }

  get connectionCount(): number {
    return this.s.connections.size;
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

  /** Starts the TLS listener (--ssl-port); resolves with the bound port. */
  async listenTls(): Promise<number | null> {
    const tls = this.options.tls;
    if (!tls) return null;
    const { server, port } = await listenTls(
      { host: this.options.host, port: tls.port, material: tls.material, handshakeTimeoutMs: this.options.handshakeTimeoutMs },
      (raw) => (this.s.stopping ? (raw.destroy(), false) : this.handshakes.admit(raw)),
      (socket) => this.accept(socket, true),
      this.logger,
    );
    this.tlsServer = server;
    return port;
  }

  /** `admitted`: the handshake gate took it already (a TLS socket, before its TLS handshake). */
  private accept(socket: Socket, admitted = false): void {
    if (this.s.stopping) {
      socket.destroy();
      return;
    }
    socket.on('error', (err) => this.logger.debug({ err: err.message }, 'socket error'));
    if (!admitted && !this.handshakes.admit(socket)) return;
    // Until it says something a socket costs a timer and a map entry: rhea's connection (with
    // its SASL layer) is made when the first bytes are there to read, so a flood of silent
    // sockets does not take the event loop from the clients being served.
    socket.once('readable', () => {
      if (socket.readableLength === 0) socket.destroy(); // the peer ended without a word
      else this.serve(socket);
    });
  }

  private serve(socket: Socket): void {
    // Nagle off: writes are already coalesced per event-loop turn (coalesceWrites), and with it
    // on, a small frame written while an earlier one is unacknowledged waits for the peer's
    // delayed ACK (40 ms on Linux). rhea turns it off only on a side that attaches a receiver,
    // which a broker does not do; a 3-broker cluster's producer waited 46 ms per durable message
    // instead of 4 ms (measured, a producer with one message in flight).
    socket.setNoDelay(true);
    const channel = channelSecurityOf(socket);
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
      saslContainerFor(this.container, this.options.sasl.policy, channel),
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
    serveSasl(connection, this.options.sasl, { host: socket.remoteAddress ?? '?', address: peerOf(socket), channel }, (identity) => this.s.identities.set(connection, identity));
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

  private wireEvents(): void {
    const c = this.container;
    c.on('connection_open', (ctx: EventContext) => onConnectionOpen(this.s, ctx.connection));
    c.on('connection_close', (ctx: EventContext) => onConnectionGone(this.s, ctx.connection));
    c.on('disconnected', (ctx: EventContext) => onConnectionGone(this.s, ctx.connection));
    c.on('connection_error', (ctx: EventContext) => this.logger.debug({ error: ctx.connection.error }, 'connection error'));
    c.on('protocol_error', (ctx: EventContext) => {
      const connection = (ctx as unknown as { connection?: Connection }).connection ?? (ctx as unknown as Connection);
      this.logger.warn({ err: String(ctx) }, 'protocol error; connection closed');
      if (connection && typeof (connection as Connection).close === 'function') {
        closeWithError(this.s, connection as Connection, { condition: 'amqp:decode-error', description: 'malformed frame' });
      }
    });
    c.on('error', (ctx: unknown) => {
      const err = ctx as Error & { connection?: Connection };
      this.logger.warn({ err: err?.message ?? String(ctx) }, 'connection error; closed');
    });
    c.on('receiver_open', (ctx: EventContext) => this.guard(ctx, () => onReceiverOpen(this.s, ctx)));
    c.on('sender_open', (ctx: EventContext) => this.guard(ctx, () => onSenderOpen(this.s, ctx)));
    c.on('message', (ctx: EventContext) => this.guard(ctx, () => onMessage(this.s, ctx)));
    for (const outcome of ['accepted', 'released', 'rejected', 'modified'] as const) {
      c.on(outcome, (ctx: EventContext) => this.guard(ctx, () => onOutcome(this.s, ctx, outcome)));
    }
    c.on('sendable', (ctx: EventContext) => this.guard(ctx, () => onCreditChanged(this.s, ctx, false)));
    c.on('sender_draining', (ctx: EventContext) => this.guard(ctx, () => onCreditChanged(this.s, ctx, true)));
    c.on('receiver_close', (ctx: EventContext) => onLinkClosed(this.s, ctx.connection, ctx.receiver as Receiver));
    c.on('sender_close', (ctx: EventContext) => onLinkClosed(this.s, ctx.connection, ctx.sender as Sender));
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
      closeWithError(this.s, ctx.connection, { condition: 'amqp:internal-error', description: (err as Error)?.message ?? String(err) });
    }
  }

  /** Closes every connection that the predicate selects, with the given error (an HA broker
   * that stops being primary sheds its clients this way). */
  closeConnections(select: (info: ConnectionInfo, role: ConnectionRole) => boolean, error: { condition: string; description: string; info?: Record<string, unknown> }): number {
    let closed = 0;
    for (const [connection, state] of this.s.connections) {
      if (!select(state.info, state.role)) continue;
      closeWithError(this.s, connection, error);
      closed++;
    }
    return closed;
  }

  /** Drops every connection the predicate selects, with no close frame (a fenced primary sheds
   * its clients this way, so that they fail over). */
  dropConnections(select: (info: ConnectionInfo, role: ConnectionRole) => boolean): number {
    let dropped = 0;
    for (const [connection, state] of [...this.s.connections]) {
      if (!select(state.info, state.role)) continue;
      dropConnection(this.s, connection);
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
    this.s.stopping = true;
    const server = this.server;
    this.tlsServer?.close();
    const listenerClosed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    const clients: Socket[] = [];
    for (const [connection, state] of this.s.connections) {
      const socket = (connection as unknown as { socket?: Socket }).socket;
      if (state.role === 'client' && socket) {
        socket.pause();
        clients.push(socket);
      }
    }
    const deadline = this.clock.nowMs() + (options.settleTimeoutMs ?? 5000);
    while ((this.s.service?.settlements.pending ?? 0) > 0 && this.clock.nowMs() < deadline) {
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
    for (const connection of this.s.connections.keys()) (connection as unknown as { socket?: Socket }).socket?.destroy();
    for (const socket of clients) socket.destroy();
  }
}
