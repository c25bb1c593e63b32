// A 3-broker HA cluster for the benchmarks, with the harness as its cluster manager: it picks the
// ports first (every broker's --ha-brokers-url names all of them), starts members on their own
// data directories, promotes, kills with SIGKILL and restarts on the same directory. State is read
// through each broker's management node over an administrative connection (backups accept those),
// polled with a deadline. Promotion runs the real tool (`qpid-ha --cluster-manager promote`), as a
// resource manager would, unless BENCH_PROMOTE=management asks for an in-process request.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { HaStatus } from '../../src/ha/node.js';
import { managementRequest } from '../../src/management/client.js';
import { brokerScript } from './paths.js';
import { trackChild, trackTempDir } from './process.js';
import { startBroker } from './servers.js';
import type { BenchServer } from './servers.js';

export type HaStateName = HaStatus['state'];

export interface BenchClusterOptions {
  readonly size: number;
  /** --ha-replicate (default all: every queue and message is replicated, ack gating on). */
  readonly replicate?: 'none' | 'configuration' | 'all';
  readonly maintenanceS?: number;
  readonly heartbeatS?: number;
  readonly backupTimeoutS?: number;
  /** Each member also serves management HTTP (BenchServer.httpPort). */
  readonly http?: boolean;
  readonly extraArgs?: readonly string[];
  /** Prepared data directories, by member index (a deep store for catch-up); others get new ones. */
  readonly dataDirs?: readonly (string | undefined)[];
}

