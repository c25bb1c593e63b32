// The servers a scenario measures, each started fresh as its own process: the in-memory relay
// (bench/relay.ts) and the broker (tools/qpidd.ts, CLI contract: --port 0 --data-dir DIR
// [--store-sync fsync|none], a pino "listening" line with the port, SIGTERM stops it cleanly).
// The broker gets a new data directory under os.tmpdir(), removed when it stops.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerScript, relayScript } from './paths.js';
import { startServer, trackTempDir } from './process.js';
import type { ExitStatus } from './process.js';

export type ServerKind = 'relay' | 'broker';

export interface BenchServer {
  readonly kind: ServerKind;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly dataDir?: string;
  /** Other processes serving the same load (a cluster's backups): their CPU is reported too. */
  readonly peerPids?: readonly number[];
  /** The management HTTP port, when started with --http-port. */
  readonly httpPort?: number;
  /** The AMQP-over-TLS port, when started with --ssl-port. */
  readonly sslPort?: number;
  readonly stderrTail: readonly string[];
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<ExitStatus>;
  /** True once the process has exited on its own (a crash, during a row). */
  exitedEarly(): boolean;
  /** SIGKILL now (a crash the harness causes); resolves once the process is gone. */
  kill(): Promise<ExitStatus>;
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
    exited: server.exited,
    exitedEarly: () => exited && !stopping,
    kill: () => {
      stopping = true;
      server.kill('SIGKILL');
      return server.exited;
    },
    stop: () => {
      stopping = true;
      return server.stop();
    },
  };
}

export interface BrokerStartOptions {
  readonly storeSync?: 'fsync' | 'none';
  readonly extraArgs?: readonly string[];
  /** An existing data directory (a prepared store, a cluster member's): kept when the broker
   * stops. Without it the broker gets a fresh one, removed when it stops. */
  readonly dataDir?: string;
  /** A fixed AMQP port (cluster members must know each other's before they start); default 0. */
  readonly port?: number;
  /** Start the management HTTP listener on a free port (BenchServer.httpPort). */
  readonly http?: boolean;
  readonly readyTimeoutMs?: number;
  /** Another build of qpidd.js for this broker (default: brokerScript). */
  readonly script?: string;
}

/** BENCH_LOG_DIR=dir keeps every broker's log as dir/<name>-<time>.log, for a post-mortem. */
function brokerLogFile(extraArgs: readonly string[] | undefined): { logFile?: string } {
  const dir = process.env['BENCH_LOG_DIR'];
  if (!dir) return {};
  mkdirSync(dir, { recursive: true });
  const nameAt = extraArgs?.indexOf('--name') ?? -1;
  const label = nameAt >= 0 ? extraArgs?.[nameAt + 1] : 'qpidd';
  return { logFile: join(dir, `${label}-${new Date().toISOString().replace(/[:.]/g, '-')}.log`) };
}

export async function startBroker(options: BrokerStartOptions = {}): Promise<BenchServer> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'qpidd-bench-'));
  if (ownsDataDir) trackTempDir(dataDir);
  // BENCH_PROFILE_DIR=dir: every broker writes a V8 CPU profile there when it exits cleanly
  // (SIGTERM; a SIGKILLed broker writes none). Summarise with bench/profile-summary.ts.
  const profileDir = process.env['BENCH_PROFILE_DIR'];
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const args = [...nodeArgs, options.script ?? brokerScript, '--port', String(options.port ?? 0), '--data-dir', dataDir];
  if (options.storeSync) args.push('--store-sync', options.storeSync);
  if (options.http) args.push('--http-port', '0');
  // The load generators connect anonymously: brokers run with --auth no unless a scenario says.
  if (!options.extraArgs?.includes('--auth')) args.push('--auth', 'no');
  args.push(...(options.extraArgs ?? []));
  let server;
  try {
    server = await startServer({ args, ...(options.readyTimeoutMs ? { readyTimeoutMs: options.readyTimeoutMs } : {}), ...brokerLogFile(options.extraArgs) });
  } catch (err) {
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  let stopping = false;
  let exited = false;
  void server.exited.then(() => (exited = true));
  const httpPort = server.listening['httpPort'];
  const sslPort = server.listening['sslPort'];
  const cleanUp = (): void => {
    if (!ownsDataDir) return;
    rmSync(dataDir, { recursive: true, force: true });
    trackTempDir(dataDir, true);
  };
  return {
    kind: 'broker',
    host: '127.0.0.1',
    port: server.port,
    pid: server.pid,
    dataDir,
    ...(typeof httpPort === 'number' ? { httpPort } : {}),
    ...(typeof sslPort === 'number' ? { sslPort } : {}),
    stderrTail: server.stderrTail,
    exited: server.exited,
    exitedEarly: () => exited && !stopping,
    kill: async () => {
      stopping = true;
      server.kill('SIGKILL');
      const status = await server.exited;
      cleanUp();
      return status;
    },
    stop: async () => {
      stopping = true;
      const status = await server.stop();
      cleanUp();
      return status;
    },
  };
}
