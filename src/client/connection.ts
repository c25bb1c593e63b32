// A failover-capable connection on rhea. rhea's own reconnect is off: this class runs the loop so
// that it controls address rotation, redirects and resending (failover-policy.ts decides, this
// only carries out). One rhea connection per attempt. An HA backup refuses a client by sending
// open then close(amqp:connection:redirect | amqp:connection:forced) (AMQP 1.0 §2.4.1, §2.8.16),
// and the close may arrive in a later read than the open; so an attempt counts as admitted only
// when the broker answers our begin: TCP keeps frames in order, so a broker that refused at open
// has sent its close before any reply to frames we sent after its open.
import { saslConnectionOptions } from '../security/rhea-sasl-client.js';
import { clientTlsOptions } from '../security/tls-context.js';
import rhea, { type Connection as RheaConnection, type ConnectionOptions, type Container, type Session as RheaSession } from 'rhea';
import type { Socket } from 'node:net';
import { closeFailure, discard, parseUrls } from './rhea-attempt.js';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { formatAddress, type QpidAddress } from '../core/qpid-url.js';
import { parseAddress, terminusFor, type NodeOptions } from './address.js';
import { ClientError } from './errors.js';
import {
  attemptFailed,
  connected,
  connectionLost,
  describeFailure,
  initialFailoverState,
  nextAction,
  type AttemptFailure,
  type FailoverState,
} from './failover-policy.js';
import type { LinkHost } from './link-host.js';
import { connectTimeoutMs, failoverPolicy, type ClientEvent, type ConnectOptions, type FailoverPolicy } from './options.js';
import { Receiver } from './receiver.js';
import { Sender } from './sender.js';
import { SettlementSequencer } from './settlement-sequencer.js';

export interface ConnectionStats {
  /** Connections accepted after the first. */
  readonly reconnects: number;
  /** Messages transmitted again after a reconnect because the broker had not settled them. */
  readonly resent: number;
  /** Time spent without an accepted connection after the first one, ongoing outage included. */
  readonly disconnectedMs: number;
  /** The address currently connected, if any. */
  readonly address: string | undefined;
}

export interface SenderOptions {
  /** Create the node if missing (overrides the address string's own create option). */
  readonly createOnDemand?: NodeOptions;
  /** Most messages in flight at once (default 1000). */
  readonly capacity?: number;
  readonly name?: string;
}

export interface ReceiverOptions {
  /** Most deliveries outstanding at once (default 100). */
  readonly credit?: number;
  readonly createOnDemand?: NodeOptions;
  readonly name?: string;
}

interface Attempt {
  readonly rhea: RheaConnection;
  readonly address: QpidAddress;
  /** 'admitting': the peer's open arrived, our begin is on its way; 'open': the peer answered it. */
  phase: 'opening' | 'admitting' | 'open' | 'ended';
  session: RheaSession | undefined;
  timer: TimerHandle | undefined;
  lastInputMs: number;
}

const SENDER_CAPACITY_DEFAULT = 1000;
const RECEIVER_CREDIT_DEFAULT = 100;
const REATTACH_DELAY_MS = 100;
const CLOSE_WAIT_MS = 1000;
const SESSION_BUFFER_DEFAULT = 4096;
const HEARTBEAT_MARGIN_MS = 100;
let connectionCounter = 0;

export async function connect(url: string, options: ConnectOptions = {}): Promise<Connection> {
  const connection = new Connection(url, options);
  await connection.opened;
  return connection;
}

export class Connection implements LinkHost {
  readonly opened: Promise<Connection>;
  private readonly clock: Clock;
  private readonly policy: FailoverPolicy;
  private readonly container: Container;
  private readonly user: string | undefined;
  private readonly password: string | undefined;
  private failover: FailoverState;
  private attempt: Attempt | undefined;
  private state: 'connecting' | 'open' | 'reconnecting' | 'closed' | 'failed' = 'connecting';
  private readonly links = new Set<Sender | Receiver>();
  private counts = { reconnects: 0, resent: 0, disconnectedMs: 0 };
  private outageStartMs: number | undefined;
  private everConnected = false;
  private wakeTimer: TimerHandle | undefined;
  private linkCounter = 0;
  private openWaiter: { resolve: (connection: Connection) => void; reject: (error: Error) => void } | undefined;
  private closeWaiter: (() => void) | undefined;
  private failure: ClientError | undefined;
  private readonly sequencer = new SettlementSequencer();
  /**
   * The injected clock's timers may not hold the process open (systemClock unrefs them), and
   * between reconnect attempts there is no socket either: without this a tool would simply exit
   * in the middle of a back-off. Held from the first attempt until open, and again while
   * reconnecting; released on open, give-up and close.
   */
  private keepAlive: NodeJS.Timeout | undefined;

