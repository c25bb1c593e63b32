// Shared pieces of the standalone broker's integration, interop and crash tests: terminus
// builders for Qpid's create-on-demand convention, running the project's tools as processes,
// reading a stopped broker's store, and the "broker still serves" probe every bad-input test
// ends with. Everything here talks to real processes over loopback.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import rhea, { type Message } from 'rhea';
import { inspectSummary, openLmdbStore, type StoreSummary } from '../../store/index.js';
import { ManagementClient } from '../../src/management/client.js';
import { connect, openReceiver, openSender, receiveN, sendAll } from '../helpers/amqp.js';
import { QPIDD, TOOL } from '../helpers/broker-process.js';

/** A target or source that creates a queue on attach (Qpid's create-on-demand capability). */
export function queueNode(address: string, properties: Record<string, unknown> = {}): Record<string, unknown> {
  return { address, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: properties };
}

/** A target or source that creates an exchange on attach. */
export function exchangeNode(address: string, type: 'direct' | 'topic' | 'fanout' | 'headers', properties: Record<string, unknown> = {}): Record<string, unknown> {
  return { address, capabilities: ['create-on-demand', 'topic'], dynamic_node_properties: { 'exchange-type': type, ...properties } };
}

/** A source filter holding a binding key (Qpid's legacy AMQP 0-10 bindings). */
export function keyFilter(kind: 'direct' | 'topic', key: string): Record<string, unknown> {
  return { [`${kind}-binding`]: rhea.types.wrap_described(key, `apache.org:legacy-amqp-${kind}-binding:string`) };
}

/** A source filter holding headers-exchange binding arguments (x-match plus the values). */
export function headersFilter(args: Record<string, string | number | boolean>): Record<string, unknown> {
  return { 'headers-binding': rhea.types.wrap_described(args, 'apache.org:legacy-amqp-headers-binding:map') };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface ToolResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a node script (a compiled tool) to completion, with a deadline. */
export function runNode(script: string, args: readonly string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} ${args.join(' ')} did not exit within ${options.timeoutMs ?? 15_000} ms; stderr: ${stderr}`));
    }, options.timeoutMs ?? 15_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs qpidd itself to completion (for startup failures, --help). Without --data-dir in
 * `args`, the caller must pass one: qpidd would otherwise use ~/.qpidd. */
export function runQpidd(args: readonly string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<ToolResult> {
  return runNode(QPIDD, args, options);
}

/** What `qpid-store inspect --json` says about a stopped broker's data dir. The tool is run when
 * it has been built; until then the same report (store/inspect.ts, which the tool prints) is
 * read in-process through a read-only open, so the tests do not wait on the tool. */
export async function inspectStore(dataDir: string): Promise<StoreSummary> {
  const tool = TOOL('qpid-store');
  if (existsSync(tool)) {
    const result = await runNode(tool, ['inspect', '--data-dir', dataDir, '--json']);
    assert.equal(result.code, 0, `qpid-store inspect failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as StoreSummary;
  }
  const store = openLmdbStore({ dataDir, readOnly: true });
  try {
    return inspectSummary(store);
  } finally {
    await store.close();
  }
}

/** Opens a management connection (the broker's $management node) for binds and queue stats. */
export function management(port: number): Promise<ManagementClient> {
  return ManagementClient.connect({ transport: 'tcp', host: '127.0.0.1', port }, { timeoutMs: 10_000 });
}

export interface QueueStats {
  readonly name: string;
  readonly count: number;
  readonly bytes: number;
  readonly [key: string]: unknown;
}

/** A queue's row from the management `queues` listing (undefined if there is no such queue). */
export async function queueStats(port: number, name: string): Promise<QueueStats | undefined> {
  const client = await management(port);
  try {
    const rows = await client.requestAll<QueueStats>('queues');
    return rows.find((r) => r.name === name);
  } finally {
    client.close();
  }
}

/** Proves the broker still serves clients: a fresh connection creates a queue, sends a message
 * unsettled, has it accepted, and receives it. Every bad-input test ends with this. */
export async function assertServes(port: number): Promise<void> {
  const name = uniqueName('alive');
  const conn = await connect(port);
  try {
    const sender = await openSender(conn.connection, queueNode(name, { 'auto-delete': true }));
    const outcomes = await sendAll(sender, [{ body: 'still here' }]);
    assert.deepEqual(outcomes.map((o) => o.state), ['accepted']);
    const receiver = await openReceiver(conn.connection, name);
    const [got] = await receiveN(receiver, 1);
    assert.equal(got?.message.body, 'still here');
    got?.delivery.accept();
  } finally {
    await conn.close();
  }
}

/** Message bodies as strings, for comparisons. */
export function bodies(messages: readonly (Message | { message: Message })[]): string[] {
  return messages.map((m) => String(('message' in m ? m.message : m).body));
}

/** Opens a connection and waits for the broker to close it, resolving with the close's error
 * (a broker refuses a connection by answering the open and closing at once with an error,
 * AMQP 1.0 §2.4.1; a stock client sees connection_open, then connection_close). Rejects if the
 * connection is still open at the deadline. */
export function closedByBroker(port: number, options: { properties?: Record<string, unknown>; timeoutMs?: number } = {}): Promise<{ condition?: string; description?: string }> {
  const container = rhea.create_container();
  return new Promise((resolve, reject) => {
    const connection = container.connect({ host: '127.0.0.1', port, reconnect: false, properties: options.properties ?? {} } as never);
    const timer = setTimeout(() => {
      connection.close();
      reject(new Error('the broker left the connection open'));
    }, options.timeoutMs ?? 5000);
    const done = (): void => {
      clearTimeout(timer);
      const error = (connection as unknown as { error?: { condition?: unknown; description?: unknown } }).error;
      resolve({
        ...(error?.condition !== undefined ? { condition: String(error.condition) } : {}),
        ...(error?.description !== undefined ? { description: String(error.description) } : {}),
      });
    };
    connection.once('connection_close', done);
    connection.once('connection_error', () => {});
    connection.once('disconnected', done);
    connection.on('error', () => {});
  });
}
