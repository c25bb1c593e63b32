// A load that survives failover, on the project's failover client (src/client): producers and
// consumers each on their own connection over the whole cluster URL, with reconnect and
// heartbeats, so that a killed primary is followed to the promoted one and unsettled messages are
// resent (duplicates expected, loss not). The harness steers it through stdin (measure-start,
// measure-stop, stop) and reads its stdout lines: `attached` once every link is up, `resumed` at a
// producer's first accepted settlement after each reconnect (times on the machine-wide clock, so
// the harness can subtract the moment it killed the primary), and the result when it ends.
import rhea from 'rhea';
import { connect } from '../../src/client/index.js';
import type { ClientEvent, ConnectOptions, Connection, Receiver, Sender, SendOutcome } from '../../src/client/index.js';
import { DeliveryLedger } from './delivery-ledger.js';
import { LatencyRecorder } from './latency.js';
import type { LatencySummaryMs } from './latency.js';
import { Pacer } from './pacer.js';
import { Timeline, epochNowMs } from './timeline.js';
import type { TimelineData } from './timeline.js';

export interface FailoverLoadOptions {
  readonly url: string;
  readonly producers: number;
  readonly consumers: number;
  readonly sizeBytes: number;
  readonly durable: boolean;
  /** Total over all producers; 0: as fast as capacity allows. */
  readonly rateMsgsPerS: number;
  /** Unsettled messages per producer. */
  readonly capacity: number;
  /** Credit of each consumer. */
  readonly credit: number;
  readonly queue: string;
  readonly heartbeatS: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** Longest wait after stop for every accepted message to be received. */
  readonly drainS: number;
  /** qpid.dedup_window of the queue (0: none). With it, each message carries a message-id
   * (producer:seq), so that the broker recognises the client's resends after a failover. */
  readonly dedupWindow: number;
  /** Consumers attach only once the producers have stopped and every send is settled: the run
   * then counts only what the queue holds (a consumer that takes a message before the kill
   * cannot get it again from the promoted backup, which is consumer-side at-least-once). */
  readonly deferConsumers: boolean;
}

/** A producer's first accepted settlement after a reconnect. */
export interface ResumeEvent {
  readonly msg: 'resumed';
  readonly producer: number;
  /** Epoch ms: the client saw the connection drop. */
  readonly disconnectedAtMs: number | null;
  /** Epoch ms: a broker admitted the new connection. */
  readonly connectedAtMs: number;
  /** Epoch ms: the first accepted settlement on it. */
  readonly acceptedAtMs: number;
  readonly address: string;
}

export interface FailoverLoadResult {
  readonly msg: 'failover-load result';
  readonly params: FailoverLoadOptions;
  /** Nothing lost, everything drained, messages moved. */
  readonly ok: boolean;
  readonly counts: {
    readonly sent: number;
    readonly accepted: number;
    readonly rejected: number;
    readonly released: number;
    readonly received: number;
    readonly lost: number;
    readonly duplicates: number;
    /** Duplicates received marked redelivered (delivery-ledger.ts): consumer-side, not resends. */
    readonly redelivered: number;
    readonly foreign: number;
    readonly resent: number;
    readonly producerReconnects: number;
    readonly consumerReconnects: number;
  };
  readonly drained: boolean;
  readonly drainMs: number;
  /** Between measure-start and measure-stop (the steady window the harness chose). */
  readonly window: { readonly seconds: number; readonly acceptedMsgsPerS: number; readonly settleMs: LatencySummaryMs; readonly endToEndMs: LatencySummaryMs };
  readonly resumes: readonly ResumeEvent[];
  readonly timeline: TimelineData;
  readonly errors: number;
  readonly errorSamples: readonly string[];
}

interface Producer {
  readonly index: number;
  readonly connection: Connection;
  readonly sender: Sender;
  readonly pacer: Pacer;
  seq: number;
  disconnectedAtMs: number | null;
  /** Set by a reconnect, cleared by the first accepted settlement after it. */
  awaitingResume: { connectedAtMs: number; address: string } | null;
}

const TIMELINE_BUCKET_MS = 100;
const ERROR_SAMPLES_MAX = 5;

