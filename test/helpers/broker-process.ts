// Real `qpidd` processes for integration and crash tests: started from dist/tools/qpidd.js on
// loopback, their JSON log lines collected, killed with real signals, restarted on the same
// data dir. Waiting is by polling with a deadline, never by fixed sleeps (STYLE.md, NATS).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killOnExit } from './children.js';

const here = dirname(fileURLToPath(import.meta.url));
export const DIST = join(here, '..', '..');
export const QPIDD = join(DIST, 'tools', 'qpidd.js');
export const TOOL = (name: string): string => join(DIST, 'tools', `${name}.js`);

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface BrokerProcess {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log line (past or future) matching, or rejects at the deadline. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  readonly dataDir?: string;
  readonly port?: number;
  readonly args?: readonly string[];
  readonly env?: Record<string, string>;
  readonly name?: string;
  readonly timeoutMs?: number;
  /** Resolve once spawned, even if it never listens (for tests of startup failures). */
  readonly expectFailure?: boolean;
  /** Runs the broker through another program (e.g. unshare, to give it a small private
   * filesystem): given node's arguments, the command and its arguments to spawn instead. */
  readonly launcher?: (nodeArgs: readonly string[]) => { readonly command: string; readonly args: readonly string[] };
  /** Run the broker under `ulimit -n N` (soft and hard), through bash. */
  readonly openFileLimit?: number;
}

export function tempDir(prefix = 'qpidd-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A port that was free a moment ago (for brokers that must know each other's address before
 * they start, as an HA cluster's --ha-brokers-url requires). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}


export async function startQpidd(options: StartOptions = {}): Promise<BrokerProcess> {
  const dataDir = options.dataDir ?? tempDir();
  const args = [QPIDD, '--port', String(options.port ?? 0), '--data-dir', dataDir, '--log-level', process.env['QPIDD_TEST_LOG_LEVEL'] ?? 'info', ...(options.name ? ['--name', options.name] : []), ...(options.args ?? [])];
  // --auth no unless the test says otherwise (test/run.ts sets the same default for the run).
  const env = { QPIDD_AUTH: 'no', ...process.env, ...options.env };
  // Under `ulimit -n`, through bash (exec: the pid is the broker's own, so signals reach it).
  const limited = (nodeArgs: readonly string[]) => ({ command: 'bash', args: ['-c', `ulimit -n ${options.openFileLimit} && exec "$0" "$@"`, process.execPath, ...nodeArgs] });
  const launch = options.openFileLimit !== undefined ? limited(args) : options.launcher ? options.launcher(args) : { command: process.execPath, args };
  const child = spawn(launch.command, [...launch.args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // A broker a test forgot must not outlive the test process.
  killOnExit(child);
  const logs: LogLine[] = [];
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let stderrText = '';
  let buffered = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (!text.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { level: 30, msg: text };
      }
      logs.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.match(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrText += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const waitForLog = (match: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const found = logs.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a log line; stderr: ${stderrText.slice(-500)}; last logs: ${JSON.stringify(logs.slice(-5))}`));
      }, timeoutMs);
      waiters.push(waiter);
      void exited.then(() => {
        setTimeout(() => {
          if (waiters.includes(waiter)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            clearTimeout(timer);
            reject(new Error(`qpidd exited while waiting for a log line; stderr: ${stderrText.slice(-1000)}`));
          }
        }, 50);
      });
    });
  };
  let port = options.port ?? 0;
  if (!options.expectFailure) {
    const listening = await waitForLog((l) => l.msg === 'listening', options.timeoutMs ?? 15_000);
    port = Number(listening['port']);
  }
  const broker: BrokerProcess = {
    name: options.name ?? `qpidd@127.0.0.1:${port}`,
    port,
    dataDir,
    child,
    logs,
    stderr: () => stderrText,
    exited,
    waitForLog,
    kill: (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  return broker;
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