  constructor(
    readonly url: string,
    private readonly options: ConnectOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.policy = failoverPolicy(options);
    const parsed = parseUrls(url, options.reconnectUrls ?? []);
    this.user = options.username ?? parsed.user;
    this.password = options.password ?? parsed.password;
    this.failover = initialFailoverState(parsed.addresses, this.policy);
    const id = options.containerId ?? `qpid-client-${process.pid}-${++connectionCounter}`;
    this.container = rhea.create_container({ id });
    // Anything rhea cannot route to a handler lands here instead of throwing from an emitter.
    this.container.on('error', () => undefined);
    this.opened = new Promise((resolve, reject) => (this.openWaiter = { resolve, reject }));
    this.opened.catch(() => undefined);
    this.step();
  }

  get stats(): ConnectionStats {
    const ongoing = this.outageStartMs !== undefined ? this.clock.monotonicMs() - this.outageStartMs : 0;
    return {
      reconnects: this.counts.reconnects,
      resent: this.counts.resent,
      disconnectedMs: Math.round(this.counts.disconnectedMs + ongoing),
      address: this.attempt?.phase === 'open' ? formatAddress(this.attempt.address) : undefined,
    };
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  async sender(address: string, options: SenderOptions = {}): Promise<Sender> {
    const parsed = parseAddress(address);
    const capacity = options.capacity ?? SENDER_CAPACITY_DEFAULT;
    if (!Number.isInteger(capacity) || capacity < 1) throw new ClientError('BAD_OPTION', `sender capacity must be an integer >= 1, not ${capacity}`);
    const name = options.name ?? `${this.container.id}-sender-${++this.linkCounter}`;
    const sender = new Sender(this, parsed.address, terminusFor(parsed, 'sender', options.createOnDemand), name, capacity);
    return this.addLink(sender, sender.opened);
  }

  async receiver(address: string, options: ReceiverOptions = {}): Promise<Receiver> {
    const parsed = parseAddress(address);
    const credit = options.credit ?? RECEIVER_CREDIT_DEFAULT;
    if (!Number.isInteger(credit) || credit < 1) throw new ClientError('BAD_OPTION', `receiver credit must be an integer >= 1, not ${credit}`);
    const name = options.name ?? `${this.container.id}-receiver-${++this.linkCounter}`;
    const receiver = new Receiver(this, parsed.address, terminusFor(parsed, 'receiver', options.createOnDemand), name, credit);
    return this.addLink(receiver, receiver.opened);
  }

  /** Closes every link and the connection; pending sends are rejected with CLOSED. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.wakeTimer?.cancel();
    this.holdProcess(false);
    const closing = new ClientError('CLOSED', 'the connection was closed');
    this.openWaiter?.reject(closing);
    this.openWaiter = undefined;
    for (const link of [...this.links]) link.fail(closing);
    const attempt = this.attempt;
    if (!attempt) return;
    if (attempt.phase !== 'open') {
      this.endAttempt(attempt, { kind: 'closed' });
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimer(CLOSE_WAIT_MS, () => this.endAttempt(attempt, { kind: 'closed' }));
      this.closeWaiter = () => {
        timer.cancel();
        resolve();
      };
      attempt.rhea.close();
    });
  }

  // LinkHost: called by senders and receivers.
  remove(link: object): void {
    this.links.delete(link as Sender | Receiver);
  }

  reattachLater(link: Sender | Receiver): void {
    this.clock.setTimer(REATTACH_DELAY_MS, () => {
      if (this.links.has(link) && this.attempt?.phase === 'open' && this.attempt.session) link.attach(this.attempt.session);
    });
  }

  countResent(): void {
    this.counts.resent++;
  }

  settle(kind: string, apply: () => void): void {
    this.sequencer.settle(kind, apply);
  }

  private async addLink<T extends Sender | Receiver>(link: T, opened: Promise<T>): Promise<T> {
    if (this.failure) throw this.failure;
    if (this.state === 'closed') throw new ClientError('CLOSED', 'the connection is closed');
    this.links.add(link);
    if (this.attempt?.phase === 'open' && this.attempt.session) link.attach(this.attempt.session);
    return opened;
  }

  private emit(event: ClientEvent): void {
    this.options.onEvent?.(event);
  }

  private holdProcess(hold: boolean): void {
    if (hold && !this.keepAlive) this.keepAlive = setInterval(() => undefined, 1 << 30);
    if (!hold && this.keepAlive) {
      clearInterval(this.keepAlive);
      this.keepAlive = undefined;
    }
  }

  /** Asks the failover policy what to do next, and does it. */
  private step(): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    this.holdProcess(true);
    const { state, action } = nextAction(this.failover, this.policy, this.clock.monotonicMs());
    this.failover = state;
    switch (action.kind) {
      case 'give-up':
        this.giveUp(new ClientError(this.everConnected ? 'DISCONNECTED' : 'CONNECT_FAILED', action.reason));
        return;
      case 'wait':
        this.wakeTimer = this.clock.setTimer(action.delayMs, () => {
          this.wakeTimer = undefined;
          this.step();
        });
        return;
      case 'connect':
        this.tryAddress(action.address);
        return;
    }
  }

