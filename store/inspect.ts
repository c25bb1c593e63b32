// What `qpid-store inspect` shows, as plain JSON-ready objects read from one consistent view of
// a store (a StoreScan). Formatting for humans lives in the tool. Answers to requests are pages,
// bounded in rows and bytes (src/core/paging.ts, issue 19), so that a broker answering for its
// live store never builds an unbounded answer; the tool pages through them.

import { PAGE_ROWS_DEFAULT, sortedBy, takePage } from '../src/core/paging.js';
import type { StoreRecord } from './record.js';
import type { QuarantinedMessage, RecoveryReport } from './recovery.js';
import type { Scannable } from './scan.js';
import type { StoreMeta } from './store.js';
import { verifyStoreYielding, type Violation, type VerifyOptions } from './verify.js';

export interface StoreSummary {
  readonly meta: StoreMeta;
  readonly logEntries: number;
  readonly messages: number;
  readonly queues: ReadonlyArray<{
    readonly name: string;
    readonly durable: boolean | null;
    readonly autoDelete: boolean | null;
    readonly exclusive: boolean | null;
    readonly alternateExchange: string | null;
    readonly arguments: Readonly<Record<string, unknown>>;
    readonly count: number;
    readonly bytes: number;
    readonly lastPosition: number;
    readonly problem?: string;
  }>;
  readonly exchanges: ReadonlyArray<{ readonly name: string; readonly type: string | null; readonly durable: boolean | null; readonly arguments: Readonly<Record<string, unknown>>; readonly problem?: string }>;
  readonly bindings: ReadonlyArray<{ readonly exchange: string; readonly queue: string; readonly key: string; readonly arguments: Readonly<Record<string, unknown>>; readonly problem?: string }>;
  /** The broker's last recovery report (what it recovered, dropped and lost), or null. */
  readonly recovery: RecoveryReport | { readonly problem: string } | null;
  /** Messages in quarantine (at most QUARANTINE_SHOWN_MAX of quarantinedCount). */
  readonly quarantine: readonly QuarantinedMessage[];
  readonly quarantinedCount: number;
}

export const QUARANTINE_SHOWN_MAX = 100;

export function inspectSummary(target: Scannable): StoreSummary {
  const scan = target.scan();
  try {
    const sizes = scan.sizes();
    const quarantine = [...scan.quarantine()];
    return {
      recovery: scan.recovery(),
      quarantine: quarantine.slice(0, QUARANTINE_SHOWN_MAX),
      quarantinedCount: quarantine.length,
      meta: scan.meta(),
      logEntries: sizes.logEntries,
      messages: sizes.messages,
      queues: [...scan.queues()].map((q) => ({
        name: q.name,
        durable: q.declare?.durable ?? null,
        autoDelete: q.declare?.autoDelete ?? null,
        exclusive: q.declare?.exclusive ?? null,
        alternateExchange: q.declare?.alternateExchange ?? null,
        arguments: q.declare?.arguments ?? {},
        count: q.count,
        bytes: q.bytes,
        lastPosition: q.lastPosition,
        ...(q.problem ? { problem: q.problem } : {}),
      })),
      exchanges: [...scan.exchanges()].map((e) => ({
        name: e.name,
        type: e.declare?.type ?? null,
        durable: e.declare?.durable ?? null,
        arguments: e.declare?.arguments ?? {},
        ...(e.problem ? { problem: e.problem } : {}),
      })),
      bindings: [...scan.bindings()].map((b) => ({
        exchange: b.exchange,
        queue: b.queue,
        key: b.key,
        arguments: b.bind?.arguments ?? {},
        ...(b.problem ? { problem: b.problem } : {}),
      })),
    };
  } finally {
    scan.close();
  }
}

/** Printable preview of message bytes: ASCII as is, anything else as '.'. */
export function bodyPreview(body: Uint8Array, maxBytes = 48): string {
  let out = '';
  const n = Math.min(body.byteLength, maxBytes);
  for (let i = 0; i < n; i++) {
    const c = body[i]!;
    out += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  }
  return body.byteLength > maxBytes ? `${out}...` : out;
}

export interface MessageListing {
  readonly queue: string;
  readonly position: number;
  readonly messageId: number;
  readonly size: number;
  readonly persistent: boolean;
  readonly expiresAtMs: number | null;
  readonly deliveryCount: number;
  readonly preview: string;
  /** The CRC the store keeps of the body (qpid-store diff compares stores by id and CRC). */
  readonly bodyCrc: number | null;
  readonly problem?: string;
}

