// Simulated clients with the failover client's semantics (DESIGN.md §6, src/client): try the
// brokers' addresses in turn, follow redirects, and on a broken connection resend every message
// not yet settled, in order (at-least-once: duplicates are expected, loss is not). Producers
// record when each message was first sent and who settled it; consumers accept (or now and then
// release) what they are given after a processing delay.

import type { Random } from '../../src/core/random.js';
import type { CloseReason, SimConnection, SimNetwork } from './network.js';
import { messageBody, parseBody, type AdminOp, type ClientFrame, type ServerFrame, type SettleInfo } from './protocol.js';
import type { Trace } from './trace.js';
import { Life, uniform, type World } from './world.js';

export interface ClientEnv {
  readonly world: World;
  readonly net: SimNetwork;
  readonly trace: Trace;
  readonly brokers: readonly string[];
  readonly heartbeatMs: number;
  readonly reconnectMs: number;
}

abstract class SimClient {
  protected connection: SimConnection | null = null;
  protected attached = false;
  readonly life: Life;
  private nextAddress = 0;
  private preferred: string | null = null;
  private reconnectScheduled = false;
  connects = 0;

  constructor(
    readonly name: string,
    protected readonly env: ClientEnv,
    protected readonly rng: Random,
  ) {
    this.life = new Life(name, 1);
    env.net.attach(name, this.life, null);
    this.nextAddress = rng.int(0, env.brokers.length - 1);
  }

  start(delayMs: number): void {
    this.scheduleConnect(delayMs);
  }

  protected abstract onAttached(): void;
  protected abstract onServerFrame(frame: ServerFrame): void;
  protected abstract onDisconnected(): void;
  protected abstract attachFrame(): ClientFrame | null;

  private scheduleConnect(delayMs: number): void {
    if (this.reconnectScheduled) return;
    this.reconnectScheduled = true;
    this.env.world.schedule(delayMs, this.life, () => {
      this.reconnectScheduled = false;
      this.connect();
    });
  }

  private connect(): void {
    if (this.connection) return;
    const host = this.preferred ?? (this.env.brokers[this.nextAddress++ % this.env.brokers.length] as string);
    this.preferred = null;
    this.connects++;
    this.env.trace.debug(this.name, 'connecting', { broker: host });
    const connection = this.env.net.connect(this.name, host, { 'container-id': this.name }, this.env.heartbeatMs, {
      opened: () => {
        if (this.connection !== connection) return;
        const attach = this.attachFrame();
        if (attach) this.send(attach);
        else this.ready();
      },
      frame: (payload) => {
        if (this.connection !== connection) return;
        const frame = payload as ServerFrame;
        if (frame.t === 'attached') return this.ready();
        if (frame.t === 'detach') {
          this.env.trace.note(this.name, 'link refused', { broker: host, condition: frame.error.condition });
          return this.drop(this.env.reconnectMs);
        }
        this.onServerFrame(frame);
      },
      closed: (reason) => {
        if (this.connection !== connection) return;
        this.closed(host, reason);
      },
    });
    this.connection = connection;
  }

  private ready(): void {
    this.attached = true;
    this.env.trace.note(this.name, 'attached', { broker: this.connection?.to });
    this.onAttached();
  }

  private closed(host: string, reason: CloseReason): void {
    this.connection = null;
    this.attached = false;
    this.onDisconnected();
    const error = reason.kind === 'closed' ? reason.error : null;
    this.env.trace.debug(this.name, 'connection closed', { broker: host, reason: reason.kind === 'lost' ? reason.description : (error?.condition ?? 'closed') });
    if (error?.condition === 'amqp:connection:redirect') {
      const info = error.info ?? {};
      this.preferred = String(info['network-host'] ?? info['hostname'] ?? host);
      this.scheduleConnect(0);
      return;
    }
    if (this.attached || reason.kind === 'lost') this.env.trace.note(this.name, 'connection lost', { broker: host, reason: reason.kind === 'lost' ? reason.description : (error?.condition ?? 'closed') });
    this.scheduleConnect(this.env.reconnectMs * uniform(this.rng, 0.5, 1.5));
  }

  /** Gives up on this connection (a refused link) and tries again later. */
  protected drop(delayMs: number): void {
    const connection = this.connection;
    if (!connection) return;
    this.connection = null;
    this.attached = false;
    this.env.net.close(connection, connection.initiator, null);
    this.onDisconnected();
    this.scheduleConnect(delayMs);
  }

  protected send(frame: ClientFrame): void {
    const connection = this.connection;
    if (connection) this.env.net.send(connection, connection.initiator, frame);
  }
}

