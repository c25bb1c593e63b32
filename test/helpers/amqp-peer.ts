// A scriptable AMQP 1.0 server on rhea, on loopback port 0: a real peer for the client's tests (not
// a mock of the client). It behaves as a small in-memory queue broker, and can be told to refuse
// connections the way an HA backup does (redirect / forced), drop every connection after N
// transfers, hold settlements (a recovering primary), or settle with another outcome. Peers can
// share their queues to stand in for a replicated cluster. Also: a TCP proxy that can freeze, to
// make a peer fall silent without closing anything (what heartbeats exist to detect).
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import rhea, { type Connection, type Delivery, type Message, type Receiver, type Sender } from 'rhea';
import { SettlementSequencer } from '../../src/client/settlement-sequencer.js';

export type PeerMode =
  | { readonly kind: 'broker' }
  | { readonly kind: 'redirect'; readonly host: string; readonly port: number }
  | { readonly kind: 'forced'; readonly description: string };

export type PeerOutcome = 'accepted' | 'rejected' | 'released' | 'modified';

export interface StoredMessage {
  readonly seq: number;
  readonly message: Message;
  deliveryCount: number;
}

/** One queue; shared by reference between peers that stand for one replicated broker. */
export class PeerQueue {
  messages: StoredMessage[] = [];
  private nextSeq = 1;
  readonly listeners = new Set<() => void>();

  push(message: Message): void {
    this.messages.push({ seq: this.nextSeq++, message, deliveryCount: 0 });
    for (const listener of this.listeners) listener();
  }

  /** Puts messages back in their original order (by seq), as a broker requeues them. */
  requeue(stored: StoredMessage[]): void {
    this.messages.push(...stored);
    this.messages.sort((a, b) => a.seq - b.seq);
    for (const listener of this.listeners) listener();
  }

  bodies(): unknown[] {
    return this.messages.map((stored) => stored.message.body);
  }
}

export type PeerQueues = Map<string, PeerQueue>;

export interface AttachRecord {
  readonly role: 'sender' | 'receiver';
  readonly address: string | undefined;
  readonly capabilities: unknown;
  readonly dynamicNodeProperties: unknown;
  readonly distributionMode: unknown;
}

export interface OpenRecord {
  readonly properties: Record<string, unknown> | undefined;
  readonly idleTimeOutMs: number | undefined;
  readonly accepted: boolean;
}

export interface PeerOptions {
  readonly port?: number;
  readonly mode?: PeerMode;
  readonly queues?: PeerQueues;
}

