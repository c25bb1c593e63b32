// The simulated broker's client-facing server (the HA node's ClientFacingServer): it asks the
// node's admission function about every connection, routes replication connections to the
// primary's replicator, and serves clients the MessagingService the node gives it, the way
// src/amqp/server.ts, inbound.ts and outbound.ts do: a publish is settled to its producer only
// through Settlements.hold (the ack gate), a consumer settles entries with broker.settle, and a
// connection that goes away cancels its holds and returns its unacked messages to the queue.

import type { Admission, ConnectionInfo, ConnectionRole, MessagingService } from '../../src/amqp/server.js';
import type { Broker, ConfigChange } from '../../src/broker/broker.js';
import { BrokerError } from '../../src/broker/errors.js';
import type { Consumer, Queue, QueueEntry } from '../../src/broker/queue.js';
import { ProducerSettlement } from '../../src/ha/producer-settlement.js';
import type { ClientFacingServer, HaNode } from '../../src/ha/node.js';
import type { Settlements } from '../../src/ha/settlements.js';
import type { Acceptance, ConnEnd, EndHandlers, ErrorBody, SimConnection, SimNetwork } from './network.js';
import type { AdminOp, ClientFrame, ServerFrame, SettleInfo } from './protocol.js';
import { ReplicationPeer } from './replication.js';

/** What the checkers want to hear from a server. */
export interface ServerHooks {
  admitted(broker: string, role: ConnectionRole): void;
  published(broker: string): void;
  /** `lsn`: the commit the settlement waited for (null: nothing was journaled). */
  settled(broker: string, settlements: Settlements, lsn: number | null, body: Uint8Array | null): SettleInfo;
  consumed(broker: string, body: Uint8Array): void;
}

export interface SimServerDeps {
  readonly name: string;
  readonly net: SimNetwork;
  readonly node: () => HaNode | null;
  readonly hooks: ServerHooks;
}

export class SimServer implements ClientFacingServer {
  private admission: (info: ConnectionInfo) => Admission = () => ({ kind: 'accept', role: 'client' });
  private service: MessagingService | null = null;
  private readonly sessions = new Map<SimConnection, Session>();
  private nextConsumerId = 1;
  private nextLinkId = 1;

  constructor(private readonly deps: SimServerDeps) {}

  setAdmission(admission: (info: ConnectionInfo) => Admission): void {
    this.admission = admission;
  }

  setService(service: MessagingService | null): void {
    this.service = service;
  }

  get currentService(): MessagingService | null {
    return this.service;
  }

  closeConnections(select: (info: ConnectionInfo, role: ConnectionRole) => boolean, error: { condition: string; description: string }): number {
    let closed = 0;
    for (const session of [...this.sessions.values()]) {
      if (!select(session.info, session.role)) continue;
      session.close(error);
      closed++;
    }
    return closed;
  }

  dropConnections(select: (info: ConnectionInfo, role: ConnectionRole) => boolean): number {
    let dropped = 0;
    for (const session of [...this.sessions.values()]) {
      if (!select(session.info, session.role)) continue;
      session.drop();
      dropped++;
    }
    return dropped;
  }

  /** The network's acceptor for this broker's address. */
  readonly acceptor = (connection: SimConnection, properties: Readonly<Record<string, unknown>>): Acceptance => {
    const info: ConnectionInfo = { id: `${this.deps.name}.${connection.id}`, containerId: connection.from, properties, remoteAddress: connection.from, user: 'anonymous@QPID' };
    const admission = this.admission(info);
    if (admission.kind === 'refuse') return { refuse: admission.error };
    if (admission.kind === 'drop') return { drop: admission.reason };
    this.deps.hooks.admitted(this.deps.name, admission.role);
    return {
      accept: (end: ConnEnd): EndHandlers => {
        if (admission.role === 'replication') {
          const peer = new ReplicationPeer(this.deps.net, connection, end, () => this.deps.node()?.primaryReplicator() ?? null, () => `${connection.from}#${this.nextLinkId++}`);
          return peer.handlers;
        }
        const session = new Session(this, this.deps, connection, end, info, admission.role);
        this.sessions.set(connection, session);
        return session.handlers;
      },
    };
  };

