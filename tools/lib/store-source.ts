// Where `qpid-store` gets its answers (DESIGN.md §2, store/README.md "Reading a live store"): a
// store no process holds is opened read-only under the data dir's lock; a store a broker holds is
// read by that broker, asked over management (`store-inspect`), because a second process opening
// a live LMDB environment can corrupt it; `-b ADDR` asks a broker directly. A verify of a stopped
// store runs in a child process (store/verify-process.ts): a page damaged badly enough to make
// LMDB abort becomes a report, not a dead tool.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  answerInspect,
  isStoreError,
  liveLockHolder,
  lockDataDir,
  NoSuchQueueError,
  openLmdbStore,
  silentLogger,
  verifyInChild,
  type DataDirLock,
  type InspectAnswer,
  type InspectRequest,
  type LmdbStore,
  type LogListing,
  type MessageListing,
  type SummaryList,
  VIOLATIONS_SHOWN_MAX,
} from '../../store/index.js';
import { PAGE_ROWS_MAX } from '../../src/core/paging.js';
import { parseQpidUrl } from '../../src/core/qpid-url.js';
import { ManagementClient, ManagementError } from '../../src/management/client.js';
import { ENDPOINT_FILE, readEndpoint } from '../../src/management/endpoint.js';

const TOOL = 'qpid-store';

/** Rows between progress lines of verify (QPID_STORE_PROGRESS_EVERY overrides, for tests). */
const PROGRESS_EVERY = Number(process.env['QPID_STORE_PROGRESS_EVERY'] ?? 100_000);

/** A failure the tool reports on one line and exits 1 for. */
export class ToolFailure extends Error {}

function n(x: number): string {
  return x.toLocaleString('en-US');
}

export type Ask = (request: InspectRequest) => Promise<InspectAnswer>;

/** Runs `work` against the broker at `address` (host:port or a Qpid URL). */
export async function withAddress<T>(address: string, json: boolean, work: (ask: Ask) => Promise<T>): Promise<T> {
  let target;
  try {
    target = parseQpidUrl(address).addresses[0];
  } catch (err) {
    throw new ToolFailure(`-b ${address}: ${(err as Error).message}`);
  }
  if (!target) throw new ToolFailure(`-b ${address}: no address`);
  if (!json) process.stderr.write(`${TOOL}: asking the broker at ${target.host}:${target.port}\n`);
  let client: ManagementClient;
  try {
    client = await ManagementClient.connect(target, { admin: true, timeoutMs: 60_000 });
  } catch (err) {
    throw new ToolFailure(`cannot reach the broker at ${address}: ${(err as Error).message}`);
  }
  try {
    return await work((request) => client.request<InspectAnswer>('store-inspect', { ...request }).catch((err: unknown) => Promise.reject(new ToolFailure(`broker at ${address}: ${(err as Error).message}`))));
  } finally {
    client.close();
  }
}

/** Runs `work` with a way to ask the store questions: the store itself when no process holds
 * it, and otherwise the broker that holds it (opening a live LMDB environment from a second
 * process can lose the writer's records or crash it: store/README.md, "Reading a live store").
 * One open, or one connection, serves every page the tool asks for. */
export async function withSource<T>(dataDir: string, json: boolean, work: (ask: Ask) => Promise<T>, options: { readonly verifyOnly?: boolean } = {}): Promise<T> {
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
    if (isStoreError(err, 'STORE_LOCKED')) return withSource(dataDir, json, work, options);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !existsSync(dataDir)) throw new ToolFailure(`STORE_NOT_FOUND: no store at ${join(dataDir, 'store')}`);
    if (code !== 'EACCES' && code !== 'EROFS' && code !== 'EPERM') throw err;
  }
  try {
    return await withLocalStore(dataDir, json, work, lock !== null, options.verifyOnly ?? false);
  } finally {
    lock?.release();
  }
}

async function withLocalStore<T>(dataDir: string, json: boolean, work: (ask: Ask) => Promise<T>, locked: boolean, verifyOnly: boolean): Promise<T> {
  const where = join(dataDir, 'store');
  const started = Date.now();
  const childVerify = async (): Promise<InspectAnswer> => {
    const violations = await verifyInChild(dataDir, 'full', {
      progressEvery: PROGRESS_EVERY,
      onProgress: json ? undefined : (p) => process.stderr.write(`${TOOL}: verify ${p.phase}: ${n(p.done)} of ${n(p.total)} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`),
    }).catch((err: unknown) => Promise.reject(isStoreError(err) ? new ToolFailure(`${err.code}: ${err.message}`) : err));
    return { view: 'verify', ok: violations.length === 0, violations: violations.slice(0, VIOLATIONS_SHOWN_MAX), violationCount: violations.length };
  };
  // A verify of a stopped store never opens it in this process: the child may die on a page
  // that would kill us.
  if (locked && verifyOnly) {
    return work(async (request) => {
      if (request.view !== 'verify') throw new Error(`a verify-only source was asked for ${request.view}`);
      return childVerify();
    });
  }
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
export async function collect(ask: Ask, request: InspectRequest): Promise<InspectAnswer> {
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
