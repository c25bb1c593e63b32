// Output helpers for qpid-send and qpid-receive: a one-line progress report rewritten every second
// on stderr, only when stderr is a terminal (never in pipes, logs or tests), and the summary in
// either `key=value` text or one JSON object for machines (--json).
import type { ClientEvent } from '../../src/client/options.js';

export const PROGRESS_INTERVAL_MS = 1000;

export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): boolean;
}

export class Progress {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly render: () => string,
    private readonly stream: ProgressStream = process.stderr,
    private readonly intervalMs: number = PROGRESS_INTERVAL_MS,
  ) {}

  start(): void {
    if (!this.stream.isTTY || this.timer) return;
    this.timer = setInterval(() => this.stream.write(`\r${this.render()}\x1b[K`), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.stream.write('\r\x1b[K');
  }
}

export type Summary = Record<string, string | number | boolean | null | undefined | object>;

/** `tool: key=value key=value` with camelCase keys written kebab-case; objects are left to --json. */
export function formatSummary(tool: string, summary: Summary): string {
  const fields = Object.entries(summary)
    .filter(([, value]) => value !== undefined && (value === null || typeof value !== 'object'))
    .map(([key, value]) => `${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}=${value}`);
  return `${tool}: ${fields.join(' ')}`;
}

export function printSummary(tool: string, summary: Summary, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify({ tool, ...summary })}\n` : `${formatSummary(tool, summary)}\n`);
}

/** One stderr line per failover event (--failover-updates). */
export function describeEvent(tool: string, event: ClientEvent): string {
  switch (event.kind) {
    case 'connected':
      return `${tool}: ${event.reconnect ? 'reconnected' : 'connected'} to ${event.address}`;
    case 'attempt-failed':
      return `${tool}: ${event.address} ${event.reason}`;
    case 'disconnected':
      return `${tool}: disconnected from ${event.address} (${event.reason})`;
    case 'gave-up':
      return `${tool}: gave up: ${event.reason}`;
  }
}

export function ratePerS(count: number, elapsedMs: number): number {
  return elapsedMs > 0 ? Math.round((count * 1000) / elapsedMs) : 0;
}
