// The history checker (qpid-check-history, the crash suite): reads a run's history afterwards
// and says whether the durability contract held
// (DESIGN.md §5): every message settled as accepted to its producer was received at least once;
// every message received was sent (to that queue); duplicates are counted, never as loss; and
// each producer's messages reach a consumer in the order sent, except messages the producer may
// have resent (sent, then a disconnect, before their settlement). Pure: events in, verdict out.
import type { HistoryEvent, Stamped } from './history.js';

/** Lists in a verdict are cut to this many entries; their counts are always complete. */
export const LISTED_MAX = 50;

export interface MessageRef {
  readonly producer: string;
  readonly sn: number;
}

export interface OrderViolation extends MessageRef {
  readonly consumer: string;
  readonly queue: string;
  /** The highest sn of this producer the consumer had already received for the first time. */
  readonly after: number;
  /** The late receipt's delivery-count: above zero, the broker had delivered it before a restart
   * or promotion (it came back from a store). */
  readonly deliveryCount: number;
}

export interface Phantom extends MessageRef {
  readonly consumer: string;
  readonly queue: string;
  /** 'never-sent', or 'wrong-queue' when the producer sent it to another queue. */
  readonly reason: 'never-sent' | 'wrong-queue';
}

export interface VerdictCounts {
  readonly sent: number;
  readonly accepted: number;
  /** Settled with rejected, released or modified: the broker did not take the message. */
  readonly notAccepted: number;
  /** The client gave up on them, or the producer stopped before a settlement arrived. */
  readonly unsettled: number;
  readonly receipts: number;
  /** Distinct messages received. */
  readonly unique: number;
  /** Receipts beyond the first of a message: expected after failover, never loss. */
  readonly duplicates: number;
  /** Duplicates the broker delivered with delivery-count 0 although the producer did not resend
   * the message: a redelivery not marked as such (DESIGN.md §5). Reported, not a failure. */
  readonly unmarkedRedeliveries: number;
  /** Messages the producer may have resent (a disconnect between send and settlement). */
  readonly possiblyResent: number;
  readonly lost: number;
  readonly phantoms: number;
  readonly orderViolations: number;
  /** Order violations whose late message was marked as delivered before (deliveryCount > 0). */
  readonly orderViolationsRedelivered: number;
  readonly producerDisconnects: number;
  readonly consumerDisconnects: number;
}

export interface Verdict {
  readonly ok: boolean;
  /** One sentence per broken rule. */
  readonly problems: readonly string[];
  readonly counts: VerdictCounts;
  readonly lost: readonly MessageRef[];
  readonly phantoms: readonly Phantom[];
  readonly orderViolations: readonly OrderViolation[];
}

interface Sent {
  readonly queue: string;
  /** Position of the send event in the producer's own history. */
  readonly sendSeq: number;
  settleSeq: number | undefined;
  outcome: string | undefined;
  possiblyResent: boolean;
}

type Of<K extends HistoryEvent['kind']> = Stamped<Extract<HistoryEvent, { kind: K }>>;

const key = (producer: string, sn: number): string => `${producer}\u0000${sn}`;

function byWriter(events: readonly Stamped[]): Map<string, Stamped[]> {
  const writers = new Map<string, Stamped[]>();
  for (const event of events) {
    let list = writers.get(event.writer);
    if (!list) writers.set(event.writer, (list = []));
    list.push(event);
  }
  for (const list of writers.values()) list.sort((a, b) => a.seq - b.seq);
  return writers;
}

/** The producers' side: what was sent, how it was settled, and what may have been resent. */
function collectSent(writers: Map<string, Stamped[]>): { sent: Map<string, Sent>; producerDisconnects: number } {
  const sent = new Map<string, Sent>();
  let producerDisconnects = 0;
  for (const events of writers.values()) {
    if (!events.some((e) => e.kind === 'send')) continue;
    // Messages of this writer sent and not yet settled, in send order: a disconnect marks them
    // all as possibly resent (the client transmits them again on the next connection).
    const open = new Map<string, Sent>();
    for (const event of events) {
      if (event.kind === 'send') {
        const e = event as Of<'send'>;
        const k = key(e.producer, e.sn);
        if (sent.has(k)) throw new Error(`history: ${e.producer} sent sn ${e.sn} twice (the producer numbers each message once)`);
        const entry: Sent = { queue: e.queue, sendSeq: e.seq, settleSeq: undefined, outcome: undefined, possiblyResent: false };
        sent.set(k, entry);
        open.set(k, entry);
      } else if (event.kind === 'settle') {
        const e = event as Of<'settle'>;
        const entry = sent.get(key(e.producer, e.sn));
        if (!entry) throw new Error(`history: ${e.producer} settled sn ${e.sn} that it never sent`);
        entry.settleSeq = e.seq;
        entry.outcome = e.outcome;
        open.delete(key(e.producer, e.sn));
      } else if (event.kind === 'disconnect') {
        for (const entry of open.values()) entry.possiblyResent = true;
        producerDisconnects++;
      }
    }
  }
  return { sent, producerDisconnects };
}

