// Producer and consumer processes of a crash run, spawned from their compiled mains. They are
// separate processes so that a broker's death reaches them only through their sockets, as it
// would reach a real application.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killOnExit } from './brokers.js';
import type { ConsumerArgs, ProducerArgs } from './client-args.js';

const here = dirname(fileURLToPath(import.meta.url));

export interface ClientProcess {
  readonly id: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnClient(main: string, id: string, args: object): ClientProcess {
  const child = spawn(process.execPath, [join(here, main), JSON.stringify(args)], { stdio: ['ignore', 'ignore', 'pipe'] });
  killOnExit(child);
  let stderrText = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrText = (stderrText + chunk).slice(-10_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    id,
    child,
    exited,
    stderr: () => stderrText,
    signal: (signal) => {
      if (running()) child.kill(signal);
    },
    stop: async (graceMs) => {
      if (running()) child.kill('SIGTERM');
      const timer = setTimeout(() => running() && child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

export function startProducer(args: ProducerArgs): ClientProcess {
  return spawnClient('producer-main.js', args.id, args);
}

export function startConsumer(args: ConsumerArgs): ClientProcess {
  return spawnClient('consumer-main.js', args.id, args);
}