  /** @internal */ forget(connection: SimConnection): void {
    this.sessions.delete(connection);
  }

  /** @internal */ consumerId(): number {
    return this.nextConsumerId++;
  }
}

interface ProducerState {
  readonly queue: string;
  readonly broker: Broker;
  readonly settlements: Settlements;
  readonly settlement: ProducerSettlement;
}

/** One client connection on the broker side. */
class Session {
  private readonly producers = new Map<number, ProducerState>();
  private readonly consumers = new Map<number, SimConsumerLink>();
  private open = true;

  constructor(
    private readonly server: SimServer,
    private readonly deps: SimServerDeps,
    private readonly connection: SimConnection,
    private readonly end: ConnEnd,
    readonly info: ConnectionInfo,
    readonly role: ConnectionRole,
  ) {}

  readonly handlers: EndHandlers = {
    frame: (payload) => this.frame(payload as ClientFrame),
    closed: () => this.gone(),
  };

  send(frame: ServerFrame): void {
    if (this.open) this.deps.net.send(this.connection, this.end, frame);
  }

  close(error: ErrorBody): void {
    if (!this.open) return;
    this.deps.net.close(this.connection, this.end, error);
    this.gone();
  }

  /** Resets the connection (no close frame): the client hears its transport fail. */
  drop(): void {
    if (!this.open) return;
    this.deps.net.reset(this.connection, 'connection dropped by the broker');
    this.gone();
  }

  /** The connection is gone: holds can never be settled, held messages go back. */
  private gone(): void {
    if (!this.open) return;
    this.open = false;
    this.server.forget(this.connection);
    for (const producer of this.producers.values()) producer.settlement.close();
    this.producers.clear();
    for (const consumer of this.consumers.values()) consumer.close();
    this.consumers.clear();
    const service = this.server.currentService;
    service?.broker.connectionClosed(this.info.id);
  }

  private frame(frame: ClientFrame): void {
    if (!this.open) return;
    switch (frame.t) {
      case 'attach':
        return this.attach(frame);
      case 'transfer':
        return this.transfer(frame.link, frame.delivery, frame.body);
      case 'disposition':
        this.consumers.get(frame.link)?.disposition(frame.delivery, frame.outcome);
        return;
      case 'admin':
        return this.admin(frame.request, frame.op);
    }
  }

  private attach(frame: Extract<ClientFrame, { t: 'attach' }>): void {
    const service = this.server.currentService;
    if (!service) {
      this.send({ t: 'detach', link: frame.link, error: { condition: 'amqp:not-allowed', description: 'this broker is not serving clients (not primary)' } });
      return;
    }
    const queue = service.broker.queue(frame.queue);
    if (!queue) {
      this.send({ t: 'detach', link: frame.link, error: { condition: 'amqp:not-found', description: `queue ${frame.queue} does not exist` } });
      return;
    }
    if (frame.role === 'sender') {
      this.producers.set(frame.link, { queue: frame.queue, broker: service.broker, settlements: service.settlements, settlement: new ProducerSettlement(service.settlements, () => {}) });
    } else {
      const consumer = new SimConsumerLink(this.server.consumerId(), this, frame.link, service.broker, queue, frame.credit, this.deps);
      this.consumers.set(frame.link, consumer);
      service.broker.subscribe(frame.queue, consumer, this.info.id);
    }
    this.send({ t: 'attached', link: frame.link });
  }