/** A port that was free a moment ago: cluster members must know each other's before starting. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` every intervalMs until it returns a value, or throws at the deadline. */
export async function pollUntil<T>(check: () => Promise<T | undefined | null | false>, what: string, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export class BenchCluster {
  readonly members: (BenchServer | null)[];
  readonly url: string;
  private readonly ownedDirs: boolean[];

  private constructor(
    private readonly options: BenchClusterOptions,
    readonly ports: readonly number[],
    readonly dataDirs: readonly string[],
  ) {
    this.members = ports.map(() => null);
    this.url = ports.map((port) => `127.0.0.1:${port}`).join(',');
    this.ownedDirs = dataDirs.map((_, i) => options.dataDirs?.[i] === undefined);
  }

  /** Picks the ports and data directories; starts no broker (start() or startAll()). */
  static async create(options: BenchClusterOptions): Promise<BenchCluster> {
    const ports: number[] = [];
    while (ports.length < options.size) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const dataDirs = ports.map((_, i) => options.dataDirs?.[i] ?? mkdtempSync(join(tmpdir(), `qpidd-bench-b${i}-`)));
    dataDirs.forEach((dir, i) => {
      if (options.dataDirs?.[i] === undefined) trackTempDir(dir);
    });
    return new BenchCluster(options, ports, dataDirs);
  }

  /** Starts every member, promotes member 0 and waits until the others are ready backups. */
  static async startReady(options: BenchClusterOptions, log: (line: string) => void): Promise<BenchCluster> {
    const cluster = await BenchCluster.create(options);
    try {
      await Promise.all(cluster.ports.map((_, i) => cluster.start(i)));
      await cluster.promote(0);
      await cluster.waitForState(0, ['active'], 30_000);
      for (let i = 1; i < options.size; i++) await cluster.waitForState(i, ['ready'], 60_000);
      log(`  cluster ${cluster.url}: b0 active, ${options.size - 1} ready backups`);
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  args(): string[] {
    const o = this.options;
    return [
      '--ha-cluster', 'yes',
      '--ha-brokers-url', this.url,
      '--ha-replicate', o.replicate ?? 'all',
      '--link-maintenance-interval', String(o.maintenanceS ?? 0.1),
      '--link-heartbeat-interval', String(o.heartbeatS ?? 1),
      '--ha-backup-timeout', String(o.backupTimeoutS ?? 5),
      ...(o.extraArgs ?? []),
    ];
  }

  /** Starts member i on its port and data directory (a restart keeps the directory), with
   * `moreArgs` after the cluster's own, for a flag that only one run needs, such as
   * --ha-total-failure-resync (not one of args(): qpidd refuses an option given twice). */
  async start(i: number, moreArgs: readonly string[] = []): Promise<BenchServer> {
    if (this.members[i]) throw new Error(`b${i} is already running`);
    const member = await startBroker({
      port: this.ports[i] as number,
      dataDir: this.dataDirs[i] as string,
      http: this.options.http ?? false,
      extraArgs: ['--name', `b${i}`, ...this.args(), ...moreArgs],
      readyTimeoutMs: 60_000,
    });
    this.members[i] = member;
    return member;
  }

  member(i: number): BenchServer {
    const member = this.members[i];
    if (!member) throw new Error(`b${i} is not running`);
    return member;
  }

  address(i: number): { transport: 'tcp'; host: string; port: number } {
    return { transport: 'tcp', host: '127.0.0.1', port: this.ports[i] as number };
  }

  status(i: number, timeoutMs = 5000): Promise<HaStatus> {
    return managementRequest<HaStatus>(this.address(i), 'status', {}, { admin: true, timeoutMs });
  }

  async waitForState(i: number, states: readonly HaStateName[], timeoutMs: number, intervalMs = 50): Promise<HaStatus> {
    let last: HaStatus | undefined;
    return await pollUntil(
      async () => {
        if (this.members[i]?.exitedEarly()) throw new Error(`b${i} exited`);
        last = await this.status(i);
        return states.includes(last.state) ? last : undefined;
      },
      `b${i} to be ${states.join('|')}`,
      timeoutMs,
      intervalMs,
    ).catch((err: unknown) => {
      const seen = last ? ` (last seen ${last.state}, lsn ${last.lastLsn}, primary ${last.primary ?? 'unknown'})` : '';
      throw new Error(`${(err as Error).message}${seen}`);
    });
  }

  /** Makes member i primary as a cluster manager does; resolves when the command returned. */
  async promote(i: number): Promise<void> {
    if (process.env['BENCH_PROMOTE'] === 'management') {
      await managementRequest(this.address(i), 'promote', { clusterManager: true }, { admin: true, timeoutMs: 10_000 });
      return;
    }
    const tool = join(dirname(brokerScript), 'qpid-ha.js');
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [tool, '--cluster-manager', '-b', `127.0.0.1:${this.ports[i]}`, 'promote'], { stdio: ['ignore', 'ignore', 'pipe'] });
      trackChild(child);
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    if (result.code !== 0) throw new Error(`qpid-ha promote b${i} exited ${result.code}: ${result.stderr.trim()}`);
  }

  /** SIGKILL member i; resolves once the process is gone (its data directory stays). */
  async kill(i: number): Promise<void> {
    const member = this.member(i);
    this.members[i] = null;
    await member.kill();
  }

  /** Stops member i cleanly (SIGTERM: a profiled broker writes its profile); its data directory
   * stays. */
  async stopMember(i: number): Promise<void> {
    const member = this.member(i);
    this.members[i] = null;
    await member.stop();
  }

  /** SIGSTOP (freeze) or SIGCONT (thaw) member i: a hung process, not a dead one. */
  signal(i: number, signal: 'SIGSTOP' | 'SIGCONT'): void {
    process.kill(this.member(i).pid, signal);
  }

  /** Stops every member (SIGTERM, SIGKILL after a grace period) and removes the data
   * directories the cluster created. A clean stop lets a profiled broker write its profile. */
  async stop(): Promise<void> {
    await Promise.all(
      this.members.map(async (member, i) => {
        if (!member) return;
        this.members[i] = null;
        await member.stop();
      }),
    );
    this.dataDirs.forEach((dir, i) => {
      if (!this.ownedDirs[i]) return;
      rmSync(dir, { recursive: true, force: true });
      trackTempDir(dir, true);
    });
  }
}
