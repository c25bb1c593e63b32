// A producer on the project's failover client (src/client) that sends durable messages with a
// sequence number as fast as its window allows, and records when each was accepted: the
// manager's tests read from it what was accepted (nothing of it may be lost) and when the first
// message after a fault was accepted.
import { connect, type Connection } from '../../src/client/index.js';
import { drain } from './amqp.js';

export class ProbeProducer {
  /** sn -> wall ms of the accept. */
  readonly acceptedAt = new Map<number, number>();
  /** sn -> how many times the client had reconnected when the accept came. */
  private readonly acceptedOnReconnect = new Map<number, number>();
  private next = 0;
  /** Sends that ended in anything but accepted (an outcome or an error): a producer error. */
  readonly failures: string[] = [];
  private running = true;
  private readonly done: Promise<void>;

  private constructor(
    private readonly connection: Connection,
    sender: Awaited<ReturnType<Connection['sender']>>,
    window: number,
  ) {
    const loops: Promise<void>[] = [];
    for (let i = 0; i < window; i++) loops.push(this.loop(sender));
    this.done = Promise.all(loops).then(() => {});
  }

  static async start(url: string, queue: string, window = 20): Promise<ProbeProducer> {
    const connection = await connect(`amqp:${url}`, { reconnect: { limit: -1, initialDelayMs: 5, maxDelayMs: 20 }, heartbeatS: 1 });
    const sender = await connection.sender(`${queue}; {create: always, node: {durable: true}}`, { capacity: 1000 });
    return new ProbeProducer(connection, sender, window);
  }

  private async loop(sender: Awaited<ReturnType<Connection['sender']>>): Promise<void> {
    while (this.running) {
      const sn = this.next++;
      let outcome;
      try {
        outcome = await sender.send({ body: `m${sn}`, durable: true, application_properties: { sn } });
      } catch (err) {
        this.failures.push(`${sn}: ${(err as Error).message}`);
        if (!this.running) return;
        continue;
      }
      if (outcome.outcome !== 'accepted') this.failures.push(`${sn}: ${outcome.outcome}`);
      if (outcome.outcome === 'accepted') {
        this.acceptedAt.set(sn, Date.now());
        this.acceptedOnReconnect.set(sn, this.connection.stats.reconnects);
      }
      // Paced lightly: a steady probe, not a load test.
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** When each message accepted over the connection made after `reconnects` reconnections was
   * accepted (the connection to one primary). */
  acceptedOver(reconnects: number): number[] {
    return [...this.acceptedAt].filter(([sn]) => this.acceptedOnReconnect.get(sn) === reconnects).map(([, t]) => t);
  }

  get reconnects(): number {
    return this.connection.stats.reconnects;
  }

  /** The first accept at or after `sinceMs` (and over a connection made after `reconnects`
   * reconnections: an accept the old primary sent just before it died does not count), waiting
   * for it; its wall time. */
  async firstAcceptAfter(sinceMs: number, timeoutMs = 30_000, reconnects = -1): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let first = Infinity;
      for (const [sn, t] of this.acceptedAt) if (t >= sinceMs && t < first && (this.acceptedOnReconnect.get(sn) ?? 0) > reconnects) first = t;
      if (first !== Infinity) return first;
      if (Date.now() > deadline) throw new Error(`no message accepted within ${timeoutMs} ms after the fault`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Stops sending and closes; `graceMs`: how long to wait for the sends in flight (a test that
   * failed while nothing settles must not hang on them). */
  async stop(graceMs = Infinity): Promise<void> {
    this.running = false;
    if (Number.isFinite(graceMs)) await Promise.race([this.done, new Promise((r) => setTimeout(r, graceMs).unref())]);
    else await this.done;
    await this.connection.close();
  }
}

/** The accepted sequence numbers missing from what the broker at `port` holds on `queue`. */
export async function lostOf(producer: ProbeProducer, port: number, queue: string): Promise<{ lost: number[]; accepted: number }> {
  const held = new Set((await drain(port, queue)).map((m) => Number((m.application_properties as { sn?: number } | undefined)?.sn)));
  const lost = [...producer.acceptedAt.keys()].filter((sn) => !held.has(sn)).sort((a, b) => a - b);
  return { lost, accepted: producer.acceptedAt.size };
}
