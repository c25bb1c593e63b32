// One load run on rhea: consumers attach first, then producers; producers send pre-encoded,
// time-stamped messages within their credit, their unsettled capacity and their pace; after the
// warm-up a window of durationS is measured; then producers stop and the run drains until every
// accepted message has been received (or drainS passes), and reports what was lost.
// Producers and consumers each have their own connection, as separate client processes would.
import rhea from 'rhea';
import type { Connection, Container, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import { DeliveryLedger } from './delivery-ledger.js';
import { LatencyRecorder } from './latency.js';
import type { LoadgenOptions } from './loadgen-options.js';
import { queueFor } from './loadgen-options.js';
import type { LoadgenResult } from './loadgen-result.js';
import { buildMessageTemplate } from './message-template.js';
import type { MessageTemplate } from './message-template.js';
import { Pacer } from './pacer.js';
import { Timeline, epochNowMs } from './timeline.js';
import { saslConnectionOptions } from '../../src/security/rhea-sasl-client.js';
import { clientTlsOptions } from '../../src/security/tls-context.js';

const ATTACH_TIMEOUT_MS = 10_000;
const ERROR_SAMPLES_MAX = 5;
const DRAIN_POLL_MS = 20;
/** Timeline bucket: fine enough to cut out a catch-up window of a second or two. */
const TIMELINE_BUCKET_MS = 100;
/** At-most-once may lose messages by design; its drain ends after this long without a receipt. */
const AT_MOST_ONCE_QUIET_MS = 1000;

/** rhea link fields its typings leave out: link credit and the AMQP delivery-count. */
interface SenderInternals {
  credit: number;
  delivery_count: number;
}

/** What a producer remembers on each unsettled delivery (set on rhea's delivery object). */
interface TimedDelivery extends Delivery {
  sentMs: number;
  seq: number;
  done: boolean;
}

interface Producer {
  readonly index: number;
  readonly connection: Connection;
  readonly sender: Sender;
  readonly pacer: Pacer;
  seq: number;
  unsettled: number;
  timer: NodeJS.Timeout | undefined;
}

class LoadRun {
  private readonly container: Container;
  private readonly template: MessageTemplate;
  private readonly ledger: DeliveryLedger;
  private readonly atLeastOnce: boolean;
  private readonly endToEnd = new LatencyRecorder();
  private readonly settleLatency = new LatencyRecorder();
  private readonly producers: Producer[] = [];
  private readonly connections: Connection[] = [];
  private readonly errorSamples: string[] = [];
  private errors = 0;
  private measuring = false;
  private sending = false;
  private lastProgressMs = 0;
  private closing = false;
  private readonly count = { sent: 0, accepted: 0, rejected: 0, released: 0, received: 0 };
  private readonly window = { sent: 0, accepted: 0, received: 0 };
  private timeline: Timeline | undefined;

  constructor(private readonly options: LoadgenOptions) {
    this.container = rhea.create_container({ id: `bench-loadgen-${process.pid}` });
    this.template = buildMessageTemplate(options.sizeBytes, options.durable);
    this.ledger = new DeliveryLedger(options.producers);
    this.atLeastOnce = options.settle === 'at-least-once';
    this.container.on('error', (err: Error) => this.error(`container: ${err.message}`));
  }

  async run(): Promise<LoadgenResult> {
    const o = this.options;
    const cpuStart = process.cpuUsage();
    const runStartMs = performance.now();
    try {
      await Promise.all(Array.from({ length: o.consumers }, (_, i) => this.openConsumer(i)));
      await Promise.all(Array.from({ length: o.producers }, (_, i) => this.openProducer(i)));
    } catch (err) {
      this.error((err as Error).message);
      this.closeAll();
      throw err;
    }

    this.timeline = new Timeline(epochNowMs(), TIMELINE_BUCKET_MS, ['accepted', 'received']);
    this.sending = true;
    for (const producer of this.producers) this.pump(producer);
    await delay(o.warmupS * 1000);
    this.measuring = true;
    const windowStartMs = performance.now();
    await delay(o.durationS * 1000);
    this.measuring = false;
    const measuredS = (performance.now() - windowStartMs) / 1000;
    this.sending = false;
    for (const producer of this.producers) clearTimeout(producer.timer);

    const drainStartMs = performance.now();
    const drained = await this.drain(drainStartMs + o.drainS * 1000);
    const drainMs = performance.now() - drainStartMs;
    const cpu = process.cpuUsage(cpuStart);
    this.closeAll();

    const ledger = this.ledger.counts();
    const unsettled = this.producers.reduce((sum, p) => sum + p.unsettled, 0);
    const lost = ledger.lost;
    return {
      msg: 'loadgen result',
      params: {
        ...o,
        messageBytes: this.template.bytes,
        queueNames: [...new Set(Array.from({ length: o.queues }, (_, i) => queueFor(o, i)))],
      },
      // A run that moved nothing measured nothing: not ok, even though nothing was lost.
      ok: drained && (!this.atLeastOnce || lost === 0) && this.count.received > 0,
      lossChecked: this.atLeastOnce,
      measuredS: round(measuredS, 3),
      sentMsgsPerS: round(this.window.sent / measuredS, 1),
      acceptedMsgsPerS: round(this.window.accepted / measuredS, 1),
      receivedMsgsPerS: round(this.window.received / measuredS, 1),
      receivedMiBPerS: round((this.window.received * this.template.bytes) / measuredS / 1048576, 2),
      latencyMs: { endToEnd: this.endToEnd.summary(), settle: this.settleLatency.summary() },
      counts: { ...this.count, unsettled, lost, duplicates: ledger.duplicates, foreign: ledger.foreign },
      drained,
      drainMs: Math.round(drainMs),
      errors: this.errors,
      errorSamples: this.errorSamples,
      timeline: this.timeline.data(),
      cpu: {
        userS: round(cpu.user / 1e6, 2),
        systemS: round(cpu.system / 1e6, 2),
        pctOfCore: Math.round(((cpu.user + cpu.system) / 1e3 / (performance.now() - runStartMs)) * 100),
      },
    };
  }

  private connect(role: string, index: number): Connection {
    const connection = this.container.connect({
      host: this.options.host,
      port: this.options.port,
      reconnect: false,
      container_id: `bench-${role}-${index}-${process.pid}`,
      ...clientTlsOptions({ transport: this.options.tls ? 'ssl' : 'tcp', host: this.options.host }),
      ...(this.options.user !== undefined ? saslConnectionOptions(this.options.user, process.env['QPID_PASSWORD'] ?? '') : {}),
    } as never);
    connection.on('disconnected', (context: EventContext) => {
      if (!this.closing) this.error(`${role} ${index} disconnected: ${context.error?.message ?? 'closed'}`);
    });
    connection.on('connection_error', (context: EventContext) => {
      this.error(`${role} ${index} connection error: ${describe(context.connection.error)}`);
    });
    this.connections.push(connection);
    return connection;
  }

  private terminus(index: number): { address: string; capabilities?: string[]; dynamic_node_properties?: Record<string, unknown> } {
    const address = queueFor(this.options, index);
    if (!this.options.createQueues) return { address };
    return { address, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: this.options.durable } };
  }

  private openConsumer(index: number): Promise<void> {
    const connection = this.connect('consumer', index);
    const receiver = connection.open_receiver({
      source: this.terminus(index),
      credit_window: this.options.prefetch,
      autoaccept: true,
      // At-most-once asks the server to send pre-settled; at-least-once, unsettled.
      snd_settle_mode: this.atLeastOnce ? 0 : 1,
      rcv_settle_mode: 0,
    });
    receiver.on('message', (context: EventContext) => this.onMessage(context));
    receiver.on('receiver_error', (context: EventContext) => {
      this.error(`consumer ${index} link error: ${describe(context.receiver?.error)}`);
    });
    return this.opened(receiver, 'receiver_open', `consumer ${index}`);
  }

  private openProducer(index: number): Promise<void> {
    const connection = this.connect('producer', index);
    const sender = connection.open_sender({
      target: this.terminus(index),
      snd_settle_mode: this.atLeastOnce ? 2 : 1,
    });
    const producer: Producer = {
      index,
      connection,
      sender,
      pacer: new Pacer(this.options.rateMsgsPerS / this.options.producers, performance.now()),
      seq: 0,
      unsettled: 0,
      timer: undefined,
    };
    this.producers.push(producer);
    sender.on('sendable', () => this.pump(producer));
    sender.on('accepted', (context: EventContext) => this.onOutcome(producer, context.delivery as TimedDelivery, 'accepted'));
    sender.on('rejected', (context: EventContext) => this.onOutcome(producer, context.delivery as TimedDelivery, 'rejected'));
    sender.on('released', (context: EventContext) => this.onOutcome(producer, context.delivery as TimedDelivery, 'released'));
    sender.on('sender_error', (context: EventContext) => {
      this.error(`producer ${index} link error: ${describe(context.sender?.error)}`);
    });
    return this.opened(sender, 'sender_open', `producer ${index}`);
  }

  private opened(link: Sender | Receiver, event: string, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: not attached within ${ATTACH_TIMEOUT_MS} ms`)), ATTACH_TIMEOUT_MS);
      const fail = (context: EventContext): void => {
        clearTimeout(timer);
        reject(new Error(`${what}: ${describe(context.error ?? context.connection?.error ?? link.error) || 'connection closed before attach'}`));
      };
      link.connection.once('disconnected', fail);
      link.once(`${link.is_sender() ? 'sender' : 'receiver'}_close`, fail);
      link.once(event, () => {
        clearTimeout(timer);
        link.connection.removeListener('disconnected', fail);
        resolve();
      });
    });
  }

  /** Sends as many messages as credit, unsettled capacity and pace allow, without waiting. */
  private pump(producer: Producer): void {
    if (!this.sending) return;
    const sender = producer.sender;
    const internals = sender as unknown as SenderInternals;
    // rhea transfers on the next tick: messages handed over but not yet sent still use credit.
    const queued = producer.seq - internals.delivery_count;
    let budget = internals.credit - queued;
    if (this.atLeastOnce) budget = Math.min(budget, this.options.capacity - producer.unsettled);
    if (budget <= 0 || !sender.sendable()) return;
    const now = performance.now();
    const paced = producer.pacer.available(now);
    if (paced < budget) {
      budget = paced;
      if (producer.timer === undefined) {
        producer.timer = setTimeout(() => {
          producer.timer = undefined;
          this.pump(producer);
        }, producer.pacer.waitMs());
      }
    }
    for (let i = 0; i < budget; i++) {
      const seq = producer.seq++;
      const delivery = sender.send(this.template.stamp(now, producer.index, seq), undefined, 0) as TimedDelivery;
      if (this.atLeastOnce) {
        delivery.sentMs = now;
        delivery.seq = seq;
        delivery.done = false;
        producer.unsettled++;
      } else {
        this.ledger.settled(producer.index, seq);
        this.count.accepted++;
        this.timeline?.add('accepted', performance.timeOrigin + now);
        if (this.measuring) this.window.accepted++;
      }
    }
    producer.pacer.take(budget);
    this.count.sent += budget;
    if (this.measuring) this.window.sent += budget;
  }

  private onOutcome(producer: Producer, delivery: TimedDelivery, outcome: 'accepted' | 'rejected' | 'released'): void {
    if (!this.atLeastOnce || delivery.done) return;
    delivery.done = true;
    producer.unsettled--;
    this.lastProgressMs = performance.now();
    if (outcome === 'accepted') {
      this.count.accepted++;
      this.timeline?.add('accepted', performance.timeOrigin + this.lastProgressMs);
      this.ledger.settled(producer.index, delivery.seq);
      if (this.measuring) {
        this.window.accepted++;
        this.settleLatency.recordMs(this.lastProgressMs - delivery.sentMs);
      }
    } else {
      this.count[outcome]++;
      this.error(`producer ${producer.index}: message ${delivery.seq} ${outcome}`);
    }
    this.pump(producer);
  }

  private onMessage(context: EventContext): void {
    const now = performance.now();
    this.lastProgressMs = now;
    this.count.received++;
    this.timeline?.add('received', performance.timeOrigin + now);
    const properties = (context.message as Message).application_properties as Record<string, number> | undefined;
    if (!properties) {
      this.ledger.received(-1, -1);
      return;
    }
    this.ledger.received(properties['p'] as number, properties['s'] as number);
    if (this.measuring) {
      this.window.received++;
      this.endToEnd.recordMs(now - (properties['ts'] as number));
    }
  }

  /** Resolves true once every sent delivery is settled and every accepted one received. */
  private drain(deadlineMs: number): Promise<boolean> {
    this.lastProgressMs = performance.now();
    return new Promise((resolve) => {
      const check = (): void => {
        const now = performance.now();
        const unsettled = this.producers.reduce((sum, p) => sum + p.unsettled, 0);
        if (unsettled === 0 && this.ledger.pending === 0) return resolve(true);
        if (!this.atLeastOnce && now - this.lastProgressMs > AT_MOST_ONCE_QUIET_MS) return resolve(true);
        if (now >= deadlineMs) return resolve(false);
        setTimeout(check, DRAIN_POLL_MS);
      };
      check();
    });
  }

  private closeAll(): void {
    this.closing = true;
    for (const connection of this.connections) {
      if (connection.is_open()) connection.close();
    }
  }

  private error(description: string): void {
    this.errors++;
    if (this.errorSamples.length < ERROR_SAMPLES_MAX) this.errorSamples.push(description);
  }
}

function describe(error: unknown): string {
  if (!error) return '';
  if (error instanceof Error) return error.message;
  const amqp = error as { condition?: string; description?: string };
  return [amqp.condition, amqp.description].filter(Boolean).join(': ') || JSON.stringify(error);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round(value: number, digits: number): number {
  if (!Number.isFinite(value)) return 0;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Runs one load and resolves with its result; rejects when the clients cannot attach. */
export function runLoad(options: LoadgenOptions): Promise<LoadgenResult> {
  return new LoadRun(options).run();
}