  private connectionOptions(address: QpidAddress): ConnectionOptions {
    const heartbeatMs = (this.options.heartbeatS ?? 0) * 1000;
    return {
      host: address.host,
      port: address.port,
      ...clientTlsOptions(address),
      reconnect: false,
      // rhea leaves Nagle on for a sender-only connection: a small transfer after another then
      // waits for the broker's delayed ACK (40 ms).
      tcp_no_delay: true,
      container_id: this.container.id,
      session_buffer_size: this.options.sessionBufferSize ?? SESSION_BUFFER_DEFAULT,
      ...(heartbeatMs > 0 ? { idle_time_out: heartbeatMs } : {}),
      ...(this.options.admin ? { properties: { 'qpid.ha-admin': true } } : {}),
      // A user with a password logs in with SCRAM (or PLAIN where the broker offers only that);
      // a user alone is rhea's ANONYMOUS with that name.
      ...(this.user !== undefined && this.password === undefined ? { username: this.user } : saslConnectionOptions(this.user, this.password)),
    } as ConnectionOptions;
  }

  private tryAddress(address: QpidAddress): void {
    const connection = this.container.connect(this.connectionOptions(address));
    const attempt: Attempt = { rhea: connection, address, phase: 'opening', session: undefined, timer: undefined, lastInputMs: this.clock.monotonicMs() };
    this.attempt = attempt;
    attempt.timer = this.clock.setTimer(connectTimeoutMs(this.options), () => this.endAttempt(attempt, { kind: 'timeout' }));
    const socket = (connection as unknown as { socket?: Socket }).socket;
    socket?.on('data', () => (attempt.lastInputMs = this.clock.monotonicMs()));
    connection.on('connection_open', () => {
      if (attempt.phase !== 'opening') return;
      attempt.phase = 'admitting';
      const session = connection.create_session(this.options.sessionBufferSize ?? SESSION_BUFFER_DEFAULT);
      attempt.session = session;
      session.on('session_open', () => attempt.phase === 'admitting' && this.accepted(attempt));
      session.on('session_error', () => undefined);
      // The broker ended our session: treat it as losing the connection, and start again.
      session.on('session_close', () => this.endAttempt(attempt, { kind: 'closed' }));
      session.begin();
    });
    connection.on('connection_error', () => this.endAttempt(attempt, closeFailure(connection, address)));
    connection.on('connection_close', () => this.endAttempt(attempt, closeFailure(connection, address)));
    connection.on('disconnected', (context) => {
      const detail = (context.error as Error | undefined)?.message ?? 'connection lost';
      this.endAttempt(attempt, { kind: 'unreachable', detail });
    });
    connection.on('protocol_error', (error: Error) => this.endAttempt(attempt, { kind: 'unreachable', detail: `protocol error: ${error.message}` }));
    connection.on('error', (error: Error) => this.endAttempt(attempt, { kind: 'unreachable', detail: error.message }));
    for (const event of ['session_error', 'session_close', 'session_open']) connection.on(event, () => undefined);
  }