export function listMessages(target: Scannable, queue: string, options: { limit?: number; afterPosition?: number } = {}): MessageListing[] {
  return pageMessages(target, queue, { limit: options.limit ?? Number.POSITIVE_INFINITY, after: options.afterPosition ?? 0, budgetBytes: Number.POSITIVE_INFINITY }).messages;
}

/** One page of a queue's messages after `after` (a position); `next` is the last position shown
 * when more follow. */
export function pageMessages(target: Scannable, queue: string, request: { limit: number; after: number; budgetBytes?: number }): { messages: MessageListing[]; next: number | null } {
  const scan = target.scan();
  try {
    function* rows(): Generator<MessageListing> {
      for (const e of scan.entries(queue, request.after)) {
        let body: Uint8Array | undefined;
        let bodyProblem: string | undefined;
        try {
          body = e.problem ? undefined : scan.body(e.messageId);
        } catch (err) {
          bodyProblem = (err as Error).message;
        }
        const crc = e.problem ? null : (scan.message(e.messageId)?.bodyCrc ?? null);
        yield {
        queue: e.queue,
        position: e.position,
        messageId: e.messageId,
        size: e.size,
        persistent: e.persistent,
        expiresAtMs: e.expiresAtMs,
        deliveryCount: e.deliveryCount,
        preview: body ? bodyPreview(body) : '',
        bodyCrc: crc,
        ...(e.problem ? { problem: e.problem } : bodyProblem ? { problem: bodyProblem } : body ? {} : { problem: `message ${e.messageId} is missing` }),
        };
      }
    }
    const page = takePage(rows(), (m) => m.position, request);
    return { messages: page.items, next: page.next };
  } finally {
    scan.close();
  }
}

export interface LogListing {
  readonly lsn: number;
  readonly bytes: number;
  readonly kind: string;
  /** The record, with an enqueue's body replaced by its size and a preview. */
  readonly record?: Readonly<Record<string, unknown>>;
  readonly problem?: string;
}

function describeRecord(r: StoreRecord): Record<string, unknown> {
  if (r.kind !== 'enqueue') return { ...r };
  const { body, ...rest } = r;
  return { ...rest, bodyBytes: body.byteLength, preview: bodyPreview(body) };
}

export function listLog(target: Scannable, options: { from?: number; limit?: number } = {}): LogListing[] {
  return pageLog(target, { from: options.from ?? 1, limit: options.limit ?? Number.POSITIVE_INFINITY, budgetBytes: Number.POSITIVE_INFINITY }).entries;
}

/** One page of log entries from `from`; `next` is the LSN to ask from for the rest. */
export function pageLog(target: Scannable, request: { from: number; limit: number; budgetBytes?: number }): { entries: LogListing[]; next: number | null } {
  const scan = target.scan();
  try {
    function* rows(): Generator<LogListing> {
      for (const e of scan.log(request.from)) {
        yield e.record
          ? { lsn: e.lsn, bytes: e.bytes, kind: e.record.kind, record: describeRecord(e.record) }
          : { lsn: e.lsn, bytes: e.bytes, kind: 'garbled', problem: e.problem ?? 'does not decode' };
      }
    }
    const page = takePage(rows(), (e) => e.lsn, { limit: request.limit, ...(request.budgetBytes === undefined ? {} : { budgetBytes: request.budgetBytes }) });
    return { entries: page.items, next: page.next === null ? null : page.next + 1 };
  } finally {
    scan.close();
  }
}

// --- one request, one answer: what `qpid-store` asks of a store, wherever the store is open ---
// The tool answers a request itself when no process holds the store, and sends the same
// request to the broker that holds it otherwise (management `store-inspect`): a second process
// must never open a live LMDB environment (store/README.md, "Reading a live store").

export type SummaryList = 'queues' | 'exchanges' | 'bindings';

export type InspectRequest =
  /** The store's identity and sizes, and the first `limit` rows of each list. */
  | { readonly view: 'summary'; readonly limit?: number }
  /** The rest of a list, after the cursor the summary (or the previous page) gave. */
  | { readonly view: SummaryList; readonly after?: string; readonly limit: number }
  | { readonly view: 'queue'; readonly queue: string }
  | { readonly view: 'messages'; readonly queue: string; readonly limit: number; readonly after: number }
  | { readonly view: 'log'; readonly from?: number; readonly limit: number }
  | { readonly view: 'verify' };

