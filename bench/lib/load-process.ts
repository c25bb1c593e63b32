// The harness's side of the failover load process (bench/failover-load.ts): spawn it, wait for its
// links to attach, steer it through stdin, collect its `resumed` lines as they come, and read its
// result when it stops. A process that dies or hangs is reported with the tail of its stderr.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { failoverLoadArgs } from './failover-load-options.js';
import type { FailoverLoadOptions, FailoverLoadResult, ResumeEvent } from './failover-run.js';
import { distRoot } from './paths.js';
import { trackChild } from './process.js';

export const failoverLoadScript = join(distRoot, 'bench', 'failover-load.js');

const ATTACH_TIMEOUT_MS = 30_000;

export class LoadProcess {
  readonly resumes: ResumeEvent[] = [];
  private readonly stderr: string[] = [];
  private result: FailoverLoadResult | undefined;
  private failure: string | undefined;
  private readonly ended: Promise<void>;
  private resumeWaiters: Array<() => void> = [];

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      this.stderr.push(line);
      if (this.stderr.length > 30) this.stderr.shift();
    });
    this.ended = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  static start(options: FailoverLoadOptions): Promise<LoadProcess> {
    const child = spawn(process.execPath, [failoverLoadScript, ...failoverLoadArgs(options)], { stdio: ['pipe', 'pipe', 'pipe'] });
    trackChild(child);
    const load = new LoadProcess(child);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`failover load: not attached within ${ATTACH_TIMEOUT_MS} ms\n${load.stderr.join('\n')}`));
      }, ATTACH_TIMEOUT_MS);
      void load.ended.then(() => {
        clearTimeout(timer);
        reject(new Error(`failover load exited before attaching: ${load.failure ?? ''}\n${load.stderr.join('\n')}`));
      });
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        if (!line.startsWith('{')) return;
        const event = JSON.parse(line) as { msg: string; error?: string };
        if (event.msg === 'attached') {
          clearTimeout(timer);
          resolve(load);
        } else if (event.msg === 'resumed') {
          load.resumes.push(event as unknown as ResumeEvent);
          for (const wake of load.resumeWaiters.splice(0)) wake();
        } else if (event.msg === 'failover-load result') {
          load.result = event as unknown as FailoverLoadResult;
        } else if (event.msg === 'failover-load failed') {
          load.failure = event.error;
        }
      });
    });
  }

  command(command: 'measure-start' | 'measure-stop' | 'stop'): void {
    this.child.stdin?.write(`${command}\n`);
  }

  /** Resolves with the first resume of each producer at or after `sinceEpochMs`, or rejects at the deadline. */
  async waitForResumes(producers: number, sinceEpochMs: number, timeoutMs: number): Promise<ResumeEvent[]> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const byProducer = new Map<number, ResumeEvent>();
      for (const event of this.resumes) {
        if (event.acceptedAtMs >= sinceEpochMs && !byProducer.has(event.producer)) byProducer.set(event.producer, event);
      }
      if (byProducer.size >= producers) return [...byProducer.values()];
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`only ${byProducer.size} of ${producers} producers resumed within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.resumeWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stops the load and resolves with its result once it has drained (or failed). */
  async finish(timeoutMs: number): Promise<FailoverLoadResult> {
    this.command('stop');
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.ended;
    clearTimeout(timer);
    if (!this.result) throw new Error(`failover load ended without a result\n${this.stderr.join('\n')}`);
    return this.result;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