  private accepted(attempt: Attempt): void {
    this.holdProcess(false);
    attempt.phase = 'open';
    attempt.timer?.cancel();
    attempt.timer = undefined;
    this.watchHeartbeat(attempt);
    const now = this.clock.monotonicMs();
    if (this.outageStartMs !== undefined) this.counts.disconnectedMs += now - this.outageStartMs;
    this.outageStartMs = undefined;
    const reconnect = this.everConnected;
    if (reconnect) this.counts.reconnects++;
    this.everConnected = true;
    this.state = 'open';
    this.failover = connected(this.failover, attempt.address, this.policy);
    this.emit({ kind: 'connected', address: formatAddress(attempt.address), reconnect });
    for (const link of this.links) link.attach(attempt.session as RheaSession);
    this.openWaiter?.resolve(this);
    this.openWaiter = undefined;
  }

  /**
   * Silence for twice the heartbeat means the peer or the path is gone (reference §1.12.8). The
   * check runs a little before rhea's own idle timer (also at twice the heartbeat, which only
   * half-closes the socket), so the failure is reported as a heartbeat timeout, at once.
   */
  private watchHeartbeat(attempt: Attempt): void {
    const heartbeatMs = (this.options.heartbeatS ?? 0) * 1000;
    if (heartbeatMs <= 0) return;
    const limitMs = heartbeatMs * 2 - Math.min(HEARTBEAT_MARGIN_MS, heartbeatMs / 10);
    const check = (): void => {
      if (attempt.phase !== 'open') return;
      const silentMs = this.clock.monotonicMs() - attempt.lastInputMs;
      if (silentMs >= limitMs) {
        this.endAttempt(attempt, { kind: 'unreachable', detail: `no frame from the peer for ${Math.round(silentMs)} ms (heartbeat ${heartbeatMs} ms)` });
      } else attempt.timer = this.clock.setTimer(limitMs - silentMs, check);
    };
    attempt.timer = this.clock.setTimer(limitMs, check);
  }

  private endAttempt(attempt: Attempt, failure: AttemptFailure): void {
    if (attempt.phase === 'ended') return;
    const wasOpen = attempt.phase === 'open';
    attempt.phase = 'ended';
    attempt.timer?.cancel();
    discard(attempt.rhea);
    if (attempt !== this.attempt) return;
    this.attempt = undefined;
    const address = formatAddress(attempt.address);
    if (this.state === 'closed' || this.state === 'failed') {
      this.closeWaiter?.();
      this.closeWaiter = undefined;
      return;
    }
    if (!wasOpen) {
      this.failover = attemptFailed(this.failover, failure);
      this.emit({
        kind: 'attempt-failed',
        address,
        reason: describeFailure(failure),
        ...(failure.kind === 'redirect' ? { redirectTo: formatAddress(failure.target) } : {}),
      });
      this.step();
      return;
    }
    for (const link of this.links) link.detached();
    const now = this.clock.monotonicMs();
    this.outageStartMs = now;
    this.emit({ kind: 'disconnected', address, reason: describeFailure(failure) });
    if (!this.policy.reconnect) {
      this.giveUp(new ClientError('DISCONNECTED', `connection to ${address} lost (${describeFailure(failure)}) and reconnect is off`));
      return;
    }
    this.state = 'reconnecting';
    this.failover = connectionLost(this.failover, attempt.address, failure, now);
    this.step();
  }

  private giveUp(error: ClientError): void {
    this.holdProcess(false);
    this.state = 'failed';
    this.failure = error;
    this.emit({ kind: 'gave-up', reason: error.message });
    this.openWaiter?.reject(error);
    this.openWaiter = undefined;
    for (const link of [...this.links]) link.fail(error);
    if (this.attempt) this.endAttempt(this.attempt, { kind: 'closed' });
  }
}
