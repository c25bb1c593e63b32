// Scenario `transactions`: what AMQP 1.0 local transactions (issue 12) cost and buy a producer.
// One Proton Python producer (bench/lib/proton_tx_load.py, a separate process) sends durable
// 1 KiB messages to a durable queue on a standalone broker with --store-sync fsync, in
// transactions of 1, 10 and 100 messages (declare, send, commit, wait for the commit to be
// settled: durable), beside the same messages unbatched with the same number in flight (each
// settled on its own once durable). A transaction's messages are one store commit (one fsync),
// so larger transactions amortise it the way a wider send window lets group commit do.
// Reported: committed messages/s and the ratio over the unbatched row of the same size.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describeMachine } from '../lib/machine.js';
import { distRoot, repoRoot } from '../lib/paths.js';
import type { ResultRow, ScenarioResult, TableColumn } from '../lib/results.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { startBroker } from '../lib/servers.js';
import { round } from '../lib/stats.js';

export const name = 'transactions';
export const description = 'One Proton Python producer, durable 1 KiB messages (fsync): transactions of 1, 10 and 100 messages beside the same messages unbatched with as many in flight: committed msgs/s (full: 2,000 messages a row; tiny: 40)';

const PLANS = { tiny: { messages: 40, warmUp: 10 }, full: { messages: 2000, warmUp: 200 } } as const;
const SIZES = [1, 10, 100] as const;
const BODY_BYTES = 1024;
const PYTHON = '/usr/bin/python3';
const LOAD_SCRIPT = join(repoRoot, 'bench', 'lib', 'proton_tx_load.py');

const columns: readonly TableColumn[] = [
  { key: 'size', header: 'messages per transaction (or in flight)' },
  { key: 'mode', header: 'mode' },
  { key: 'messages', header: 'messages' },
  { key: 'msgsPerS', header: 'committed msgs/s' },
  { key: 'ratio', header: 'ratio over unbatched', digits: 2 },
];

/** A durable queue, declared as an operator would (qpid-config). */
function declareDurable(port: number, queue: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(distRoot, 'tools', 'qpid-config.js'), '-b', `127.0.0.1:${port}`, 'add', 'queue', queue, '--durable'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`qpid-config add queue ${queue}: ${err.trim()}`))));
  });
}

function load(port: number, queue: string, mode: 'txn' | 'plain', size: number, messages: number): Promise<{ messages: number; elapsedS: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [LOAD_SCRIPT, `127.0.0.1:${port}`, queue, mode, String(size), String(messages), String(BODY_BYTES)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        const parsed = JSON.parse(line) as { messages?: number; elapsedS?: number; error?: string };
        if (code === 0 && parsed.messages === messages && typeof parsed.elapsedS === 'number') resolve({ messages: parsed.messages, elapsedS: parsed.elapsedS });
        else reject(new Error(`load ${mode} ${size}: exit ${code}, ${line} ${err.slice(-300)}`));
      } catch {
        reject(new Error(`load ${mode} ${size}: exit ${code}, no result: ${out.slice(-200)} ${err.slice(-300)}`));
      }
    });
  });
}

export async function run(options: ScenarioOptions): Promise<ScenarioResult> {
  const machine = describeMachine();
  const { messages, warmUp } = PLANS[options.size];
  const notes: string[] = [`load average (1 min) at start: ${machine.loadAverage1m}`, `${messages} durable ${BODY_BYTES} B messages per row, one producer, --store-sync fsync; each row on a fresh broker and queue`];
  const rows: ResultRow[] = [];
  let ok = true;
  for (const size of SIZES) {
    const rates: Partial<Record<'txn' | 'plain', number>> = {};
    for (const mode of ['plain', 'txn'] as const) {
      const server = await startBroker({ storeSync: 'fsync' });
      try {
        const queue = `bench-tx-${mode}-${size}`;
        await declareDurable(server.port, queue);
        // Warm-up through the same path (JIT, the store's first commits), then the measured run.
        await load(server.port, queue, mode, size, warmUp);
        options.log(`${mode} ${size}: ${messages} messages`);
        const result = await load(server.port, queue, mode, size, messages);
        const msgsPerS = result.messages / result.elapsedS;
        rates[mode] = msgsPerS;
        const rowOk = !server.exitedEarly();
        if (!rowOk) ok = false;
        rows.push({ size, mode: mode === 'txn' ? 'transactions' : 'unbatched', messages, msgsPerS: round(msgsPerS), ...(mode === 'txn' && rates.plain ? { ratio: round(msgsPerS / rates.plain, 2) } : {}), ok: rowOk });
        options.log(`  ${round(msgsPerS)} msgs/s`);
      } catch (err) {
        ok = false;
        notes.push(`${mode} ${size}: ${(err as Error).message}`);
        rows.push({ size, mode, messages, ok: false, problem: (err as Error).message });
      } finally {
        await server.stop();
      }
    }
  }
  return {
    scenario: name,
    size: options.size,
    machine,
    rows,
    columns,
    ok,
    notes,
    chart: {
      kind: 'bar',
      title: 'Transactions vs unbatched sends: committed msgs/s (durable, fsync)',
      yLabel: 'msgs/s',
      categories: rows.map((r) => `${String(r['mode'])} ${String(r['size'])}`),
      series: [{ name: 'committed msgs/s', values: rows.map((r) => (typeof r['msgsPerS'] === 'number' ? r['msgsPerS'] : null)) }],
    },
  };
}
