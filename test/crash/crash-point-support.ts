// What the crash-point tests share (issue 16): clients as real processes (qpid-send and
// qpid-receive with --history, through the failover client), and the verdict of
// qpid-check-history over their histories: nothing accepted lost, nothing received unsent.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { TOOL, waitFor, type BrokerProcess } from '../helpers/broker-process.js';

export interface ToolRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runTool(tool: string, args: readonly string[]): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TOOL(tool), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export const CRASH_ARGS = (point: string): string[] => ['--enable-crash-points', 'yes', '--crash-at', point];

/** qpid-send of `count` durable messages numbered 1..count, reconnecting through failover until
 * every one is settled; its history goes to `<dir>/<id>.history.jsonl`. */
export function send(url: string, queue: string, count: number, dir: string, options: { id?: string; capacity?: number; bodyBytes?: number } = {}): Promise<ToolRun> {
  const id = options.id ?? 'p1';
  return runTool('qpid-send', [
    '-b', url,
    '-a', `${queue}; {create: always, node: {durable: true}}`,
    '-m', String(count),
    '--durable', 'yes',
    '-i', id,
    '--capacity', String(options.capacity ?? 10),
    '--content-size', String(options.bodyBytes ?? 64),
    '--connection-options', '{reconnect: true, reconnect_interval: 0.1, reconnect_timeout: 120}',
    '--history', join(dir, `${id}.history.jsonl`),
  ]);
}

/** qpid-receive of everything on the queue (until `count` distinct messages, or 5 s idle). */
export function receive(url: string, queue: string, count: number, dir: string, id = 'c1'): Promise<ToolRun> {
  return runTool('qpid-receive', [
    '-b', url,
    '-a', queue,
    '-m', String(count),
    '--ignore-duplicates',
    '--timeout', '5',
    '--print-content', 'no',
    '-i', id,
    '--connection-options', '{reconnect: true, reconnect_interval: 0.1, reconnect_timeout: 60}',
    '--history', join(dir, `${id}.history.jsonl`),
  ]);
}

export interface CheckedQueue {
  readonly queue: string;
  readonly counts: { accepted: number; unique: number; lost: number; phantoms: number; duplicates: number };
}

/** qpid-check-history over the run's histories: exit 0, and every accepted message received. */
export async function assertNothingLost(dir: string, files: readonly string[], expectedAccepted: number): Promise<CheckedQueue> {
  const report = await runTool('qpid-check-history', [...files.map((f) => join(dir, f)), '--json']);
  const parsed = JSON.parse(report.stdout || '{}') as { ok: boolean; queues: CheckedQueue[] };
  assert.equal(report.code, 0, `qpid-check-history: ${report.stdout} ${report.stderr}`);
  assert.equal(parsed.queues.length, 1, report.stdout);
  const q = parsed.queues[0]!;
  assert.equal(q.counts.accepted, expectedAccepted, report.stdout);
  assert.equal(q.counts.lost, 0);
  assert.equal(q.counts.phantoms, 0);
  return q;
}

/** Waits for the broker to kill itself at `point` (SIGKILL, and its line on stderr). */
export async function diedAt(broker: BrokerProcess, point: string, timeoutMs = 60_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([broker.exited, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)))]);
  // Cleared, or the test file's process lingers until the deadline after its last test.
  clearTimeout(timer);
  assert.ok(exit, `the broker did not reach crash point ${point} within ${timeoutMs} ms; stderr: ${broker.stderr().slice(-500)}`);
  assert.equal(exit.signal, 'SIGKILL', `${JSON.stringify(exit)}; stderr: ${broker.stderr().slice(-500)}`);
  await waitFor(() => broker.stderr().includes(`crash point ${point} reached`), `the crash point line on stderr`, 2000);
}