  /** inbound.ts ProducerLink.onMessage: publish, then answer through the production path. */
  private transfer(link: number, delivery: number, body: Uint8Array): void {
    const producer = this.producers.get(link);
    if (!producer) return;
    this.deps.hooks.published(this.deps.name);
    const outcome = producer.broker.publish({ kind: 'queue', queue: producer.queue }, { body, durable: true, expiresAtMs: null, subject: null, applicationProperties: null });
    // The production answer path (src/ha/producer-settlement.ts), with this server's frames.
    producer.settlement.settle(outcome, false, {
      accept: () => {
        const info = this.deps.hooks.settled(this.deps.name, producer.settlements, outcome.kind === 'accepted' ? outcome.hold.lsn : null, body);
        this.send({ t: 'settled', link, delivery, outcome: 'accepted', info, error: null });
      },
      reject: (err) => this.send({ t: 'settled', link, delivery, outcome: 'rejected', info: null, error: String((err as { code?: unknown }).code ?? 'ERROR') }),
      release: () => this.send({ t: 'settled', link, delivery, outcome: 'released', info: null, error: null }),
    });
  }

  /** A management request: the change, then its gated settlement (management/commands.ts). */
  private admin(request: number, op: AdminOp): void {
    const service = this.server.currentService;
    const reply = (ok: boolean, code: string | null, info: SettleInfo | null = null): void => this.send({ t: 'admin-reply', request, ok, code, info });
    if (!service) return reply(false, 'NOT_ALLOWED');
    let change: ConfigChange;
    try {
      change = applyAdmin(service.broker, op);
    } catch (err) {
      return reply(false, err instanceof BrokerError ? err.code : 'ERROR');
    }
    // The production rule for what the answer waits for (Broker.configSettlement).
    const hold = service.broker.configSettlement(change);
    const settled = (): void => reply(true, null, this.open ? this.deps.hooks.settled(this.deps.name, service.settlements, hold?.lsn ?? null, null) : null);
    if (!hold) return settled();
    service.settlements.hold(hold, { settle: settled, fail: () => reply(false, 'STORE') });
  }
}

function applyAdmin(broker: Broker, op: AdminOp): ConfigChange {
  switch (op.kind) {
    case 'declare-queue':
      return broker.declareQueue({ name: op.name, durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: op.args }, null);
    case 'delete-queue':
      return broker.deleteQueue(op.name);
    case 'declare-exchange':
      return broker.declareExchange({ name: op.name, type: op.type, durable: true, autoDelete: false, alternateExchange: null, arguments: op.args });
    case 'delete-exchange':
      return broker.deleteExchange(op.name);
    case 'bind':
      return broker.bind(op.exchange, op.queue, op.key, {});
    case 'unbind':
      return broker.unbind(op.exchange, op.queue, op.key);
  }
}

/** outbound.ts ConsumerLink: a receiving link attached to a queue is a broker Consumer. */
class SimConsumerLink implements Consumer {
  readonly browse = false;
  browsePosition = 0;
  private readonly unsettled = new Map<number, QueueEntry>();
  private nextDelivery = 1;
  private closed = false;

  constructor(
    readonly id: number,
    private readonly session: Session,
    private readonly link: number,
    private readonly broker: Broker,
    private readonly queue: Queue,
    private readonly credit: number,
    private readonly deps: SimServerDeps,
  ) {}

  canTake(): boolean {
    return !this.closed && this.unsettled.size < this.credit;
  }

  take(entry: QueueEntry): void {
    const delivery = this.nextDelivery++;
    this.unsettled.set(delivery, entry);
    this.session.send({ t: 'deliver', link: this.link, delivery, body: this.broker.bodyOf(entry), deliveryCount: entry.deliveryCount });
  }

  disposition(delivery: number, outcome: 'accepted' | 'released'): void {
    const entry = this.unsettled.get(delivery);
    if (!entry) return;
    this.unsettled.delete(delivery);
    if (outcome === 'accepted' && entry.state === 'acquired') this.deps.hooks.consumed(this.deps.name, this.broker.bodyOf(entry));
    this.broker.settle(entry, { kind: outcome });
  }

  queueDeleted(): void {
    this.closed = true;
    this.session.send({ t: 'detach', link: this.link, error: { condition: 'amqp:resource-deleted', description: `queue ${this.queue.name} was deleted` } });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.queue.deleted) this.broker.unsubscribe(this.queue, this);
  }
}