export interface ProducerRecord {
  readonly firstSentMs: Map<number, number>;
  /** The first settlement each message got, as the producer heard it. */
  readonly settled: Map<number, SettleInfo & { readonly heardMs: number }>;
}

export class SimProducer extends SimClient implements ProducerRecord {
  readonly firstSentMs = new Map<number, number>();
  readonly settled = new Map<number, SettleInfo & { readonly heardMs: number }>();
  private nextSeq = 1;
  /** Messages to send or resend, in order. */
  private readonly waiting: number[] = [];
  private readonly inFlight = new Map<number, number>();
  private nextDelivery = 1;
  private pumping = false;
  sends = 0;

  constructor(
    name: string,
    env: ClientEnv,
    rng: Random,
    readonly queue: string,
    readonly total: number,
    private readonly window: number,
    private readonly intervalMs: number,
    private readonly onSettled: (producer: SimProducer, seq: number, info: SettleInfo) => void,
  ) {
    super(name, env, rng);
  }

  get done(): boolean {
    return this.settled.size === this.total;
  }

  protected attachFrame(): ClientFrame {
    return { t: 'attach', link: 1, role: 'sender', queue: this.queue, credit: 0 };
  }

  protected onAttached(): void {
    this.pump();
  }

  protected onDisconnected(): void {
    // Everything unsettled is resent on the next connection, in order.
    const unsettled = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const seq of unsettled) this.requeue(seq);
  }

  private requeue(seq: number): void {
    if (this.settled.has(seq) || this.waiting.includes(seq)) return;
    this.waiting.push(seq);
    this.waiting.sort((a, b) => a - b);
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    this.env.world.schedule(this.intervalMs * uniform(this.rng, 0.5, 1.5), this.life, () => {
      this.pumping = false;
      if (!this.attached || this.inFlight.size >= this.window) return;
      let seq = this.waiting.shift();
      if (seq === undefined && this.nextSeq <= this.total) seq = this.nextSeq++;
      if (seq === undefined) return;
      const delivery = this.nextDelivery++;
      this.inFlight.set(delivery, seq);
      if (!this.firstSentMs.has(seq)) this.firstSentMs.set(seq, this.env.world.nowMs);
      this.sends++;
      this.send({ t: 'transfer', link: 1, delivery, body: messageBody(this.name, seq) });
      this.pump();
    });
  }

  protected onServerFrame(frame: ServerFrame): void {
    if (frame.t !== 'settled') return;
    const seq = this.inFlight.get(frame.delivery);
    if (seq === undefined) return;
    this.inFlight.delete(frame.delivery);
    if (frame.outcome === 'accepted' && frame.info) {
      if (!this.settled.has(seq)) {
        this.settled.set(seq, { ...frame.info, heardMs: this.env.world.nowMs });
        this.onSettled(this, seq, frame.info);
      }
    } else {
      this.env.trace.note(this.name, `message ${seq} ${frame.outcome}`, { error: frame.error });
      this.requeue(seq);
    }
    this.pump();
  }
}

export class SimConsumer extends SimClient {
  received = 0;
  redelivered = 0;

  constructor(
    name: string,
    env: ClientEnv,
    rng: Random,
    readonly queue: string,
    private readonly credit: number,
    private readonly processMs: number,
    private readonly releaseRate: number,
  ) {
    super(name, env, rng);
  }

  protected attachFrame(): ClientFrame {
    return { t: 'attach', link: 1, role: 'receiver', queue: this.queue, credit: this.credit };
  }

  protected onAttached(): void {}

  protected onDisconnected(): void {}

  protected onServerFrame(frame: ServerFrame): void {
    if (frame.t !== 'deliver') return;
    this.received++;
    if (frame.deliveryCount > 0) this.redelivered++;
    const connection = this.connection;
    const id = parseBody(frame.body);
    this.env.world.schedule(this.processMs * uniform(this.rng, 0.2, 2), this.life, () => {
      if (this.connection !== connection) return;
      const outcome = this.rng.bool(this.releaseRate) ? 'released' : 'accepted';
      if (outcome === 'released') this.env.trace.note(this.name, 'release', { message: id ? `${id.producer}:${id.seq}` : '?' });
      this.send({ t: 'disposition', link: 1, delivery: frame.delivery, outcome });
    });
  }
}

const ADMIN_RETRIES_MAX = 20;

/** The operator: configuration changes at planned times, each retried until the primary
 * confirms it (a delete of something already gone counts as done). */