export function check(events: readonly Stamped[]): Verdict {
  const writers = byWriter(events);
  const { sent, producerDisconnects } = collectSent(writers);

  const received = new Map<string, number>();
  const phantoms: Phantom[] = [];
  const orderViolations: OrderViolation[] = [];
  let receipts = 0;
  let duplicates = 0;
  let unmarkedRedeliveries = 0;
  let consumerDisconnects = 0;
  for (const list of writers.values()) {
    if (!list.some((e) => e.kind === 'receive')) continue;
    consumerDisconnects += list.filter((e) => e.kind === 'disconnect').length;
    // Per producer: the highest sn this consumer has received for the first time.
    const highestFirst = new Map<string, number>();
    const seenHere = new Set<string>();
    for (const event of list) {
      if (event.kind !== 'receive') continue;
      const e = event as Of<'receive'>;
      receipts++;
      const k = key(e.producer, e.sn);
      const origin = sent.get(k);
      if (!origin || origin.queue !== e.queue) {
        phantoms.push({ producer: e.producer, sn: e.sn, consumer: e.consumer, queue: e.queue, reason: origin ? 'wrong-queue' : 'never-sent' });
        continue;
      }
      const earlier = received.get(k) ?? 0;
      received.set(k, earlier + 1);
      if (earlier > 0) {
        duplicates++;
        if (e.deliveryCount === 0 && !origin.possiblyResent) unmarkedRedeliveries++;
      }
      if (seenHere.has(k)) continue;
      seenHere.add(k);
      const highest = highestFirst.get(e.producer) ?? 0;
      if (e.sn < highest && !origin.possiblyResent) {
        orderViolations.push({ producer: e.producer, sn: e.sn, consumer: e.consumer, queue: e.queue, after: highest, deliveryCount: e.deliveryCount });
      }
      if (e.sn > highest) highestFirst.set(e.producer, e.sn);
    }
  }

  const lost: MessageRef[] = [];
  let accepted = 0;
  let notAccepted = 0;
  let unsettled = 0;
  let possiblyResent = 0;
  for (const [k, entry] of sent) {
    if (entry.possiblyResent) possiblyResent++;
    if (entry.outcome === 'accepted') {
      accepted++;
      if (!received.has(k)) {
        const [producer, sn] = k.split('\u0000') as [string, string];
        lost.push({ producer, sn: Number(sn) });
      }
    } else if (entry.outcome === undefined || entry.outcome === 'failed') unsettled++;
    else notAccepted++;
  }
  lost.sort((a, b) => (a.producer < b.producer ? -1 : a.producer > b.producer ? 1 : a.sn - b.sn));

  const problems: string[] = [];
  if (lost.length > 0) problems.push(`${lost.length} message(s) settled as accepted were never received (first: ${describe(lost[0] as MessageRef)})`);
  if (phantoms.length > 0) problems.push(`${phantoms.length} receipt(s) of messages never sent to that queue (first: ${describe(phantoms[0] as Phantom)}, ${(phantoms[0] as Phantom).reason})`);
  if (orderViolations.length > 0) {
    const first = orderViolations[0] as OrderViolation;
    problems.push(`${orderViolations.length} message(s) received out of order and not resent (first: ${describe(first)} after sn ${first.after})`);
  }
  return {
    ok: problems.length === 0,
    problems,
    counts: {
      sent: sent.size,
      accepted,
      notAccepted,
      unsettled,
      receipts,
      unique: received.size,
      duplicates,
      unmarkedRedeliveries,
      possiblyResent,
      lost: lost.length,
      phantoms: phantoms.length,
      orderViolations: orderViolations.length,
      orderViolationsRedelivered: orderViolations.filter((v) => v.deliveryCount > 0).length,
      producerDisconnects,
      consumerDisconnects,
    },
    lost: lost.slice(0, LISTED_MAX),
    phantoms: phantoms.slice(0, LISTED_MAX),
    orderViolations: orderViolations.slice(0, LISTED_MAX),
  };
}

function describe(ref: MessageRef): string {
  return `${ref.producer} sn ${ref.sn}`;
}

export interface QueueVerdict {
  readonly queue: string;
  readonly ok: boolean;
  readonly counts: VerdictCounts;
  readonly problems: readonly string[];
  readonly lost: readonly MessageRef[];
  readonly phantoms: readonly Phantom[];
  readonly orderViolations: readonly OrderViolation[];
}

/** check() per queue: each queue's sends, settlements and receipts, with every writer's
 * connection events (a producer's disconnect marks its unsettled sends on any queue). A receipt
 * of a message its producer sent to another queue is a phantom of the queue it arrived on. */
export function checkByQueue(events: readonly Stamped[]): QueueVerdict[] {
  const queues = new Set<string>();
  for (const e of events) if (e.kind === 'send' || e.kind === 'settle' || e.kind === 'receive') queues.add(e.queue);
  const sentTo = new Map<string, string>();
  for (const e of events) if (e.kind === 'send') sentTo.set(key(e.producer, e.sn), e.queue);
  return [...queues].sort().map((queue) => {
    // This queue's sends, settlements and receipts; every writer's connection events.
    const mine = events.filter((e) => (e.kind === 'send' || e.kind === 'settle' || e.kind === 'receive' ? e.queue === queue : true));
    const verdict = check(mine);
    const phantoms = verdict.phantoms.map((p) => (sentTo.has(key(p.producer, p.sn)) ? { ...p, reason: 'wrong-queue' as const } : p));
    return { queue, ok: verdict.ok, counts: verdict.counts, problems: verdict.problems, lost: verdict.lost, phantoms, orderViolations: verdict.orderViolations };
  });
}
