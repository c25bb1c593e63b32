// Producer flow control in AMQP 1.0 terms (issue 14). qpidd stops a producer by delaying the
// settlement of its messages; here a flow-stopped queue withholds link credit instead, the AMQP
// 1.0 way: its producers are granted no more credit until the queue resumes. Nothing is settled
// early, dropped or refused. Credit is per link, so a client that produces to a queue and
// consumes from it on one session still consumes, the queue drains, and its producer resumes.
//
// Producers targeting the queue are stopped when it stops; producers to an exchange once a
// message of theirs lands in a stopped queue. The credit a producer already holds is not taken
// back: like a qpidd producer's capacity, it may still be used, so the gap between the stop
// threshold and the queue's limit should hold the producers' windows (--max-unsettled each), or
// the limit refuses the excess with its own error, exactly as without flow control. (Revoking
// credit would make a producer to a small queue wait for a resume where qpidd refuses it.)

import type { Broker } from '../broker/broker.js';

/** A producer link, as flow control sees it. */
export interface FlowControlledProducer {
  /** A queue it sends to stopped or resumed. */
  flowChanged(queue: string, stopped: boolean): void;
}

interface QueueProducers {
  /** Producers whose target is the queue. */
  readonly targeting: Set<FlowControlledProducer>;
  /** Producers (to exchanges) stopped by the queue, to be told when it resumes. */
  readonly blocked: Set<FlowControlledProducer>;
}

/** The key under which every producer waits while the broker pauses them all (a primary
 * reserving capacity for a backup's catch-up). */
export const ALL_PRODUCERS_PAUSED = '\u0000all producers paused';

export class ProducerFlow {
  private readonly queues = new Map<string, QueueProducers>();
  private readonly all = new Set<FlowControlledProducer>();
  /** The queues each producer is listed under, so that a closing link is removed from those
   * alone, not by a walk over every queue under flow control. */
  private readonly queuesOf = new Map<FlowControlledProducer, Set<string>>();

  constructor(private readonly broker: Broker) {
    broker.onQueueFlow((queue, stopped) => this.changed(queue.name, stopped));
    broker.onProducerPause((reason) => {
      for (const producer of [...this.all]) producer.flowChanged(ALL_PRODUCERS_PAUSED, reason !== null);
    });
  }

  /** Every producer, whatever its target: a pause of all producers reaches it. */
  add(producer: FlowControlledProducer): void {
    this.all.add(producer);
  }

  get allPaused(): boolean {
    return this.broker.producersPaused;
  }

  private entry(queue: string): QueueProducers {
    let entry = this.queues.get(queue);
    if (!entry) {
      entry = { targeting: new Set(), blocked: new Set() };
      this.queues.set(queue, entry);
    }
    return entry;
  }

  private prune(queue: string, entry: QueueProducers): void {
    if (entry.targeting.size === 0 && entry.blocked.size === 0) this.queues.delete(queue);
  }

  /** Whether the queue is flow-stopped now. */
  stopped(queue: string): boolean {
    return this.broker.queue(queue)?.flowStopped === true;
  }

  target(queue: string, producer: FlowControlledProducer): void {
    this.entry(queue).targeting.add(producer);
    this.listUnder(producer, queue);
  }

  /** An exchange producer's message landed in the stopped queue: it waits for the resume. */
  block(queue: string, producer: FlowControlledProducer): void {
    this.entry(queue).blocked.add(producer);
    this.listUnder(producer, queue);
  }

  /** The producer is gone. */
  remove(producer: FlowControlledProducer): void {
    this.all.delete(producer);
    const queues = this.queuesOf.get(producer);
    if (queues === undefined) return;
    this.queuesOf.delete(producer);
    for (const queue of queues) {
      const entry = this.queues.get(queue);
      if (entry === undefined) continue;
      entry.blocked.delete(producer);
      entry.targeting.delete(producer);
      this.prune(queue, entry);
    }
  }

  private listUnder(producer: FlowControlledProducer, queue: string): void {
    let queues = this.queuesOf.get(producer);
    if (queues === undefined) {
      queues = new Set();
      this.queuesOf.set(producer, queues);
    }
    queues.add(queue);
  }

  private changed(queue: string, stopped: boolean): void {
    const entry = this.queues.get(queue);
    if (!entry) return;
    const told = [...entry.targeting, ...(stopped ? [] : entry.blocked)];
    if (!stopped) {
      // A resumed queue no longer holds its exchange producers: they leave its lists.
      for (const producer of entry.blocked) if (!entry.targeting.has(producer)) this.queuesOf.get(producer)?.delete(queue);
      entry.blocked.clear();
    }
    for (const producer of told) producer.flowChanged(queue, stopped);
    this.prune(queue, entry);
  }
}

const flows = new WeakMap<Broker, ProducerFlow>();

/** The flow control of a broker's producers (one per broker: a promotion makes a new broker). */
export function producerFlowOf(broker: Broker): ProducerFlow {
  let flow = flows.get(broker);
  if (!flow) {
    flow = new ProducerFlow(broker);
    flows.set(broker, flow);
  }
  return flow;
}
