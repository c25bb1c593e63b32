// The servers a scenario measures, each started fresh as its own process: the in-memory relay
// (bench/relay.ts) and the broker (tools/qpidd.ts, CLI contract: --port 0 --data-dir DIR
// [--store-sync fsync|none], a pino "listening" line with the port, SIGTERM stops it cleanly).
// The broker gets a new data directory under os.tmpdir(), removed when it stops.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerScript, relayScript } from './paths.js';
import { startServer } from './process.js';
import type { ExitStatus } from './process.js';

export type ServerKind = 'relay' | 'broker';

export interface BenchServer {
  readonly kind: ServerKind;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly dataDir?: string;
  readonly stderrTail: readonly string[];
  /** True once the process has exited on its own (a crash, during a row). */
  exitedEarly(): boolean;
  stop(): Promise<ExitStatus>;
}

export async function startRelay(extraArgs: readonly string[] = []): Promise<BenchServer> {
  const server = await startServer({ args: [relayScript, '--port', '0', ...extraArgs] });
  let stopping = false;
  let exited = false;
  void server.exited.then(() => (exited = true));
  return {
    kind: 'relay',
    host: '127.0.0.1',
    port: server.port,
    pid: server.pid,
    stderrTail: server.stderrTail,
    exitedEarly: () => exited && !stopping,
    stop: () => {
      stopping = true;
      return server.stop();
    },
  };
}

export interface BrokerStartOptions {
  readonly storeSync?: 'fsync' | 'none';
  readonly extraArgs?: readonly string[];
}

export async function startBroker(options: BrokerStartOptions = {}): Promise<BenchServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'qpidd-bench-'));
  const args = [brokerScript, '--port', '0', '--data-dir', dataDir];
  if (options.storeSync) args.push('--store-sync', options.storeSync);
  args.push(...(options.extraArgs ?? []));
  let server;
  try {
    server = await startServer({ args });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  let stopping = false;
  let exited = false;
  void server.exited.then(() => (exited = true));
  return {
    kind: 'broker',
    host: '127.0.0.1',
    port: server.port,
    pid: server.pid,
    dataDir,
    stderrTail: server.stderrTail,
    exitedEarly: () => exited && !stopping,
    stop: async () => {
      stopping = true;
      const status = await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
      return status;
    },
  };
}