export class SimAdmin extends SimClient {
  private index = 0;
  private waitingReply = false;
  private nextRequest = 1;
  private readonly ops: { readonly atMs: number; readonly op: AdminOp }[];
  readonly completed: AdminOp[] = [];
  readonly skipped: AdminOp[] = [];
  private retries = 0;
  private pendingRequest = 0;

  constructor(
    name: string,
    env: ClientEnv,
    rng: Random,
    ops: readonly { readonly atMs: number; readonly op: AdminOp }[],
    /** info null: the change is being tried, or was found already made (an earlier attempt
     * whose answer was lost): what it touches is not known until it is confirmed. */
    private readonly onConfirmed: (op: AdminOp, info: SettleInfo | null) => void,
  ) {
    super(name, env, rng);
    this.ops = [...ops];
    for (const planned of ops) env.world.schedule(planned.atMs, this.life, () => this.next());
  }

  /** After a split brain the operator declares again what should exist: a change confirmed by
   * a primary that the manager had already abandoned is gone with it. */
  private reassert(): void {
    const queues = new Map<string, AdminOp>();
    const exchanges = new Map<string, AdminOp>();
    const bindings = new Map<string, AdminOp>();
    for (const { op } of this.ops) {
      if (op.kind === 'declare-queue') queues.set(op.name, op);
      if (op.kind === 'delete-queue') queues.delete(op.name);
      if (op.kind === 'declare-exchange') exchanges.set(op.name, op);
      if (op.kind === 'delete-exchange') exchanges.delete(op.name);
      const key = 'exchange' in op ? `${op.exchange}|${op.queue}|${op.key}` : '';
      if (op.kind === 'bind') bindings.set(key, op);
      if (op.kind === 'unbind') bindings.delete(key);
    }
    const live = [...bindings.values()].filter((op) => op.kind === 'bind' && queues.has(op.queue) && exchanges.has(op.exchange));
    // Before the change now pending: it may be waiting for something that was lost.
    const again = [...queues.values(), ...exchanges.values(), ...live].map((op) => ({ atMs: this.env.world.nowMs, op }));
    this.ops.splice(this.index + (this.waitingReply ? 1 : 0), 0, ...again);
    this.env.trace.note(this.name, 'declaring the configuration again', { changes: again.length });
  }

  get done(): boolean {
    return this.index >= this.ops.length;
  }

  protected attachFrame(): null {
    return null;
  }

  protected onAttached(): void {
    if (this.reassertOnAttach) this.reassert();
    this.next();
  }

  protected onDisconnected(): void {
    this.waitingReply = false;
  }

  /** From now on, every new connection starts by declaring the configuration again. */
  reassertFromNowOn(): void {
    this.reassertOnAttach = true;
    if (this.attached) {
      this.reassert();
      this.next();
    }
  }

  private reassertOnAttach = false;

  private next(): void {
    const planned = this.ops[this.index];
    if (!planned || this.waitingReply || !this.attached || planned.atMs > this.env.world.nowMs) return;
    this.waitingReply = true;
    this.onConfirmed(planned.op, null);
    this.pendingRequest = this.nextRequest++;
    this.send({ t: 'admin', request: this.pendingRequest, op: planned.op });
  }

  protected onServerFrame(frame: ServerFrame): void {
    if (frame.t !== 'admin-reply' || !this.waitingReply || frame.request !== this.pendingRequest) return;
    this.waitingReply = false;
    const op = this.ops[this.index]?.op;
    if (!op) return;
    const gone = frame.code === 'NOT_FOUND' && (op.kind === 'delete-queue' || op.kind === 'delete-exchange' || op.kind === 'unbind');
    if (frame.ok || gone || frame.code === 'PRECONDITION_FAILED') {
      this.env.trace.note(this.name, `config ${op.kind} ${'name' in op ? op.name : `${op.exchange}->${op.queue}`} done`, { ok: frame.ok, code: frame.code });
      this.completed.push(op);
      this.onConfirmed(op, frame.ok ? frame.info : null);
      this.retries = 0;
      this.index++;
      this.next();
      return;
    }
    if (frame.code === 'NOT_ALLOWED') {
      this.drop(this.env.reconnectMs);
      return;
    }
    // NOT_FOUND for a declare or bind: what it needs is not there (yet). Retry a while, then
    // give up on it (what it needed was lost: the checkers say whether that was allowed).
    if (++this.retries >= ADMIN_RETRIES_MAX) {
      this.env.trace.note(this.name, `gave up on config ${op.kind}`, { code: frame.code });
      this.skipped.push(op);
      this.retries = 0;
      this.index++;
    }
    this.env.world.schedule(this.env.reconnectMs, this.life, () => this.next());
  }
}
