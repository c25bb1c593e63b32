// Samples the memory of a set of broker processes once a second: RSS from /proc (what the machine
// pays) and the V8 heap in use from the broker's own /metrics (what a leak in JavaScript objects
// grows). Processes come and go (a soak kills and restarts them); each sample names the member
// and its pid, so one incarnation's curve can be told from the next.
import { processMemory, MIB } from './proc-memory.js';

export interface MemorySample {
  /** Seconds since the sampler started. */
  readonly atS: number;
  readonly member: string;
  readonly pid: number;
  readonly rssMiB: number;
  readonly anonMiB: number;
  /** null when /metrics did not answer in time (the broker was busy or dying). */
  readonly heapUsedMiB: number | null;
}

export interface SampledProcess {
  readonly member: string;
  readonly pid: number;
  readonly httpPort?: number;
}

const METRICS_TIMEOUT_MS = 800;

async function heapUsedBytes(httpPort: number): Promise<number | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(METRICS_TIMEOUT_MS) });
    const text = await response.text();
    const match = /^nodejs_heap_used_bytes (\d+(?:\.\d+)?)$/m.exec(text);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

export class MemorySampler {
  readonly samples: MemorySample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly startedMs = performance.now();
  private busy = false;

  constructor(
    private readonly processes: () => readonly SampledProcess[],
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    void this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    if (this.busy) return; // a slow round is skipped, not queued
    this.busy = true;
    try {
      const atS = Math.round((performance.now() - this.startedMs) / 100) / 10;
      await Promise.all(
        this.processes().map(async (p) => {
          const heap = p.httpPort === undefined ? null : await heapUsedBytes(p.httpPort);
          const memory = processMemory(p.pid);
          if (!memory) return; // exited between listing and sampling
          this.samples.push({
            atS,
            member: p.member,
            pid: p.pid,
            rssMiB: Math.round((memory.rssBytes / MIB) * 10) / 10,
            anonMiB: Math.round((memory.anonBytes / MIB) * 10) / 10,
            heapUsedMiB: heap === null ? null : Math.round((heap / MIB) * 10) / 10,
          });
        }),
      );
    } finally {
      this.busy = false;
    }
  }
}
