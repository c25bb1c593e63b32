#!/usr/bin/env node
// qpid-store: look inside a broker's data dir (DESIGN.md §2). A store no process holds is opened
// read-only; a store a broker holds is read by that broker, asked over management
// (`store-inspect`), because a second process opening a live LMDB environment can corrupt it.
// Either way every answer comes from one read transaction. Thin: the work is store/inspect.ts
// and store/verify.ts.
//
//   qpid-store inspect --data-dir D [--json]
//   qpid-store inspect --data-dir D --queue Q [--messages [--limit N] [--after POSITION]] [--json]
//   qpid-store inspect --data-dir D --log [--from LSN] [--limit N] [--json]
//   qpid-store verify --data-dir D [--json]
//
// Exit status: 0 done (verify: the store is sound), 1 failure (no store, a violation, a store
// error), 2 bad usage. Progress of long runs goes to stderr, none with --json.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  answerInspect,
  isStoreError,
  liveLockHolder,
  lockDataDir,
  NoSuchQueueError,
  silentLogger,
  type DataDirLock,
  openLmdbStore,
  type InspectAnswer,
  type InspectRequest,
  type LmdbStore,
  type LogListing,
  type MessageListing,
  type StoreSummary,
  type SummaryList,
} from '../store/index.js';
import { PAGE_ROWS_MAX } from '../src/core/paging.js';
import { ManagementClient, ManagementError } from '../src/management/client.js';
import { ENDPOINT_FILE, readEndpoint } from '../src/management/endpoint.js';
import { intOption, parseOptions, requiredString, runMain, stringOption, UsageError, type OptionValues } from './lib/args.js';

const TOOL = 'qpid-store';

const USAGE = `usage:
  qpid-store inspect --data-dir D [--json]
  qpid-store inspect --data-dir D --queue Q [--messages [--limit N] [--after POSITION]] [--json]
  qpid-store inspect --data-dir D --log [--from LSN] [--limit N] [--json]
  qpid-store verify --data-dir D [--json]`;

const COMMON = {
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const INSPECT = {
  ...COMMON,
  queue: { type: 'string' },
  messages: { type: 'boolean' },
  log: { type: 'boolean' },
  from: { type: 'string' },
  after: { type: 'string' },
  limit: { type: 'string' },
} as const;

/** Rows between progress lines of verify (QPID_STORE_PROGRESS_EVERY overrides, for tests). */
const PROGRESS_EVERY = Number(process.env['QPID_STORE_PROGRESS_EVERY'] ?? 100_000);

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

function mib(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function n(x: number): string {
  return x.toLocaleString('en-US');
}

/** Left-aligned columns, two spaces apart. */
function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)];
}

function args(a: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(a);
  return keys.length === 0 ? '' : keys.map((k) => `${k}=${JSON.stringify(a[k])}`).join(' ');
}

class ToolFailure extends Error {}

function printSummary(dataDir: string, s: StoreSummary): void {
  const m = s.meta;
  out(`store          ${join(dataDir, 'store')}`);
  out(`store id       ${m.storeId}`);
  out(`format         ${m.formatVersion}`);
  out(`epoch          ${m.epoch}`);
  out(`last role      ${m.lastRole}${m.haState ? ` (${m.haState})` : ''}`);
  out(`LSN range      ${m.firstLsn}..${m.lastLsn}${m.firstLsn > m.lastLsn ? ' (log empty)' : ''}`);
  out(`log            ${n(s.logEntries)} entries, ${mib(m.logBytes)}`);
  out(`messages       ${n(s.messages)} stored, last id ${m.lastMessageId}`);
  if (m.snapshotIncomplete) out('snapshot       INCOMPLETE (a backup crashed while resyncing; it must be wiped)');
  out();
  out(`queues (${s.queues.length})`);
  for (const line of table(
    ['name', 'messages', 'bytes', 'last position', 'durable', 'arguments'],
    s.queues.map((q) => [q.name, n(q.count), n(q.bytes), n(q.lastPosition), q.durable === null ? '?' : q.durable ? 'yes' : 'no', q.problem ? `GARBLED: ${q.problem}` : args(q.arguments)]),
  )) {
    out(`  ${line}`);
  }
  out();
  out(`exchanges (${s.exchanges.length})`);
  for (const line of table(
    ['name', 'type', 'durable', 'arguments'],
    s.exchanges.map((e) => [e.name, e.type ?? '?', e.durable === null ? '?' : e.durable ? 'yes' : 'no', e.problem ? `GARBLED: ${e.problem}` : args(e.arguments)]),
  )) {
    out(`  ${line}`);
  }
  out();
  out(`bindings (${s.bindings.length})`);
  for (const line of table(
    ['exchange', 'queue', 'key', 'arguments'],
    s.bindings.map((b) => [b.exchange === '' ? "''" : b.exchange, b.queue, b.key, b.problem ? `GARBLED: ${b.problem}` : args(b.arguments)]),
  )) {
    out(`  ${line}`);
  }
}

