// The probe producer of `qpid-ha drill`: one failover client (src/client) on the cluster's
// address list that sends small durable messages, each with a sequence number, a few at a time,
// and records when each was accepted and over which connection (the reconnect count then). The
// drill reads from it the first message accepted after a fault, and at the end which accepted
// messages the cluster no longer holds.
import { randomUUID } from 'node:crypto';
import { connect, type Connection, type Sender } from '../../src/client/index.js';

/** Marks a run's messages: what an earlier run left on the queue must not hide a loss. */
const RUN_PROPERTY = 'qpid-ha-drill-run';
const SN_PROPERTY = 'qpid-ha-drill-sn';

export class DrillProbe {
  readonly runId = randomUUID();
  /** sn -> [wall ms of the accept, reconnects of the client when it came]. */
  private readonly accepted = new Map<number, readonly [number, number]>();
  /** Sends that ended in anything but accepted. */
  readonly failures: string[] = [];
  private next = 0;
  private running = true;
  private readonly done: Promise<void>;

  private constructor(
    private readonly connection: Connection,
    sender: Sender,
    window: number,
    private readonly paceMs: number,
  ) {
    const loops: Promise<void>[] = [];
    for (let i = 0; i < window; i++) loops.push(this.loop(sender));
    this.done = Promise.all(loops).then(() => {});
  }

  static async start(url: string, queue: string, login: { username?: string; password?: string }, options: { window?: number; paceMs?: number } = {}): Promise<DrillProbe> {
    const connection = await connect(`amqp:${url}`, { reconnect: { limit: -1, initialDelayMs: 5, maxDelayMs: 20 }, heartbeatS: 1, ...login });
    const sender = await connection.sender(`${queue}; {create: always, node: {durable: true}}`, { capacity: 1000 });
    return new DrillProbe(connection, sender, options.window ?? 4, options.paceMs ?? 5);
  }

  private async loop(sender: Sender): Promise<void> {
    while (this.running) {
      const sn = this.next++;
      try {
        const outcome = await sender.send({ body: `drill ${sn}`, durable: true, application_properties: { [SN_PROPERTY]: sn, [RUN_PROPERTY]: this.runId } });
        if (outcome.outcome === 'accepted') this.accepted.set(sn, [Date.now(), this.connection.stats.reconnects]);
        else this.failures.push(`${sn}: ${outcome.outcome}`);
      } catch (err) {
        this.failures.push(`${sn}: ${(err as Error).message}`);
      }
      // A steady trickle: the probe measures, it does not load the cluster.
      await new Promise((r) => setTimeout(r, this.paceMs));
    }
  }

  get reconnects(): number {
    return this.connection.stats.reconnects;
  }

  get acceptedCount(): number {
    return this.accepted.size;
  }

  acceptedNumbers(): number[] {
    return [...this.accepted.keys()];
  }

  /** The first accept at or after `sinceMs` over a connection made after `reconnects`
   * reconnections (an accept the old primary sent before the fault does not count); null if
   * there is none yet. */
  firstAcceptAfter(sinceMs: number, reconnects: number): number | null {
    let first: number | null = null;
    for (const [at, over] of this.accepted.values()) if (at >= sinceMs && over > reconnects && (first === null || at < first)) first = at;
    return first;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    await this.connection.close();
  }
}

/** Takes every message off `queue` at `url` (the probe's, after the drills) until none comes for
 * `quietMs`, and returns the sequence numbers of run `runId`'s. */
export async function drainProbeQueue(url: string, queue: string, runId: string, login: { username?: string; password?: string }, quietMs = 1500): Promise<Set<number>> {
  const connection = await connect(`amqp:${url}`, { reconnect: { limit: -1, initialDelayMs: 10, maxDelayMs: 200 }, ...login });
  const held = new Set<number>();
  try {
    const receiver = await connection.receiver(queue, { credit: 500 });
    for (;;) {
      const delivery = await receiver.receive(quietMs);
      if (!delivery) break;
      const properties = delivery.message.application_properties as Record<string, unknown> | undefined;
      const sn = properties?.[SN_PROPERTY];
      if (typeof sn === 'number' && properties?.[RUN_PROPERTY] === runId) held.add(sn);
      delivery.accept();
    }
  } finally {
    await connection.close();
  }
  return held;
}