export class FailoverLoad {
  private readonly ledger: DeliveryLedger;
  private readonly producers: Producer[] = [];
  private readonly consumerConnections: Connection[] = [];
  private readonly receivers: Receiver[] = [];
  private readonly body: Buffer;
  private readonly timeline = new Timeline(epochNowMs(), TIMELINE_BUCKET_MS, ['accepted', 'received']);
  private readonly settle = new LatencyRecorder();
  private readonly endToEnd = new LatencyRecorder();
  private readonly resumes: ResumeEvent[] = [];
  private readonly count = { sent: 0, accepted: 0, rejected: 0, released: 0, received: 0 };
  private readonly errorSamples: string[] = [];
  private errors = 0;
  private sending = false;
  private measuring = false;
  private windowStartMs = 0;
  private windowS = 0;
  private windowAccepted = 0;
  private producerLoops: Promise<void>[] = [];
  private consumerLoops: Promise<void>[] = [];

  constructor(
    private readonly options: FailoverLoadOptions,
    private readonly emit: (line: object) => void,
  ) {
    this.ledger = new DeliveryLedger(options.producers);
    this.body = Buffer.alloc(options.sizeBytes, 0x78);
  }

  private connectOptions(onEvent: (event: ClientEvent) => void): ConnectOptions {
    return {
      reconnect: { limit: -1, initialDelayMs: this.options.reconnectMinMs, maxDelayMs: this.options.reconnectMaxMs },
      heartbeatS: this.options.heartbeatS,
      onEvent,
    };
  }

  private address(): string {
    const declare = this.options.dedupWindow > 0 ? `, x-declare: {arguments: {'qpid.dedup_window': ${this.options.dedupWindow}}}` : '';
    return `${this.options.queue}; {create: always, node: {durable: ${this.options.durable ? 'true' : 'false'}${declare}}}`;
  }

  private async attachConsumers(): Promise<void> {
    const o = this.options;
    for (let i = 0; i < o.consumers; i++) {
      const connection = await connect(o.url, this.connectOptions(() => undefined));
      this.consumerConnections.push(connection);
      this.receivers.push(await connection.receiver(this.address(), { credit: o.credit }));
    }
  }

  async attach(): Promise<void> {
    const o = this.options;
    if (!o.deferConsumers) await this.attachConsumers();
    for (let index = 0; index < o.producers; index++) {
      // The producer object exists before its connection so that the event handler can reach it.
      const holder: { producer?: Producer } = {};
      const connection = await connect(
        o.url,
        this.connectOptions((event) => {
          const producer = holder.producer;
          if (!producer) return;
          if (event.kind === 'disconnected') producer.disconnectedAtMs = epochNowMs();
          if (event.kind === 'connected' && event.reconnect) producer.awaitingResume = { connectedAtMs: epochNowMs(), address: event.address };
        }),
      );
      const sender = await connection.sender(this.address(), { capacity: o.capacity });
      holder.producer = { index, connection, sender, pacer: new Pacer(o.rateMsgsPerS / o.producers, performance.now()), seq: 0, disconnectedAtMs: null, awaitingResume: null };
      this.producers.push(holder.producer);
    }
  }

  start(): void {
    this.sending = true;
    this.consumerLoops = this.receivers.map((receiver) => this.consume(receiver));
    this.producerLoops = this.producers.map((producer) => this.produce(producer));
  }

  measureStart(): void {
    this.measuring = true;
    this.windowStartMs = performance.now();
    this.windowAccepted = 0;
  }

  measureStop(): void {
    if (!this.measuring) return;
    this.measuring = false;
    this.windowS += (performance.now() - this.windowStartMs) / 1000;
  }

  private async produce(producer: Producer): Promise<void> {
    while (this.sending) {
      const now = performance.now();
      if (producer.pacer.available(now) < 1) {
        await delay(producer.pacer.waitMs());
        continue;
      }
      await producer.sender.waitForCapacity();
      if (!this.sending) return;
      producer.pacer.take(1);
      const seq = producer.seq++;
      const sentMs = performance.now();
      this.count.sent++;
      producer.sender
        .send({
          ...(this.options.dedupWindow > 0 ? { message_id: `${producer.index}:${seq}` } : {}),
          durable: this.options.durable,
          application_properties: { p: producer.index, s: seq, ts: rhea.types.wrap_double(sentMs) },
          body: rhea.message.data_section(this.body),
        })
        .then(
          (outcome) => this.outcome(producer, seq, sentMs, outcome),
          (err: unknown) => this.error(`producer ${producer.index}: ${(err as Error).message}`),
        );
    }
  }