async function inspect(argv: readonly string[]): Promise<number> {
  const values = parseOptions(argv, INSPECT);
  if (values['help']) {
    out(USAGE);
    return 0;
  }
  const dataDir = requiredString(values, 'data-dir');
  const json = values['json'] === true;
  const queue = stringOption(values, 'queue');
  const wantMessages = values['messages'] === true;
  const wantLog = values['log'] === true;
  if (wantMessages && queue === undefined) throw new UsageError('--messages needs --queue');
  if (wantLog && (queue !== undefined || wantMessages)) throw new UsageError('--log cannot be combined with --queue or --messages');
  if (values['from'] !== undefined && !wantLog) throw new UsageError('--from needs --log');
  if (values['after'] !== undefined && !wantMessages) throw new UsageError('--after needs --messages');
  if (values['limit'] !== undefined && !wantLog && !wantMessages) throw new UsageError('--limit needs --messages or --log');
  const limit = intOption(values, 'limit', 100, 1);
  const request: InspectRequest = wantLog
    ? { view: 'log', limit, ...(values['from'] !== undefined ? { from: intOption(values, 'from', 1, 1) } : {}) }
    : wantMessages
      ? { view: 'messages', queue: queue!, limit, after: intOption(values, 'after', 0, 0) }
      : queue !== undefined
        ? { view: 'queue', queue }
        : { view: 'summary' };
  const answer = await withSource(dataDir, json, (ask) => collect(ask, request));
  switch (answer.view) {
    case 'log': {
      if (json) printJson({ dataDir, from: answer.from, entries: answer.entries });
      else {
        for (const e of answer.entries) {
          const detail = e.record ? JSON.stringify(Object.fromEntries(Object.entries(e.record).filter(([k]) => k !== 'kind'))) : `GARBLED: ${e.problem}`;
          out(`${String(e.lsn).padStart(10)}  ${e.kind.padEnd(16)}  ${detail}`);
        }
        if (answer.entries.length === 0) out(`(no log entries from LSN ${answer.from})`);
      }
      return answer.entries.some((e) => e.problem) ? 1 : 0;
    }
    case 'queue': {
      const q = answer.queue;
      if (json) printJson({ dataDir, queue: q });
      else for (const line of table(['name', 'messages', 'bytes', 'last position'], [[q.name, n(q.count), n(q.bytes), n(q.lastPosition)]])) out(line);
      return 0;
    }
    case 'messages': {
      const { messages } = answer;
      if (json) printJson({ dataDir, queue: answer.queue, count: answer.count, messages });
      else {
        out(`queue ${answer.queue}: ${n(answer.count)} messages, ${n(answer.bytes)} bytes${messages.length < answer.count ? ` (showing ${messages.length})` : ''}`);
        for (const line of table(
          ['position', 'message id', 'size', 'persistent', 'delivery count', 'expires', 'body'],
          messages.map((m) => [String(m.position), String(m.messageId), n(m.size), m.persistent ? 'yes' : 'no', String(m.deliveryCount), m.expiresAtMs === null ? '-' : new Date(m.expiresAtMs).toISOString(), m.problem ? `PROBLEM: ${m.problem}` : m.preview]),
        )) {
          out(`  ${line}`);
        }
      }
      return messages.some((m) => m.problem) ? 1 : 0;
    }
    case 'summary': {
      // collect() has followed every cursor: what is printed is complete.
      const { view: _view, queuesNext: _queues, exchangesNext: _exchanges, bindingsNext: _bindings, ...summary } = answer;
      if (json) printJson({ dataDir, ...summary });
      else printSummary(dataDir, summary);
      return 0;
    }
    default:
      throw new Error(`unexpected answer ${answer.view}`);
  }
}