export class AmqpPeer {
  mode: PeerMode;
  /** Outcome for each incoming message (after it is stored, except for rejected/released). */
  outcome: PeerOutcome | ((message: Message) => PeerOutcome) = 'accepted';
  /** While true, incoming messages are stored but not settled (a recovering primary). */
  holdSettlements = false;
  /**
   * Send a refusal's close this long after the open, answering nothing in between: what a client
   * sees when a broker's open and close land in different reads (the broker refused at open, so
   * its close comes before any answer to what the client sent after the open).
   */
  refuseDelayMs = 0;
  /** Addresses whose links are refused with amqp:not-found. */
  readonly refuse = new Set<string>();
  readonly attaches: AttachRecord[] = [];
  readonly opens: OpenRecord[] = [];
  transfersReceived = 0;
  private readonly openLinks = new Set<Sender | Receiver>();
  private dropAfterTransfers: number | undefined;
  private readonly held: Array<{ delivery: Delivery; connection: Connection; outcome: PeerOutcome }> = [];
  private readonly sockets = new Set<Socket>();
  private readonly bySocket = new Map<Socket, Connection>();
  private readonly dead = new WeakSet<Connection>();
  private readonly sequencers = new WeakMap<Connection, SettlementSequencer>();
  private readonly unsettledOut = new Map<Connection, Map<Delivery, { queue: PeerQueue; stored: StoredMessage }>>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly queues: PeerQueues,
    mode: PeerMode,
  ) {
    this.mode = mode;
  }

  static async start(options: PeerOptions = {}): Promise<AmqpPeer> {
    const container = rhea.create_container({ id: `peer-${process.pid}-${Math.random().toString(36).slice(2, 8)}` });
    container.on('error', () => undefined);
    const server = container.listen({
      port: options.port ?? 0,
      host: '127.0.0.1',
      receiver_options: { autoaccept: false, credit_window: 500 },
      sender_options: { treat_modified_as_released: false },
    } as never) as Server;
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    const port = (server.address() as AddressInfo).port;
    const peer = new AmqpPeer(server, port, options.queues ?? new Map(), options.mode ?? { kind: 'broker' });
    server.on('connection', (socket: Socket) => {
      peer.sockets.add(socket);
      socket.on('error', () => undefined);
      // A socket destroyed on this side emits neither 'end' nor 'error', so rhea would never
      // report the connection gone: requeue its deliveries from here.
      socket.on('close', () => {
        peer.sockets.delete(socket);
        const connection = peer.bySocket.get(socket);
        if (connection) peer.onGone(connection);
      });
    });
    peer.wire(container);
    return peer;
  }

  get url(): string {
    return `127.0.0.1:${this.port}`;
  }

  queue(name: string): PeerQueue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new PeerQueue();
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** After `count` more incoming transfers, destroy every connection (the last one is stored, unsettled). */
  dropAfter(count: number): void {
    this.dropAfterTransfers = this.transfersReceived + count;
  }

  /** Destroys every client socket at once, as a crashed broker's kernel would. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** Detaches every open link on `address`, with an error (a deleted queue) or without. */
  detachLinks(address: string, error?: { condition: string; description?: string }): number {
    let count = 0;
    for (const link of this.openLinks) {
      const terminus = (link.is_sender() ? link.source : link.target) as { address?: string } | undefined;
      if (terminus?.address !== address) continue;
      this.openLinks.delete(link);
      if (error) link.close(error);
      else link.close();
      count++;
    }
    return count;
  }

  private track(link: Sender | Receiver): void {
    this.openLinks.add(link);
    const forget = (): boolean => this.openLinks.delete(link);
    link.on(link.is_sender() ? 'sender_close' : 'receiver_close', forget);
    link.connection.on('disconnected', forget);
  }

  /** Settles every held message with the current outcome. */
  releaseHeld(): void {
    this.holdSettlements = false;
    for (const { delivery, connection, outcome } of this.held.splice(0)) {
      if (!this.dead.has(connection)) this.settle(connection, delivery, outcome);
    }
  }

  get heldCount(): number {
    return this.held.length;
  }

  async stop(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private wire(container: ReturnType<typeof rhea.create_container>): void {
    container.on('connection_open', (context) => this.onOpen(context.connection));
    container.on('receiver_open', (context) => this.onClientSender(context.receiver as Receiver));
    container.on('sender_open', (context) => this.onClientReceiver(context.sender as Sender));
    container.on('message', (context) => this.onMessage(context.receiver as Receiver, context.delivery as Delivery, context.message as Message));
    container.on('sendable', (context) => this.pump(context.sender as Sender));
    container.on('settled', (context) => this.onSettled(context.connection, context.delivery as Delivery));
    container.on('sender_close', (context) => this.requeueLink(context.connection, context.sender as Sender));
    container.on('disconnected', (context) => this.onGone(context.connection));
    container.on('connection_close', (context) => this.onGone(context.connection));
    for (const event of ['connection_error', 'receiver_close', 'sender_error', 'receiver_error', 'session_error', 'session_close', 'protocol_error']) {
      container.on(event, () => undefined);
    }
  }

  private onOpen(connection: Connection): void {
    const socket = (connection as unknown as { socket?: Socket }).socket;
    if (socket) this.bySocket.set(socket, connection);
    const remote = (connection as unknown as { remote: { open?: { properties?: Record<string, unknown>; idle_time_out?: number } } }).remote.open;
    const admin = remote?.properties?.['qpid.ha-admin'] === true;
    const accepted = this.mode.kind === 'broker' || admin;
    this.opens.push({ properties: remote?.properties, idleTimeOutMs: remote?.idle_time_out, accepted });
    if (accepted) return;
    if (this.refuseDelayMs > 0) {
      (connection as unknown as { on_begin: () => void }).on_begin = () => undefined;
      const mode = this.mode;
      setTimeout(() => this.refuse_(connection, mode), this.refuseDelayMs);
      return;
    }
    this.refuse_(connection, this.mode);
  }

  private refuse_(connection: Connection, mode: PeerMode): void {
    if (mode.kind === 'redirect') {
      connection.close({
        condition: 'amqp:connection:redirect',
        description: 'this broker is a backup',
        info: { 'network-host': mode.host, port: mode.port },
      } as never);
    } else if (mode.kind === 'forced') {
      connection.close({ condition: 'amqp:connection:forced', description: mode.description });
    }
  }

  private refuseLink(link: Sender | Receiver, address: string): boolean {
    if (!this.refuse.has(address)) return false;
    link.close({ condition: 'amqp:not-found', description: `no node named ${address}` });
    return true;
  }

  /** The client's sender: the peer receives into a queue. */
  private onClientSender(receiver: Receiver): void {
    const target = receiver.target as { address?: string; capabilities?: unknown; dynamic_node_properties?: unknown } | undefined;
    const address = target?.address;
    this.attaches.push({
      role: 'sender',
      address,
      capabilities: target?.capabilities ?? undefined,
      dynamicNodeProperties: target?.dynamic_node_properties ?? undefined,
      distributionMode: undefined,
    });
    if (address === undefined || this.refuseLink(receiver, address)) return;
    receiver.set_target({ address });
    this.track(receiver);
  }

  /** The client's receiver: the peer delivers from a queue. */
  private onClientReceiver(sender: Sender): void {
    const source = sender.source as { address?: string; capabilities?: unknown; dynamic_node_properties?: unknown; distribution_mode?: unknown } | undefined;
    const address = source?.address;
    this.attaches.push({
      role: 'receiver',
      address,
      capabilities: source?.capabilities ?? undefined,
      dynamicNodeProperties: source?.dynamic_node_properties ?? undefined,
      distributionMode: source?.distribution_mode ?? undefined,
    });
    if (address === undefined || this.refuseLink(sender, address)) return;
    sender.set_source({ address });
    this.track(sender);
    const queue = this.queue(address);
    const listener = (): void => this.pump(sender);
    queue.listeners.add(listener);
    sender.on('sender_close', () => queue.listeners.delete(listener));
    sender.connection.on('disconnected', () => queue.listeners.delete(listener));
    (sender as unknown as { queueName: string }).queueName = address;
  }

  private onMessage(receiver: Receiver, delivery: Delivery, message: Message): void {
    const connection = receiver.connection;
    if (this.dead.has(connection)) return;
    this.transfersReceived++;
    const address = (receiver.target as { address?: string } | undefined)?.address ?? '';
    const outcome = typeof this.outcome === 'function' ? this.outcome(message) : this.outcome;
    if (outcome === 'accepted') this.queue(address).push(message);
    if (this.dropAfterTransfers !== undefined && this.transfersReceived >= this.dropAfterTransfers) {
      this.dropAfterTransfers = undefined;
      for (const socket of this.sockets) socket.destroy();
      this.dead.add(connection);
      return;
    }
    if (this.holdSettlements) this.held.push({ delivery, connection, outcome });
    else this.settle(connection, delivery, outcome);
  }

  /** Mixed outcomes go through the sequencer: rhea would merge them into one range otherwise. */
  private settle(connection: Connection, delivery: Delivery, outcome: PeerOutcome): void {
    let sequencer = this.sequencers.get(connection);
    if (!sequencer) {
      sequencer = new SettlementSequencer();
      this.sequencers.set(connection, sequencer);
    }
    sequencer.settle(outcome, () => this.dead.has(connection) || settle(delivery, outcome));
  }

  private pump(sender: Sender): void {
    const name = (sender as unknown as { queueName?: string }).queueName;
    if (name === undefined || this.dead.has(sender.connection) || !sender.is_open()) return;
    const queue = this.queue(name);
    let unsettled = this.unsettledOut.get(sender.connection);
    if (!unsettled) {
      unsettled = new Map();
      this.unsettledOut.set(sender.connection, unsettled);
    }
    while (sender.sendable() && queue.messages.length > 0) {
      const stored = queue.messages.shift() as StoredMessage;
      const delivery = sender.send({ ...stored.message, delivery_count: stored.deliveryCount });
      unsettled.set(delivery, { queue, stored });
    }
  }

  private onSettled(connection: Connection, delivery: Delivery): void {
    const entry = this.unsettledOut.get(connection)?.get(delivery);
    if (!entry) return;
    this.unsettledOut.get(connection)?.delete(delivery);
    const type = (delivery.remote_state as { constructor?: { composite_type?: string } } | undefined)?.constructor?.composite_type;
    if (type === 'released' || type === 'modified') {
      if (type === 'modified') entry.stored.deliveryCount++;
      entry.queue.requeue([entry.stored]);
    }
  }

  private requeueLink(connection: Connection, sender: Sender): void {
    const unsettled = this.unsettledOut.get(connection);
    if (!unsettled) return;
    for (const [delivery, entry] of unsettled) {
      if (delivery.link !== sender) continue;
      unsettled.delete(delivery);
      this.finish(delivery, entry);
    }
  }

  /**
   * A delivery whose link or connection is gone: rhea may have read its disposition in the same
   * input as the detach without dispatching 'settled' yet, so honour a state already received.
   */
  private finish(delivery: Delivery, entry: { queue: PeerQueue; stored: StoredMessage }): void {
    const type = (delivery.remote_state as { constructor?: { composite_type?: string } } | undefined)?.constructor?.composite_type;
    if (type === 'accepted' || type === 'rejected') return;
    if (type !== 'released') entry.stored.deliveryCount++;
    entry.queue.requeue([entry.stored]);
  }

  /** A connection went away: everything it had unsettled goes back, marked as delivered before. */
  private onGone(connection: Connection): void {
    this.dead.add(connection);
    for (const [socket, owner] of this.bySocket) if (owner === connection) this.bySocket.delete(socket);
    const unsettled = this.unsettledOut.get(connection);
    this.unsettledOut.delete(connection);
    if (!unsettled) return;
    for (const [delivery, entry] of unsettled) this.finish(delivery, entry);
  }
}

function settle(delivery: Delivery, outcome: PeerOutcome): void {
  if (outcome === 'accepted') delivery.accept();
  else if (outcome === 'rejected') delivery.reject({ condition: 'amqp:precondition-failed', description: 'rejected by the test peer' });
  else if (outcome === 'released') delivery.release();
  else delivery.modified({ delivery_failed: true, undeliverable_here: false });
}

/** A TCP relay that can freeze: both directions go silent, nothing is closed. */
export class FreezableProxy {
  frozen = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<FreezableProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new FreezableProxy(server, (server.address() as AddressInfo).port);
    server.on('connection', (client: Socket) => {
      const upstream = net.connect(targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        proxy.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          proxy.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.on('data', (data) => proxy.frozen || upstream.write(data));
      upstream.on('data', (data) => proxy.frozen || client.write(data));
    });
    return proxy;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Polls `condition` until it holds or `timeoutMs` passes (no fixed sleeps in tests). */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
