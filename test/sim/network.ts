// The simulated network: connections between named nodes with TCP's guarantees and TCP's
// failures. Within a connection frames arrive in order, once, or not at all from some point on
// (the connection breaks); that is what AMQP over TCP gives the production code, so it is what
// it must cope with. Faults, per directed link and drawn from the seed:
// - delay: every frame takes the link's latency plus jitter (frames of different connections
//   overtake each other: an old connection's last frames can arrive after a new one's first);
// - drop: a connection is reset (RST): frames already sent arrive, nothing after, both ends
//   hear of it;
// - partition and heal: frames wait (TCP retransmits) and arrive after the heal, unless an end
//   declares the connection dead first: an end that hears nothing for twice the connection's
//   heartbeat closes it (AMQP idle timeout), as does the peer of a paused process;
// - crash: a dead process's peers get a reset (its host's kernel answers) or, when the whole
//   machine is gone, only silence and their heartbeat; a connect to a dead machine waits (SYN
//   retries) until it is back or the connect times out.
// Duplicates come from the clients' resends, as they do over TCP. Request/response calls (status
// probes, the cluster manager's commands) travel the same links with a timeout.

import type { Random } from '../../src/core/random.js';
import type { Trace } from './trace.js';
import { uniform, type Life, type World } from './world.js';

export interface ErrorBody {
  readonly condition: string;
  readonly description: string;
  readonly info?: Record<string, unknown>;
}

export type CloseReason = { readonly kind: 'closed'; readonly error: ErrorBody | null } | { readonly kind: 'lost'; readonly description: string };

export interface EndHandlers {
  /** Initiator only: the acceptor admitted the connection. */
  opened?(): void;
  frame(payload: unknown): void;
  closed(reason: CloseReason): void;
}

/** accept; refuse with a close frame; or drop the TCP connection with none (an HA backup's
 * answer to a client, as qpidd's BackupConnectionExcluder). */
export type Acceptance = { readonly accept: (end: ConnEnd) => EndHandlers } | { readonly refuse: ErrorBody } | { readonly drop: string };

/** What a listening node does with a connection that reaches it. */
export type Acceptor = (connection: SimConnection, properties: Readonly<Record<string, unknown>>) => Acceptance;

export class ConnEnd {
  open = true;
  handlers: EndHandlers | null = null;
  connection!: SimConnection;
  constructor(
    readonly node: string,
    readonly life: Life,
  ) {}
}

export class SimConnection {
  acceptor: ConnEnd | null = null;
  /** No frame is sent any more (reset); ends hear of it through their own notice. */
  broken = false;
  /** Latest arrival time per direction (0: initiator to acceptor), to keep frames in order. */
  readonly lastAtMs: [number, number] = [0, 0];
  readonly held: [Array<() => void>, Array<() => void>] = [[], []];
  constructor(
    readonly id: number,
    readonly from: string,
    readonly to: string,
    readonly heartbeatMs: number,
    readonly initiator: ConnEnd,
  ) {
    initiator.connection = this;
  }

  endAt(node: string): ConnEnd | null {
    if (this.initiator.node === node) return this.initiator;
    if (this.acceptor?.node === node) return this.acceptor;
    return null;
  }

  peerOf(end: ConnEnd): ConnEnd | null {
    return end === this.initiator ? this.acceptor : this.initiator;
  }
}

export interface NetworkKnobs {
  /** One-way latency of a frame, before jitter. */
  readonly latencyMs: number;
  /** Jitter as a fraction of the latency. */
  readonly jitter: number;
  /** How long a connect across a partition waits before it fails (TCP SYN retries). */
  readonly connectTimeoutMs: number;
}

export type CallOutcome<T> = { readonly kind: 'answer'; readonly value: T } | { readonly kind: 'error'; readonly error: unknown } | { readonly kind: 'refused' } | { readonly kind: 'timeout' };

export class SimNetwork {
  private nextId = 1;
  private readonly lives = new Map<string, Life>();
  private readonly acceptors = new Map<string, Acceptor>();
  private readonly connections = new Set<SimConnection>();
  /** Directed blocks `from>to` with a generation, so a heartbeat check knows it is the same one. */
  private readonly blocked = new Map<string, number>();
  private blockGeneration = 0;
  private readonly linkFactor = new Map<string, number>();

  constructor(
    private readonly world: World,
    private readonly rng: Random,
    private readonly knobs: NetworkKnobs,
    private readonly trace: Trace,
  ) {}