async function verify(argv: readonly string[]): Promise<number> {
  const values: OptionValues = parseOptions(argv, COMMON);
  if (values['help']) {
    out(USAGE);
    return 0;
  }
  const dataDir = requiredString(values, 'data-dir');
  const json = values['json'] === true;
  const answer = await withSource(dataDir, json, (ask) => ask({ view: 'verify' }));
  if (answer.view !== 'verify') throw new Error(`unexpected answer ${answer.view}`);
  const found = answer.violations;
  // The answer lists at most VIOLATIONS_SHOWN_MAX of them; the count is of all.
  const count = answer.violationCount ?? found.length;
  if (json) printJson({ dataDir, ok: count === 0, violations: found, ...(count > found.length ? { violationCount: count } : {}) });
  else if (count === 0) out(`store at ${join(dataDir, 'store')} is sound`);
  else {
    out(`store at ${join(dataDir, 'store')} has ${count} violation${count === 1 ? '' : 's'}:`);
    for (const v of found) out(`  ${v.code}: ${v.message}`);
    if (count > found.length) out(`  ... and ${count - found.length} more`);
  }
  return count === 0 ? 0 : 1;
}

type Ask = (request: InspectRequest) => Promise<InspectAnswer>;

/** Runs `work` with a way to ask the store questions: the store itself when no process holds
 * it, and otherwise the broker that holds it (opening a live LMDB environment from a second
 * process can lose the writer's records or crash it: store/README.md, "Reading a live store").
 * One open, or one connection, serves every page the tool asks for. */
async function withSource<T>(dataDir: string, json: boolean, work: (ask: Ask) => Promise<T>): Promise<T> {
  const holder = liveLockHolder(dataDir);
  if (holder !== null) return withBroker(dataDir, holder, json, work);
  // Hold the data dir's lock while reading, so that a broker starting meanwhile fails with
  // STORE_LOCKED (naming our pid) instead of writing beside us. A data dir we may not write
  // (a copy on read-only media) is read without it: no broker can start there either.
  let lock: DataDirLock | null = null;
  try {
    lock = lockDataDir(dataDir, silentLogger);
  } catch (err) {
    // A broker took the lock since we looked (or its holder just exited): start over.
    if (isStoreError(err, 'STORE_LOCKED')) return withSource(dataDir, json, work);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !existsSync(dataDir)) throw new ToolFailure(`STORE_NOT_FOUND: no store at ${join(dataDir, 'store')}`);
    if (code !== 'EACCES' && code !== 'EROFS' && code !== 'EPERM') throw err;
  }
  try {
    return await withLocalStore(dataDir, json, work);
  } finally {
    lock?.release();
  }
}

async function withLocalStore<T>(dataDir: string, json: boolean, work: (ask: Ask) => Promise<T>): Promise<T> {
  const where = join(dataDir, 'store');
  let store: LmdbStore;
  try {
    store = openLmdbStore({ dataDir, readOnly: true });
  } catch (err) {
    // A store that cannot be opened because it is corrupt or newer is what verify reports.
    if (isStoreError(err, 'STORE_CORRUPT') || isStoreError(err, 'STORE_NEWER_FORMAT')) {
      const failure = err;
      return work(async (request) => {
        if (request.view === 'verify') return { view: 'verify', ok: false, violations: [{ code: 'open-failed', message: `${failure.code}: ${failure.message}` }], violationCount: 1 };
        throw new ToolFailure(`${failure.code}: ${failure.message}`);
      });
    }
    if (isStoreError(err)) throw new ToolFailure(`${err.code}: ${err.message}`);
    throw err;
  }
  const started = Date.now();
  try {
    return await work(async (request) => {
      try {
        return await answerInspect(store, request, {
          where,
          verify: {
            progressEvery: PROGRESS_EVERY,
            onProgress: json ? undefined : (p) => process.stderr.write(`${TOOL}: verify ${p.phase}: ${n(p.done)} of ${n(p.total)} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`),
          },
        });
      } catch (err) {
        if (err instanceof NoSuchQueueError) throw new ToolFailure(err.message);
        throw err;
      }
    });
  } finally {
    await store.close();
  }
}

