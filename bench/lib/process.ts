// Child processes for the harness: start a server and learn its port from its "listening" JSON
// line (the pino contract of qpidd and the relay), with a deadline; stop it with SIGTERM, then
// SIGKILL if it does not exit in time; run a process that prints one JSON object and parse it.
// A failure names the command and carries the tail of its stderr, so a broken run explains itself.
import { spawn } from 'node:child_process';
import { createWriteStream, rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const TAIL_LINES_MAX = 30;

/**
 * Every child the harness has started and not yet seen exit. When the harness process exits,
 * however it exits (a scenario throws, the user presses ^C, a test times out and kills it),
 * the children are killed with it: a broker left behind would hold its port and a core.
 */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Temporary directories (stores) to remove if the harness exits before its own clean-up. */
const tempDirs = new Set<string>();

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const running of liveChildren) running.kill('SIGKILL');
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

export function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  installExitHook();
}

/** Registers a directory to remove at exit; call again with `done` once removed normally. */
export function trackTempDir(dir: string, done = false): void {
  if (done) {
    tempDirs.delete(dir);
    return;
  }
  tempDirs.add(dir);
  installExitHook();
}

export class ProcessError extends Error {
  constructor(
    readonly code: 'START_TIMEOUT' | 'EXITED_EARLY' | 'SPAWN_FAILED' | 'NO_JSON' | 'RUN_TIMEOUT',
    message: string,
    readonly stderrTail: readonly string[],
  ) {
    super(stderrTail.length > 0 ? `${message}\n--- stderr (tail) ---\n${stderrTail.join('\n')}` : message);
    this.name = 'ProcessError';
  }
}

/** The last lines of a stream, kept for error reports. */
class Tail {
  readonly lines: string[] = [];
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > TAIL_LINES_MAX) this.lines.shift();
  }
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface RunningServer {
  readonly pid: number;
  readonly port: number;
  /** The whole "listening" event (qpidd adds httpPort, haState, ...). */
  readonly listening: Readonly<Record<string, unknown>>;
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<ExitStatus>;
  readonly stderrTail: readonly string[];
  /** SIGTERM, then SIGKILL after killAfterMs; resolves with the exit status. */
  stop(killAfterMs?: number): Promise<ExitStatus>;
  /** Sends a signal now (SIGKILL for a crash) without waiting; a no-op once exited. */
  kill(signal: NodeJS.Signals): void;
}

export interface StartServerOptions {
  /** Arguments to node (script first). */
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly readyTimeoutMs?: number;
  /** Called with every stdout line after the listening line (logs), if given. */
  readonly onLine?: (line: string) => void;
  /** Also append every stdout and stderr line to this file (for a post-mortem of a bad run). */
  readonly logFile?: string;
}

function exitPromise(child: ChildProcess): Promise<ExitStatus> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** Parses a pino-style line and returns it when it is the "listening" event with a port. */
export function listeningEvent(line: string): Readonly<Record<string, unknown>> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const event = JSON.parse(line) as { msg?: unknown; port?: unknown };
    if (event.msg === 'listening' && typeof event.port === 'number' && event.port > 0) return event;
  } catch {
    // Not JSON: a stray console line, ignored.
  }
  return undefined;
}

/** The port of a "listening" event line, if it is one. */
export function listeningPort(line: string): number | undefined {
  return listeningEvent(line)?.['port'] as number | undefined;
}

export function startServer(options: StartServerOptions): Promise<RunningServer> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  const child = spawn(process.execPath, [...options.args], {
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);
  const stderr = new Tail();
  const stdout = new Tail();
  const logStream = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    stderr.push(line);
    logStream?.write(`${line}\n`);
  });
  const exited = exitPromise(child);
  if (logStream) void exited.then(() => setTimeout(() => logStream.end(), 100));
  const what = `node ${options.args.join(' ')}`;

  return new Promise((resolve, reject) => {
    let ready = false;
    const fail = (error: ProcessError): void => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new ProcessError('START_TIMEOUT', `${what}: no "listening" line within ${readyTimeoutMs} ms`, [...stdout.lines, ...stderr.lines])),
      readyTimeoutMs,
    );
    child.once('error', (err) => fail(new ProcessError('SPAWN_FAILED', `${what}: ${err.message}`, stderr.lines)));
    void exited.then((status) => {
      // Give the stderr reader a moment to collect the last lines before reporting.
      setTimeout(
        () => fail(new ProcessError('EXITED_EARLY', `${what}: exited (code ${status.code}, signal ${status.signal}) before listening`, [...stdout.lines, ...stderr.lines])),
        50,
      );
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      logStream?.write(`${line}\n`);
      if (ready) {
        options.onLine?.(line);
        return;
      }
      stdout.push(line);
      const event = listeningEvent(line);
      if (event === undefined) return;
      ready = true;
      clearTimeout(timer);
      resolve({
        pid: child.pid as number,
        port: event['port'] as number,
        listening: event,
        exited,
        stderrTail: stderr.lines,
        kill(signal) {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        },
        async stop(killAfterMs = 10_000) {
          if (child.exitCode !== null || child.signalCode !== null) return exited;
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          const status = await exited;
          clearTimeout(killer);
          return status;
        },
      });
    });
  });
}

export interface JsonRun<T> {
  readonly value: T;
  readonly status: ExitStatus;
  readonly stderrTail: readonly string[];
}

/**
 * Runs `node args...` to completion and parses the last stdout line that is a JSON object.
 * The exit status is returned, not judged: the caller knows which statuses carry a result.
 */
export function runJsonProcess<T>(args: readonly string[], timeoutMs: number): Promise<JsonRun<T>> {
  const child = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  const stderr = new Tail();
  let lastJson: string | undefined;
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => stderr.push(line));
  const stdoutDone = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream })
      .on('line', (line) => {
        if (line.startsWith('{')) lastJson = line;
      })
      .on('close', resolve);
  });
  const what = `node ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new ProcessError('RUN_TIMEOUT', `${what}: still running after ${timeoutMs} ms`, stderr.lines));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new ProcessError('SPAWN_FAILED', `${what}: ${err.message}`, stderr.lines));
    });
    void Promise.all([exitPromise(child), stdoutDone]).then(([status]) => {
      clearTimeout(timer);
      if (lastJson === undefined) {
        reject(new ProcessError('NO_JSON', `${what}: exited (code ${status.code}, signal ${status.signal}) without a JSON line`, stderr.lines));
        return;
      }
      try {
        resolve({ value: JSON.parse(lastJson) as T, status, stderrTail: stderr.lines });
      } catch (err) {
        reject(new ProcessError('NO_JSON', `${what}: bad JSON: ${(err as Error).message}`, stderr.lines));
      }
    });
  });
}
