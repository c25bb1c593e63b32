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
//   qpid-store diff A|-b ADDR B|-b ADDR [--json]
//
// Exit status: 0 done (verify: the store is sound), 1 failure (no store, a violation, a store
// error), 2 bad usage. Progress of long runs goes to stderr, none with --json.

import { join } from 'node:path';
import { diffStores, type DiffQueue, type InspectAnswer, type InspectRequest, type StoreDiff, type StoreSummary, type StoreView } from '../store/index.js';
import { PAGE_ROWS_MAX } from '../src/core/paging.js';
import { intOption, parseOptions, requiredString, runMain, stringOption, UsageError, type OptionValues } from './lib/args.js';
import { collect, ToolFailure, withAddress, withSource, type Ask } from './lib/store-source.js';

const TOOL = 'qpid-store';

const USAGE = `usage:
  qpid-store inspect --data-dir D [--json]
  qpid-store inspect --data-dir D --queue Q [--messages [--limit N] [--after POSITION]] [--json]
  qpid-store inspect --data-dir D --log [--from LSN] [--limit N] [--json]
  qpid-store verify --data-dir D [--json]
  qpid-store diff A B [--json]        A and B: data dirs, or -b ADDR (a live broker) for either
                                      exit 0 when B equals A or is a prefix of it, 1 otherwise`;

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
  out(`epoch history  ${m.epochHistory.map((e) => `${e.epoch}@${e.firstLsn}`).join(' ') || '(none)'}`);
  const r = s.recovery;
  if (r && 'problem' in r) out(`last recovery  GARBLED: ${r.problem}`);
  else if (r) {
    out(`last recovery  ${new Date(r.atMs).toISOString()}: ${r.queues} queues, ${n(r.messages)} messages, ${mib(r.bytes)}, LSN ${r.firstLsn}..${r.lastLsn}, epoch ${r.epoch} (verify ${r.verify})`);
    for (const d of r.dropped) out(`  dropped      ${d.what}: ${d.reason}`);
    for (const l of r.lost) out(`  lost         queue ${l.queue} position ${l.position} message ${l.messageId}: ${l.reason}`);
    if (r.lostCount > r.lost.length) out(`  lost         ... and ${r.lostCount - r.lost.length} more`);
  }
  if (s.quarantinedCount > 0) {
    out(`quarantine     ${s.quarantinedCount} message(s) taken off their queues: they failed their checksums`);
    for (const qm of s.quarantine) out(`  queue ${qm.queue} position ${qm.position} message ${qm.messageId}: ${qm.problem}`);
  }
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
  const answer = await withSource(dataDir, json, (ask) => ask({ view: 'verify' }), { verifyOnly: true });
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

// --- diff -----------------------------------------------------------------------------------

/** Gathers what diff compares, page by page, from one source. */
async function storeView(source: string, ask: Ask): Promise<StoreView> {
  const summary = await collect(ask, { view: 'summary' });
  if (summary.view !== 'summary') throw new Error(`unexpected answer ${summary.view}`);
  const queues: DiffQueue[] = [];
  for (const q of summary.queues) {
    const messages: DiffQueue['messages'][number][] = [];
    for (let after: number | null = 0; after !== null; ) {
      const page: InspectAnswer = await ask({ view: 'messages', queue: q.name, limit: PAGE_ROWS_MAX, after });
      if (page.view !== 'messages') throw new Error(`unexpected answer ${page.view}`);
      for (const m of page.messages) messages.push({ position: m.position, messageId: m.messageId, bodyCrc: m.bodyCrc ?? null });
      after = page.next;
    }
    queues.push({ name: q.name, count: q.count, bytes: q.bytes, messages });
  }
  const m = summary.meta;
  return { source, storeId: m.storeId, epoch: m.epoch, epochHistory: m.epochHistory, firstLsn: m.firstLsn, lastLsn: m.lastLsn, undoFromLsn: m.undoFromLsn, queues };
}

/** `A B` where each is a data dir or `-b ADDR`. */
function diffSources(argv: readonly string[]): { sources: { kind: 'dir' | 'broker'; value: string }[]; json: boolean } {
  const sources: { kind: 'dir' | 'broker'; value: string }[] = [];
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') json = true;
    else if (arg === '-h' || arg === '--help') throw new UsageError(USAGE);
    else if (arg === '-b' || arg === '--broker') {
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`${arg} needs an address`);
      sources.push({ kind: 'broker', value });
    } else if (arg.startsWith('-')) throw new UsageError(`diff: unknown option ${arg}`);
    else sources.push({ kind: 'dir', value: arg });
  }
  if (sources.length !== 2) throw new UsageError(`diff needs two stores (data dirs, or -b ADDR), got ${sources.length}\n${USAGE}`);
  return { sources, json };
}

function printDiff(d: StoreDiff): void {
  const side = (name: string, v: StoreDiff['a']): string =>
    `${name} ${v.source}: store ${v.storeId}, epoch ${v.epoch}, LSN ${v.firstLsn}..${v.lastLsn}${v.undoFromLsn <= v.lastLsn ? ` (undo from ${v.undoFromLsn})` : ''}, history ${v.epochHistory.map((e) => `${e.epoch}@${e.firstLsn}`).join(' ') || '(none)'}`;
  out(side('A', d.a));
  out(side('B', d.b));
  out(`verdict: ${d.verdict === 'equal' ? 'B equals A' : d.verdict === 'prefix' ? 'B is a prefix of A' : 'B has diverged from A'}`);
  out(`logs agree through LSN ${d.agreedThroughLsn}${d.divergenceLsn === null ? '' : `; they part at LSN ${d.divergenceLsn}`}`);
  if (d.sameStoreId) out('(both are the same store: same store id)');
  for (const note of d.notes) out(`  ${note}`);
  for (const q of d.queues) {
    for (const m of q.mismatched) {
      out(`  queue ${q.queue} position ${m.position}: A has message ${m.a.messageId} crc ${m.a.bodyCrc}, B has message ${m.b.messageId} crc ${m.b.bodyCrc}`);
    }
  }
}

async function diff(argv: readonly string[]): Promise<number> {
  const { sources, json } = diffSources(argv);
  const view = (s: { kind: 'dir' | 'broker'; value: string }): Promise<StoreView> =>
    s.kind === 'broker' ? withAddress(s.value, json, (ask) => storeView(`-b ${s.value}`, ask)) : withSource(s.value, json, (ask) => storeView(s.value, ask));
  const a = await view(sources[0]!);
  const b = await view(sources[1]!);
  const result = diffStores(a, b);
  if (json) printJson(result);
  else printDiff(result);
  return result.verdict === 'diverged' ? 1 : 0;
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  try {
    switch (command) {
      case 'inspect':
        return await inspect(rest);
      case 'verify':
        return await verify(rest);
      case 'diff':
        return await diff(rest);
      case '--help':
      case '-h':
      case 'help':
        out(USAGE);
        return 0;
      case undefined:
        throw new UsageError(`a command is required (inspect, verify or diff)\n${USAGE}`);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)} (inspect, verify or diff)\n${USAGE}`);
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