  /** A node's current process lifetime, and how it accepts connections (null: it does not). */
  attach(node: string, life: Life, acceptor: Acceptor | null): void {
    this.lives.set(node, life);
    if (acceptor) this.acceptors.set(node, acceptor);
    else this.acceptors.delete(node);
    this.silent.delete(node);
    // Connects that were retrying against the dead machine reach the new process.
    const waiting = this.waitingOpens.get(node) ?? [];
    this.waitingOpens.delete(node);
    for (const open of waiting) open();
  }

  /** Machines that died silently: nothing answers a connect; TCP retries until they are back
   * or the connect times out. */
  private readonly silent = new Set<string>();
  private readonly waitingOpens = new Map<string, Array<() => void>>();

  lifeOf(node: string): Life | undefined {
    return this.lives.get(node);
  }

  isBlocked(from: string, to: string): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  get openConnections(): number {
    return this.connections.size;
  }

  private latency(from: string, to: string): number {
    const key = `${from}>${to}`;
    let factor = this.linkFactor.get(key);
    if (factor === undefined) {
      factor = uniform(this.rng, 0.5, 2);
      this.linkFactor.set(key, factor);
    }
    const base = this.knobs.latencyMs * factor;
    return base * (1 + uniform(this.rng, 0, this.knobs.jitter));
  }

  // ------------------------------------------------------------------ connections

  connect(from: string, to: string, properties: Record<string, unknown>, heartbeatMs: number, handlers: EndHandlers): SimConnection {
    const life = this.lives.get(from);
    if (!life) throw new Error(`sim: ${from} is not attached to the network`);
    const initiator = new ConnEnd(from, life);
    initiator.handlers = handlers;
    const connection = new SimConnection(this.nextId++, from, to, heartbeatMs, initiator);
    this.connections.add(connection);
    this.transmit(connection, 0, null, () => this.arrive(connection, properties));
    // A connect across a partition waits for TCP's SYN retries, then gives up.
    this.world.schedule(this.knobs.connectTimeoutMs, life, () => {
      if (connection.acceptor === null) this.lost(initiator, 'connection timed out');
    });
    return connection;
  }

  /** The open reaches `to` (whatever process lives there now). */
  private arrive(connection: SimConnection, properties: Record<string, unknown>): void {
    const life = this.lives.get(connection.to);
    const acceptor = this.acceptors.get(connection.to);
    if ((!life || !life.alive) && this.silent.has(connection.to)) {
      const waiting = this.waitingOpens.get(connection.to) ?? [];
      waiting.push(() => this.arrive(connection, properties));
      this.waitingOpens.set(connection.to, waiting);
      return;
    }
    if (!life || !life.alive || !acceptor) {
      // Nothing listens: the host's kernel refuses.
      this.transmit(connection, 1, connection.initiator.life, () => this.lost(connection.initiator, 'connection refused'));
      return;
    }
    if (life.paused) {
      // A stopped process's kernel accepts the connection into its listen queue, where it waits
      // until the process runs again; the client gives up when the AMQP open gets no answer
      // within twice its heartbeat.
      this.world.schedule(0, life, () => this.arrive(connection, properties));
      this.world.schedule(2 * connection.heartbeatMs, connection.initiator.life, () => {
        if (connection.acceptor === null) this.lost(connection.initiator, 'no answer to open (peer not running)');
      });
      return;
    }
    const end = new ConnEnd(connection.to, life);
    end.connection = connection;
    connection.acceptor = end;
    if (!connection.initiator.open || connection.broken) {
      end.open = false;
      this.forget(connection);
      return;
    }
    const decision = acceptor(connection, properties);
    if ('refuse' in decision) {
      end.open = false;
      this.transmit(connection, 1, connection.initiator.life, () => this.closedBy(connection.initiator, decision.refuse));
      return;
    }
    if ('drop' in decision) {
      end.open = false;
      this.transmit(connection, 1, connection.initiator.life, () => this.lost(connection.initiator, decision.drop), true);
      return;
    }
    end.handlers = decision.accept(end);
    this.transmit(connection, 1, connection.initiator.life, () => {
      if (connection.initiator.open) connection.initiator.handlers?.opened?.();
    });
  }

  send(connection: SimConnection, end: ConnEnd, payload: unknown): void {
    if (!end.open || connection.broken) return;
    const peer = connection.peerOf(end);
    const direction = end === connection.initiator ? 0 : 1;
    this.transmit(connection, direction, peer?.life ?? null, () => {
      const target = connection.peerOf(end);
      if (target?.open) target.handlers?.frame(payload);
    });
  }

