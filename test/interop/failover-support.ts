// What the failover scenarios share: a 3-broker cluster replicating everything with one durable
// queue on it, the Proton Python producer and consumer of this directory run as processes, and
// the moments that make up a failover (kill, promotion as the promoted broker logged it, the
// producer's next acceptance), read from logs and histories rather than guessed.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { Cluster } from '../helpers/cluster.js';
import { declareQueue } from './broker-tools.js';
import { ProducerProgress, historyPath } from './history-check.js';
import { interopScript, startPython, type Program } from './programs.js';

export const QUEUE = 'interop-failover';

/** A cluster started, broker `primary` promoted, and the durable queue declared on it with the
 * real qpid-config (replicated: the cluster runs --ha-replicate all). */
export async function startCluster(primary = 0): Promise<Cluster> {
  const cluster = await Cluster.start({ size: 3, replicate: 'all' });
  try {
    await cluster.promoteAndWait(primary);
    await declareQueue(`127.0.0.1:${cluster.ports[primary]}`, QUEUE, { durable: true });
    await cluster.waitForReplication(primary);
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

export function urls(cluster: Cluster, order: readonly number[]): string {
  return order.map((i) => `127.0.0.1:${cluster.ports[i]}`).join(',');
}

export interface SenderOptions {
  readonly urls: string;
  readonly historyDir: string;
  readonly writer: string;
  /** 0: until `stopFile` exists. */
  readonly count: number;
  readonly ratePerS?: number;
  readonly stopFile?: string;
  readonly timeoutS: number;
}

export function startPythonSender(o: SenderOptions): Program {
  return startPython(interopScript('proton_failover_send.py'), [
    '--urls', o.urls, '--address', QUEUE, '--count', String(o.count), '--durable',
    '--history', historyPath(o.historyDir, o.writer), '--writer', o.writer, '--timeout', String(o.timeoutS),
    ...(o.ratePerS ? ['--rate', String(o.ratePerS)] : []),
    ...(o.stopFile ? ['--stop-file', o.stopFile] : []),
  ]);
}

export function startPythonReceiver(o: { urls: string; historyDir: string; writer: string; expect: number; idleS?: number; timeoutS: number }): Program {
  return startPython(interopScript('proton_failover_recv.py'), [
    '--urls', o.urls, '--address', QUEUE, '--history', historyPath(o.historyDir, o.writer), '--writer', o.writer,
    '--expect', String(o.expect), '--timeout', String(o.timeoutS), ...(o.idleS ? ['--idle', String(o.idleS)] : []),
  ]);
}

/** Promotes the first of `candidates` that is a ready backup, as a cluster manager would (only
 * a ready backup may be promoted, DESIGN.md §3: on a loaded machine one may have fallen behind
 * and be catching up again). Returns the promoted broker. */
export async function promoteReadyBackup(cluster: Cluster, candidates: readonly number[], timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const i of candidates) {
      const state = await cluster.status(i).then((s) => s.state, () => 'unreachable');
      if (state === 'ready') {
        await cluster.promote(i);
        return i;
      }
    }
    if (Date.now() > deadline) throw new Error(`none of ${candidates.map((i) => `b${i}`).join(', ')} was a ready backup within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves once the producer has had `count` messages accepted; fails early if it exits. */
export async function waitForAccepted(program: Program, progress: ProducerProgress, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void program.exited.then(() => (exited = true));
  while (progress.accepted < count) {
    if (exited) throw new Error(`${program.name} exited with ${progress.accepted} of ${count} accepted: ${program.stdout().slice(-1500)} ${program.stderr().slice(-1500)}`);
    if (Date.now() > deadline) throw new Error(`${program.name}: only ${progress.accepted} of ${count} accepted after ${timeoutMs} ms; stderr: ${program.stderr().slice(-1500)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** When `broker` logged its promotion (its first HA state change to a primary state at or
 * after `sinceMs`), in epoch ms. */
export async function promotedAtMs(broker: BrokerProcess, sinceMs: number, timeoutMs = 20_000): Promise<number> {
  const line = await broker.waitForLog((l) => l.msg === 'HA state changed' && (l['to'] === 'recovering' || l['to'] === 'active') && Date.parse(String(l['time'])) >= sinceMs - 5, timeoutMs);
  return Date.parse(String(line['time']));
}

/** What a Proton helper printed last: its JSON summary. */
export function summaryOf(program: Program): { errors: { where: string; condition: string | null; description: string | null }[]; [key: string]: unknown } {
  const last = program.lines().at(-1) ?? '';
  try {
    return JSON.parse(last) as ReturnType<typeof summaryOf>;
  } catch {
    throw new Error(`${program.name} printed no summary: ${program.stdout().slice(-1000)}; stderr: ${program.stderr().slice(0, 3000)}`);
  }
}

/** Asserts a helper finished cleanly: exit 0 and no error other than dropped connections. */
export function assertFinishedCleanly(program: Program, exit: { code: number | null; signal: NodeJS.Signals | null }): void {
  const summary = summaryOf(program);
  const fatal = summary.errors.filter((e) => e.where !== 'transport');
  assert.deepEqual(fatal, [], `${program.name} reported errors (exit ${exit.code ?? exit.signal}): ${JSON.stringify(summary.errors.slice(-5))}`);
  assert.equal(exit.code, 0, `${program.name} exited ${exit.code ?? exit.signal}: ${program.stderr().slice(-1500)}`);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function stopFileIn(dir: string): string {
  return join(dir, 'stop-sending');
}
