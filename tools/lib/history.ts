// The history format (README.md, "For crash-suite authors"): one JSON object per line, one file
// per writer (a client process, a test harness), appended with synchronous writes so that a line
// on disk means the event happened. A writer's lines are in the order its events happened; lines
// of different writers are only ordered by their wall-clock stamps (`atMs`), which the checker
// never relies on. qpid-send and qpid-receive write it with --history FILE, the crash suite's
// clients too; qpid-check-history and the crash suite read it (history-checker.ts).
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';

export type SendOutcomeKind = 'accepted' | 'rejected' | 'released' | 'modified';

/** Every kind of event a history holds. `writer` names the process that wrote it; `seq` is its
 * position in that writer's file (assigned on reading). */
export type HistoryEvent =
  /** The producer handed message `sn` to its client for the first time. */
  | { readonly kind: 'send'; readonly producer: string; readonly queue: string; readonly sn: number }
  /** The broker settled `sn` to its producer with `outcome`; 'failed': the client gave up on it. */
  | { readonly kind: 'settle'; readonly producer: string; readonly queue: string; readonly sn: number; readonly outcome: SendOutcomeKind | 'failed' }
  /** A client's connection was lost: a producer resends everything sent and not yet settled. */
  | { readonly kind: 'disconnect'; readonly client: string; readonly address: string; readonly reason: string }
  | { readonly kind: 'connect'; readonly client: string; readonly address: string; readonly reconnect: boolean }
  /** The consumer took delivery of a message (before accepting it). */
  | { readonly kind: 'receive'; readonly consumer: string; readonly queue: string; readonly producer: string; readonly sn: number; readonly deliveryCount: number }
  /** A client finished: a producer after its last settlement, a consumer when told to stop. */
  | { readonly kind: 'done'; readonly client: string; readonly detail?: Record<string, unknown> }
  /** The harness injected a fault or acted as the cluster manager. */
  | { readonly kind: 'fault'; readonly fault: string; readonly target: string; readonly detail?: Record<string, unknown> }
  | { readonly kind: 'note'; readonly text: string; readonly detail?: Record<string, unknown> };

export type Stamped<E extends HistoryEvent = HistoryEvent> = E & { readonly writer: string; readonly seq: number; readonly atMs: number };

const HISTORY_SUFFIX = '.history.jsonl';

export function historyPath(dir: string, writer: string): string {
  return join(dir, `${writer}${HISTORY_SUFFIX}`);
}

/** Appends one writer's events to `<dir>/<writer>.history.jsonl`. */
export class HistoryWriter {
  private readonly fd: number;
  private closed = false;

  /** Appends to `<dir>/<writer>.history.jsonl`, or to `path` when given (--history FILE). */
  constructor(
    dir: string,
    readonly writer: string,
    path: string = historyPath(dir, writer),
  ) {
    this.fd = openSync(path, 'a');
  }

  write(event: HistoryEvent): void {
    if (this.closed) return;
    // writeSync: the line is in the file (page cache) before the caller goes on to act on it;
    // the clients are never killed, so the page cache is durable enough.
    writeSync(this.fd, `${JSON.stringify({ atMs: Date.now(), ...event })}\n`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/** Parses one writer's file; a torn last line (a writer killed mid-write) is ignored. */
export function parseHistory(text: string, writer: string): Stamped[] {
  const events: Stamped[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] as string;
    if (line.trim() === '') continue;
    try {
      const parsed = JSON.parse(line) as HistoryEvent & { atMs: number };
      events.push({ ...parsed, writer, seq: events.length });
    } catch (err) {
      if (index === lines.length - 1) break;
      throw new Error(`${writer}: line ${index + 1} is not JSON: ${(err as Error).message}`);
    }
  }
  return events;
}

/** Every event of every writer in `dir`: each writer's in its own order, writers interleaved by
 * wall-clock time (for reading; the checker groups by writer again). */
export function readHistory(dir: string): Stamped[] {
  if (!existsSync(dir)) return [];
  const all: Stamped[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith(HISTORY_SUFFIX)) continue;
    const writer = name.slice(0, -HISTORY_SUFFIX.length);
    all.push(...parseHistory(readFileSync(join(dir, name), 'utf8'), writer));
  }
  return all.sort((a, b) => a.atMs - b.atMs || (a.writer === b.writer ? a.seq - b.seq : a.writer < b.writer ? -1 : 1));
}

/** The writer a history file stands for: its name without `.history.jsonl` (or `.jsonl`). */
export function writerOfFile(path: string): string {
  const name = basename(path);
  return name.endsWith(HISTORY_SUFFIX) ? name.slice(0, -HISTORY_SUFFIX.length) : name.replace(/\.jsonl$/, '');
}

/** Every event of the given files (one writer each), interleaved by wall-clock time. Two files
 * with the same name stand for two writers: the second is named by its path. */
export function readHistoryFiles(paths: readonly string[]): Stamped[] {
  const all: Stamped[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    let writer = writerOfFile(path);
    if (seen.has(writer)) writer = path;
    seen.add(writer);
    all.push(...parseHistory(readFileSync(path, 'utf8'), writer));
  }
  return all.sort((a, b) => a.atMs - b.atMs || (a.writer === b.writer ? a.seq - b.seq : a.writer < b.writer ? -1 : 1));
}

/** Reads a growing file from where it was left: the harness follows the consumer's receipts. */
export class HistoryTail {
  private offset = 0;
  private partial = '';
  private seq = 0;

  constructor(
    private readonly path: string,
    private readonly writer: string,
  ) {}

  /** Events appended since the last call. */
  poll(): Stamped[] {
    if (!existsSync(this.path)) return [];
    const fd = openSync(this.path, 'r');
    try {
      const chunks: Buffer[] = [];
      const buffer = Buffer.alloc(1 << 20);
      for (;;) {
        const read = readSync(fd, buffer, 0, buffer.length, this.offset);
        if (read === 0) break;
        chunks.push(Buffer.from(buffer.subarray(0, read)));
        this.offset += read;
      }
      const text = this.partial + Buffer.concat(chunks).toString('utf8');
      const newline = text.lastIndexOf('\n');
      this.partial = text.slice(newline + 1);
      const complete = text.slice(0, newline + 1);
      const events = parseHistory(complete, this.writer).map((e) => ({ ...e, seq: this.seq + e.seq }));
      this.seq += events.length;
      return events;
    } finally {
      closeSync(fd);
    }
  }
}