  private outcome(producer: Producer, seq: number, sentMs: number, outcome: SendOutcome): void {
    const now = performance.now();
    if (outcome.outcome !== 'accepted') {
      if (outcome.outcome === 'rejected') this.count.rejected++;
      else this.count.released++;
      this.error(`producer ${producer.index}: message ${seq} ${outcome.outcome}`);
      return;
    }
    this.count.accepted++;
    this.ledger.settled(producer.index, seq);
    const atMs = performance.timeOrigin + now;
    this.timeline.add('accepted', atMs);
    if (this.measuring) {
      this.windowAccepted++;
      this.settle.recordMs(now - sentMs);
    }
    const resume = producer.awaitingResume;
    if (resume) {
      producer.awaitingResume = null;
      const event: ResumeEvent = {
        msg: 'resumed',
        producer: producer.index,
        disconnectedAtMs: producer.disconnectedAtMs,
        connectedAtMs: resume.connectedAtMs,
        acceptedAtMs: atMs,
        address: resume.address,
      };
      this.resumes.push(event);
      this.emit(event);
    }
  }

  private async consume(receiver: Receiver): Promise<void> {
    try {
      for await (const delivery of receiver) {
        const now = performance.now();
        this.count.received++;
        this.timeline.add('received', performance.timeOrigin + now);
        const properties = delivery.message.application_properties as Record<string, number> | undefined;
        if (properties && typeof properties['p'] === 'number' && typeof properties['s'] === 'number') {
          this.ledger.received(properties['p'], properties['s'], delivery.redelivered);
          if (this.measuring && typeof properties['ts'] === 'number') this.endToEnd.recordMs(now - properties['ts']);
        } else {
          this.ledger.received(-1, -1);
        }
        delivery.accept();
      }
    } catch (err) {
      this.error(`consumer: ${(err as Error).message}`);
    }
  }

  /** Stops producing, waits for every send to settle and every accepted message to arrive. */
  async stop(): Promise<FailoverLoadResult> {
    this.measureStop();
    this.sending = false;
    await Promise.all(this.producerLoops);
    const drainStartMs = performance.now();
    const deadlineMs = drainStartMs + this.options.drainS * 1000;
    if (this.options.deferConsumers) {
      while (this.producers.some((p) => p.sender.stats.unsettled > 0) && performance.now() < deadlineMs) await delay(20);
      await this.attachConsumers();
      this.consumerLoops = this.receivers.map((receiver) => this.consume(receiver));
    }
    let drained = false;
    for (;;) {
      const unsettled = this.producers.reduce((sum, p) => sum + p.sender.stats.unsettled, 0);
      if (unsettled === 0 && this.ledger.pending === 0) {
        drained = true;
        break;
      }
      if (performance.now() > deadlineMs) break;
      await delay(20);
    }
    const drainMs = Math.round(performance.now() - drainStartMs);
    const resent = this.producers.reduce((sum, p) => sum + p.connection.stats.resent, 0);
    const producerReconnects = this.producers.reduce((sum, p) => sum + p.connection.stats.reconnects, 0);
    const consumerReconnects = this.consumerConnections.reduce((sum, c) => sum + c.stats.reconnects, 0);
    await Promise.all([...this.producers.map((p) => p.connection.close()), ...this.consumerConnections.map((c) => c.close())].map((p) => p.catch(() => undefined)));
    await Promise.all(this.consumerLoops);
    const ledger = this.ledger.counts();
    return {
      msg: 'failover-load result',
      params: this.options,
      ok: drained && ledger.lost === 0 && this.count.received > 0,
      counts: { ...this.count, lost: ledger.lost, duplicates: ledger.duplicates, redelivered: ledger.redelivered, foreign: ledger.foreign, resent, producerReconnects, consumerReconnects },
      drained,
      drainMs,
      window: {
        seconds: Math.round(this.windowS * 1000) / 1000,
        acceptedMsgsPerS: this.windowS > 0 ? Math.round(this.windowAccepted / this.windowS) : 0,
        settleMs: this.settle.summary(),
        endToEndMs: this.endToEnd.summary(),
      },
      resumes: this.resumes,
      timeline: this.timeline.data(),
      errors: this.errors,
      errorSamples: this.errorSamples,
    };
  }

  private error(description: string): void {
    this.errors++;
    if (this.errorSamples.length < ERROR_SAMPLES_MAX) this.errorSamples.push(description);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
