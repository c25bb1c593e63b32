// Client programs of the interoperability suite (Proton examples, helper scripts, rhea clients)
// run as real processes, each with a deadline: a program that outlives it is killed and the test
// fails saying so, so that no client can hang the suite. Every child dies with the test process.
import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killOnExit } from '../crash/harness/brokers.js';
import { makeTmpDir } from '../helpers/tmp.js';

/** Debian's python3-qpid-proton is installed for /usr/bin/python3; another python3 first on
 * PATH may not have it (FACTS.md). */
export const PYTHON = '/usr/bin/python3';
/** Where libqpid-proton11-dev-examples puts the examples. */
export const PROTON_EXAMPLES = '/usr/share/proton/examples';
/** The suite's own scripts are not compiled: they sit in the source tree beside this file. */
export const INTEROP_SOURCES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'interop');
/** The suite's compiled TypeScript clients (dist/test/interop). */
export const INTEROP_DIST = dirname(fileURLToPath(import.meta.url));

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Program {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
  /** stdout split in lines, trimmed, without empty ones. */
  lines(): string[];
  /** Resolves when stdout has a line matching `match`, rejects at the deadline or on exit. */
  waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs: number): Promise<string>;
  /** Resolves with the exit; at the deadline, kills it (SIGKILL) and rejects naming it as hung. */
  finish(timeoutMs: number): Promise<Exit>;
  signal(signal: NodeJS.Signals): void;
  /** Writes to the program's stdin (only when started with `stdin: true`). */
  write(text: string): void;
  /** Closes the program's stdin (end of input). */
  closeInput(): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit. */
  stop(graceMs?: number): Promise<Exit>;
}

export interface StartOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  /** Shown in failures; the file name of the command by default. */
  readonly name?: string;
  /** Give the program a stdin pipe (write()); otherwise stdin is closed. */
  readonly stdin?: boolean;
}

const OUTPUT_KEPT_CHARS = 4_000_000;