async function withBroker<T>(dataDir: string, holder: number, json: boolean, work: (ask: Ask) => Promise<T>): Promise<T> {
  const storeDir = join(dataDir, 'store');
  const endpoint = readEndpoint(dataDir);
  if (!endpoint || endpoint.pid !== holder) {
    throw new ToolFailure(
      `STORE_IN_USE: store at ${storeDir} is open for writing by pid ${holder}, which has not published a broker endpoint (${join(dataDir, ENDPOINT_FILE)}); ` +
        'qpid-store reads a live store only through the broker that holds it (a second process opening it can corrupt it): wait until that broker listens, or stop the process',
    );
  }
  if (!json) process.stderr.write(`${TOOL}: the store is open in broker ${endpoint.name} (pid ${holder}); asking it at ${endpoint.host}:${endpoint.port}\n`);
  const failed = (err: unknown): ToolFailure => {
    if (err instanceof ManagementError && err.code === 'NOT_FOUND') return new ToolFailure(err.message);
    return new ToolFailure(`cannot ask broker ${endpoint.name} (pid ${holder}, ${endpoint.host}:${endpoint.port}) about its store: ${(err as Error).message}`);
  };
  let client: ManagementClient;
  try {
    client = await ManagementClient.connect({ transport: 'tcp', host: endpoint.host, port: endpoint.port }, { admin: true, timeoutMs: 60_000 });
  } catch (err) {
    throw failed(err);
  }
  try {
    return await work((request) => client.request<InspectAnswer>('store-inspect', { ...request }).catch((err: unknown) => Promise.reject(failed(err))));
  } finally {
    client.close();
  }
}

/** Asks for `request` and, page by page, for whatever of it did not fit in one answer (every
 * answer is bounded: src/core/paging.ts), so that the tool prints everything it was asked for. */
async function collect(ask: Ask, request: InspectRequest): Promise<InspectAnswer> {
  switch (request.view) {
    case 'summary': {
      const first = await ask(request);
      if (first.view !== 'summary') return first;
      const rest = async <L extends SummaryList>(list: L, head: readonly unknown[], cursor: string | null): Promise<unknown[]> => {
        const items = [...head];
        for (let after = cursor; after !== null; ) {
          const page = await ask({ view: list, after, limit: PAGE_ROWS_MAX });
          if (page.view !== list) throw new Error(`unexpected answer ${page.view}`);
          items.push(...page.items);
          after = page.next;
        }
        return items;
      };
      return {
        ...first,
        queues: (await rest('queues', first.queues, first.queuesNext)) as typeof first.queues,
        exchanges: (await rest('exchanges', first.exchanges, first.exchangesNext)) as typeof first.exchanges,
        bindings: (await rest('bindings', first.bindings, first.bindingsNext)) as typeof first.bindings,
        queuesNext: null,
        exchangesNext: null,
        bindingsNext: null,
      };
    }
    case 'messages': {
      let answer: Extract<InspectAnswer, { view: 'messages' }> | null = null;
      const messages: MessageListing[] = [];
      for (let after: number | null = request.after; after !== null && messages.length < request.limit; ) {
        const page = await ask({ ...request, after, limit: Math.min(PAGE_ROWS_MAX, request.limit - messages.length) });
        if (page.view !== 'messages') throw new Error(`unexpected answer ${page.view}`);
        answer = page;
        messages.push(...page.messages);
        after = page.next;
      }
      return { ...(answer as Extract<InspectAnswer, { view: 'messages' }>), messages, next: null };
    }
    case 'log': {
      let answer: Extract<InspectAnswer, { view: 'log' }> | null = null;
      const entries: LogListing[] = [];
      for (let from: number | null | undefined = request.from; from !== null && entries.length < request.limit; ) {
        const page = await ask({ view: 'log', ...(from === undefined ? {} : { from }), limit: Math.min(PAGE_ROWS_MAX, request.limit - entries.length) });
        if (page.view !== 'log') throw new Error(`unexpected answer ${page.view}`);
        answer ??= page;
        entries.push(...page.entries);
        from = page.next;
      }
      return { ...(answer as Extract<InspectAnswer, { view: 'log' }>), entries, next: null };
    }
    default:
      return ask(request);
  }
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  try {
    switch (command) {
      case 'inspect':
        return await inspect(rest);
      case 'verify':
        return await verify(rest);
      case '--help':
      case '-h':
      case 'help':
        out(USAGE);
        return 0;
      case undefined:
        throw new UsageError(`a command is required (inspect or verify)\n${USAGE}`);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)} (inspect or verify)\n${USAGE}`);
    }
  } catch (err) {
    if (err instanceof ToolFailure) {
      process.stderr.write(`${TOOL}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

runMain(TOOL, main);