  /** This end closes (AMQP close, with an error or not); the peer hears it after the frames
   * sent before it. */
  close(connection: SimConnection, end: ConnEnd, error: ErrorBody | null): void {
    if (!end.open) return;
    end.open = false;
    const peer = connection.peerOf(end);
    const direction = end === connection.initiator ? 0 : 1;
    if (!peer || connection.broken) {
      this.maybeForget(connection);
      return;
    }
    this.transmit(connection, direction, peer.life, () => this.closedBy(peer, error));
  }

  /** The connection is reset: frames already sent still arrive, then each end hears of it. */
  reset(connection: SimConnection, why: string): void {
    if (connection.broken) return;
    connection.broken = true;
    for (const [end, direction] of [
      [connection.initiator, 1],
      [connection.acceptor, 0],
    ] as const) {
      if (end?.open) this.transmit(connection, direction, end.life, () => this.lost(end, why), true);
    }
  }

  private closedBy(end: ConnEnd, error: ErrorBody | null): void {
    if (!end.open) return;
    end.open = false;
    this.maybeForget(end.connection);
    end.handlers?.closed({ kind: 'closed', error });
  }

  private lost(end: ConnEnd, description: string): void {
    if (!end.open) return;
    end.open = false;
    this.maybeForget(end.connection);
    end.handlers?.closed({ kind: 'lost', description });
  }

  private maybeForget(connection: SimConnection): void {
    if (!connection.initiator.open && !(connection.acceptor?.open ?? false)) this.forget(connection);
  }

  private forget(connection: SimConnection): void {
    // Frames held by a partition (a close, a reset notice) still have to arrive after the heal.
    if (connection.held[0].length > 0 || connection.held[1].length > 0) return;
    this.connections.delete(connection);
  }

  /** Schedules a frame in a direction: in order with the frames before it, held while the
   * link is partitioned. `force` sends even on a broken connection (its own reset notice). */
  private transmit(connection: SimConnection, direction: 0 | 1, life: Life | null, deliver: () => void, force = false): void {
    const from = direction === 0 ? connection.from : connection.to;
    const to = direction === 0 ? connection.to : connection.from;
    const guarded = (): void => {
      if (connection.broken && !force) return;
      deliver();
    };
    if (this.isBlocked(from, to)) {
      connection.held[direction].push(() => this.transmit(connection, direction, life, deliver, force));
      return;
    }
    const atMs = Math.max(this.world.nowMs + this.latency(from, to), connection.lastAtMs[direction]);
    connection.lastAtMs[direction] = atMs;
    this.world.schedule(atMs - this.world.nowMs, life, guarded);
  }

  // ------------------------------------------------------------------ faults

  /** Blocks from -> to. Ends that stop hearing their peer close after twice the heartbeat. */
  block(from: string, to: string): void {
    const key = `${from}>${to}`;
    if (this.blocked.has(key)) return;
    const generation = ++this.blockGeneration;
    this.blocked.set(key, generation);
    for (const connection of this.connections) {
      const receiving = connection.from === from && connection.to === to ? connection.acceptor : connection.from === to && connection.to === from ? connection.initiator : null;
      if (!receiving || !receiving.open) continue;
      this.world.schedule(2 * connection.heartbeatMs, receiving.life, () => {
        if (this.blocked.get(key) === generation) this.lapse(connection, receiving);
      });
    }
  }

  unblock(from: string, to: string): void {
    const key = `${from}>${to}`;
    if (!this.blocked.delete(key)) return;
    for (const connection of [...this.connections]) {
      const direction = connection.from === from && connection.to === to ? 0 : connection.from === to && connection.to === from ? 1 : null;
      if (direction === null) continue;
      const held = connection.held[direction].splice(0);
      for (const send of held) send();
    }
  }

  /** Heals every partition (the liveness phase). */
  unblockAll(): void {
    for (const key of [...this.blocked.keys()]) {
      const [from, to] = key.split('>') as [string, string];
      this.unblock(from, to);
    }
  }

  /** An end heard nothing for twice the heartbeat: it closes the connection (idle timeout). */
  private lapse(connection: SimConnection, end: ConnEnd): void {
    if (!end.open) return;
    this.trace.note(end.node, 'heartbeat lapsed', { connection: connection.id, peer: connection.peerOf(end)?.node ?? connection.to });
    this.lost(end, 'heartbeat lapsed (idle timeout)');
    const peer = connection.peerOf(end);
    if (peer?.open && !connection.broken) {
      const direction = end === connection.initiator ? 0 : 1;
      this.transmit(connection, direction, peer.life, () => this.closedBy(peer, { condition: 'amqp:resource-limit-exceeded', description: 'local-idle-timeout expired' }));
    }
  }