/** Where each of the summary's lists goes on (null: it is complete). */
export interface SummaryCursors {
  readonly queuesNext: string | null;
  readonly exchangesNext: string | null;
  readonly bindingsNext: string | null;
}

export type InspectAnswer =
  | ({ readonly view: 'summary' } & StoreSummary & SummaryCursors)
  | { readonly view: SummaryList; readonly items: StoreSummary[SummaryList][number][]; readonly next: string | null }
  | { readonly view: 'queue'; readonly queue: StoreSummary['queues'][number] }
  | { readonly view: 'messages'; readonly queue: string; readonly count: number; readonly bytes: number; readonly messages: MessageListing[]; readonly next: number | null }
  | { readonly view: 'log'; readonly from: number; readonly entries: LogListing[]; readonly next: number | null }
  /** At most VIOLATIONS_SHOWN_MAX violations, of violationCount. */
  | { readonly view: 'verify'; readonly ok: boolean; readonly violations: Violation[]; readonly violationCount: number };

/** A verify answer lists this many violations at most (a wrecked store can have millions). */
export const VIOLATIONS_SHOWN_MAX = 1000;

const summaryKeys: { readonly [L in SummaryList]: (row: StoreSummary[L][number]) => string } = {
  queues: (q) => q.name,
  exchanges: (e) => e.name,
  bindings: (b) => JSON.stringify([b.exchange, b.queue, b.key]),
};

function summaryPage<L extends SummaryList>(summary: StoreSummary, list: L, after: string | undefined, limit: number): { items: StoreSummary[L][number][]; next: string | null } {
  const key = summaryKeys[list] as (row: StoreSummary[L][number]) => string;
  const rows = summary[list] as ReadonlyArray<StoreSummary[L][number]>;
  return takePage(sortedBy(rows, key), key, { after, limit });
}

/** Thrown when a request names a queue the store does not hold. */
export class NoSuchQueueError extends Error {
  constructor(queue: string, where: string) {
    super(`no queue ${JSON.stringify(queue)} in ${where}`);
    this.name = 'NoSuchQueueError';
  }
}

/** Answers a request. A verify gives the event loop a turn every `verify.progressEvery` rows
 * (a broker answering for its live store keeps serving meanwhile). */
export async function answerInspect(target: Scannable, request: InspectRequest, options: { where: string; verify?: VerifyOptions }): Promise<InspectAnswer> {
  switch (request.view) {
    case 'summary': {
      const summary = inspectSummary(target);
      const limit = request.limit ?? PAGE_ROWS_DEFAULT;
      const queues = summaryPage(summary, 'queues', undefined, limit);
      const exchanges = summaryPage(summary, 'exchanges', undefined, limit);
      const bindings = summaryPage(summary, 'bindings', undefined, limit);
      return {
        view: 'summary',
        ...summary,
        queues: queues.items,
        exchanges: exchanges.items,
        bindings: bindings.items,
        queuesNext: queues.next,
        exchangesNext: exchanges.next,
        bindingsNext: bindings.next,
      };
    }
    case 'queues':
    case 'exchanges':
    case 'bindings': {
      const page = summaryPage(inspectSummary(target), request.view, request.after, request.limit);
      return { view: request.view, items: page.items, next: page.next } as InspectAnswer;
    }
    case 'queue':
    case 'messages': {
      const queue = inspectSummary(target).queues.find((q) => q.name === request.queue);
      if (!queue) throw new NoSuchQueueError(request.queue, options.where);
      if (request.view === 'queue') return { view: 'queue', queue };
      const { messages, next } = pageMessages(target, request.queue, { limit: request.limit, after: request.after });
      return { view: 'messages', queue: request.queue, count: queue.count, bytes: queue.bytes, messages, next };
    }
    case 'log': {
      let from = request.from;
      if (from === undefined) {
        const scan = target.scan();
        try {
          from = scan.meta().firstLsn;
        } finally {
          scan.close();
        }
      }
      const { entries, next } = pageLog(target, { from, limit: request.limit });
      return { view: 'log', from, entries, next };
    }
    case 'verify': {
      const violations = await verifyStoreYielding(target, options.verify);
      return { view: 'verify', ok: violations.length === 0, violations: violations.slice(0, VIOLATIONS_SHOWN_MAX), violationCount: violations.length };
    }
  }
}