export function start(command: string, args: readonly string[], options: StartOptions = {}): Program {
  // PYTHONUNBUFFERED: a piped Python otherwise holds its prints until it exits, and a test that
  // waits for "Listening on" would wait for ever. It changes nothing in what the program does.
  const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, PYTHONUNBUFFERED: '1', ...options.env }, stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] as ('pipe' | 'ignore')[] }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
  killOnExit(child);
  const name = options.name ?? `${basename(command === PYTHON ? (args[0] ?? command) : command)}`;
  let out = '';
  let err = '';
  const watchers = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out = (out + chunk).slice(-OUTPUT_KEPT_CHARS);
    for (const watcher of [...watchers]) watcher();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err = (err + chunk).slice(-OUTPUT_KEPT_CHARS);
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (e) => {
      err += `\nspawn failed: ${e.message}`;
      resolve({ code: -1, signal: null });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const lines = (): string[] => out.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const describe = (): string => `${name} (pid ${child.pid}); stdout tail: ${JSON.stringify(out.slice(-600))}; stderr tail: ${JSON.stringify(err.slice(-1500))}`;
  const program: Program = {
    name,
    pid: child.pid ?? -1,
    exited,
    stdout: () => out,
    stderr: () => err,
    lines,
    waitForLine(match, timeoutMs) {
      const test = typeof match === 'function' ? match : (l: string) => match.test(l);
      return new Promise((resolve, reject) => {
        let done = false;
        const check = (): void => {
          const found = lines().find(test);
          if (found === undefined || done) return;
          done = true;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          if (done) return;
          done = true;
          cleanup();
          reject(new Error(`no line matching ${String(match)} within ${timeoutMs} ms from ${describe()}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          watchers.delete(check);
        };
        watchers.add(check);
        void exited.then((exit) => {
          setImmediate(() => {
            check();
            if (done) return;
            done = true;
            cleanup();
            reject(new Error(`exited (${exit.code ?? exit.signal}) before printing a line matching ${String(match)}: ${describe()}`));
          });
        });
        check();
      });
    },
    async finish(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'hung'>((resolve) => {
        timer = setTimeout(() => resolve('hung'), timeoutMs);
      });
      const result = await Promise.race([exited, deadline]);
      clearTimeout(timer);
      if (result === 'hung') {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`hung: did not exit within ${timeoutMs} ms, killed: ${describe()}`);
      }
      return result;
    },
    signal(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    write(text) {
      if (!child.stdin) throw new Error(`${name} was started without a stdin pipe`);
      child.stdin.write(text);
    },
    closeInput() {
      child.stdin?.end();
    },
    async stop(graceMs = 2000) {
      program.signal('SIGTERM');
      const timer = setTimeout(() => program.signal('SIGKILL'), graceMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
  return program;
}

export interface Completed extends Exit {
  readonly stdout: string;
  readonly stderr: string;
  readonly lines: string[];
}

/** Runs a program to its exit within `timeoutMs` (rejects, having killed it, if it hangs). */
export async function run(command: string, args: readonly string[], timeoutMs: number, options: StartOptions = {}): Promise<Completed> {
  const program = start(command, args, options);
  const exit = await program.finish(timeoutMs);
  return { ...exit, stdout: program.stdout(), stderr: program.stderr(), lines: program.lines() };
}

/** A failure message that carries what the program said. */
export function explain(what: string, result: Completed | Program): string {
  const out = typeof result.stdout === 'function' ? result.stdout() : result.stdout;
  const err = typeof result.stderr === 'function' ? result.stderr() : result.stderr;
  return `${what}; stdout tail: ${JSON.stringify(out.slice(-800))}; stderr tail: ${JSON.stringify(err.slice(-1500))}`;
}

/** The path of a Proton Python example, unmodified. */
export function pythonExample(name: string): string {
  return join(PROTON_EXAMPLES, 'python', name);
}

/** A copy of a Proton Python example whose hard-coded broker address (`localhost:5672`) is
 * replaced by `hostPort`, and nothing else: the issue allows exactly this change for the few
 * examples that take no address argument. */
export function pythonExampleAt(name: string, hostPort: string): string {
  const original = readFileSync(pythonExample(name), 'utf8');
  const occurrences = original.split('localhost:5672').length - 1;
  if (occurrences !== 1) throw new Error(`${name}: expected one hard-coded localhost:5672, found ${occurrences}`);
  const dir = makeTmpDir('proton-example');
  const copy = join(dir, name);
  writeFileSync(copy, original.replace('localhost:5672', hostPort));
  return copy;
}

/** Fails, saying what to install, when /usr/bin/python3 cannot import Proton. */
export function requireProtonPython(): void {
  try {
    execFileSync(PYTHON, ['-c', 'import proton'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`${PYTHON} cannot import proton: install Debian's python3-qpid-proton (.ci/run does): ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
}

/** Runs a Proton Python example (or a copy) with /usr/bin/python3. */
export function startPython(script: string, args: readonly string[], options: StartOptions = {}): Program {
  return start(PYTHON, [script, ...args], { name: basename(script), ...options });
}

/** The suite's own Python helper scripts (test/interop/*.py). */
export function interopScript(name: string): string {
  return join(INTEROP_SOURCES, name);
}

/** Lines of the form the Proton examples print for a body {'sequence': N} (Python repr, C's
 * pn_inspect, C++'s operator<<): the sequence numbers, in the order printed. */
export function sequenceNumbers(lines: readonly string[]): number[] {
  const numbers: number[] = [];
  for (const line of lines) {
    const match = /["']?sequence["']?\s*[:=]\s*(\d+)/.exec(line);
    if (match) numbers.push(Number(match[1]));
  }
  return numbers;
}

/** 1..n, for comparing what an example printed with what Proton's own tests expect. */
export function oneTo(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}