  /** A process stopped: its peers hear nothing and time out, unless it runs again first. */
  paused(node: string, life: Life): void {
    const generation = life.pauseGeneration;
    for (const connection of this.connections) {
      const mine = connection.endAt(node);
      if (!mine || mine.life !== life) continue;
      const peer = connection.peerOf(mine);
      if (!peer || !peer.open) continue;
      this.world.schedule(2 * connection.heartbeatMs, peer.life, () => {
        if (life.paused && life.pauseGeneration === generation) this.lapse(connection, peer);
      });
    }
  }

  /** A process died. `reset`: its kernel resets its connections; else the peers time out. */
  died(node: string, life: Life, reset: boolean): void {
    if (!reset) this.silent.add(node);
    for (const connection of [...this.connections]) {
      const mine = connection.endAt(node);
      if (!mine || mine.life !== life) continue;
      mine.open = false;
      const peer = connection.peerOf(mine);
      if (!peer || !peer.open) {
        this.forget(connection);
        continue;
      }
      if (reset) {
        const direction = mine === connection.initiator ? 0 : 1;
        this.transmit(connection, direction, peer.life, () => this.lost(peer, 'connection reset by peer'));
      } else {
        this.world.schedule(2 * connection.heartbeatMs, peer.life, () => this.lapse(connection, peer));
      }
    }
  }

  /** Connections between two nodes (for reset faults). */
  between(a: string, b: string): SimConnection[] {
    return [...this.connections].filter((c) => (c.from === a && c.to === b) || (c.from === b && c.to === a));
  }

  // ------------------------------------------------------------------ requests

  /** A request whose caller learns why it got no answer, as a management client does: the
   * handler's answer or its error, `refused` (nothing runs on that host: the kernel refuses the
   * connect), or `timeout` (a dead machine, a partition, a stopped process). Unlike request(),
   * the destination need not accept connections (etcd, a manager). */
  call<T>(from: string, to: string, handler: () => T | Promise<T>, timeoutMs: number): Promise<CallOutcome<T>> {
    const fromLife = this.lives.get(from);
    if (!fromLife) throw new Error(`sim: ${from} is not attached to the network`);
    return new Promise<CallOutcome<T>>((resolve) => {
      let done = false;
      const finish = (value: CallOutcome<T>): void => {
        if (done) return;
        done = true;
        resolve(value);
      };
      this.world.schedule(timeoutMs, fromLife, () => finish({ kind: 'timeout' }));
      const reply = (value: CallOutcome<T>): void => {
        if (this.isBlocked(to, from)) return;
        this.world.schedule(this.latency(to, from), fromLife, () => finish(value));
      };
      if (this.isBlocked(from, to)) return;
      const arrive = (): void => {
        const life = this.lives.get(to);
        if (!life || !life.alive) {
          if (!this.silent.has(to)) reply({ kind: 'refused' });
          return;
        }
        if (life.paused) {
          this.world.schedule(0, life, arrive);
          return;
        }
        Promise.resolve()
          .then(handler)
          .then(
            (value) => {
              if (life.alive) reply({ kind: 'answer', value });
            },
            (error: unknown) => {
              if (life.alive) reply({ kind: 'error', error });
            },
          );
      };
      this.world.schedule(this.latency(from, to), null, arrive);
    });
  }

  /** One request and its response over the network; null when it times out or nobody answers. */
  request<T>(from: string, to: string, handler: () => T | Promise<T>, timeoutMs: number): Promise<T | null> {
    const fromLife = this.lives.get(from);
    if (!fromLife) throw new Error(`sim: ${from} is not attached to the network`);
    return new Promise<T | null>((resolve) => {
      let done = false;
      const finish = (value: T | null): void => {
        if (done) return;
        done = true;
        resolve(value);
      };
      this.world.schedule(timeoutMs, fromLife, () => finish(null));
      const reply = (value: T | null): void => {
        if (this.isBlocked(to, from)) return;
        this.world.schedule(this.latency(to, from), fromLife, () => finish(value));
      };
      if (this.isBlocked(from, to)) return;
      const arrive = (): void => {
        const life = this.lives.get(to);
        if (!life || !life.alive || !this.acceptors.has(to)) {
          // A dead machine does not answer; a dead process's kernel refuses at once.
          if (!this.silent.has(to)) reply(null);
          return;
        }
        if (life.paused) {
          this.world.schedule(0, life, arrive);
          return;
        }
        Promise.resolve()
          .then(handler)
          .then(
            (value) => {
              if (life.alive) reply(value);
            },
            () => {
              if (life.alive) reply(null);
            },
          );
      };
      this.world.schedule(this.latency(from, to), null, arrive);
    });
  }
}
