// An HA cluster of real qpidd processes for tests: the test plays the cluster manager (it
// promotes, kills, restarts), as qpid-ha --cluster-manager does for a resource manager.
// Scenario tests read as documentation: `await cluster.kill(0); await cluster.promote(1)`.

import { spawn } from 'node:child_process';
import type { HaStatus } from '../../src/ha/node.js';
import { ManagementClient, managementRequest, managementRequestAll } from '../../src/management/client.js';
import { freePort, removeDir, startQpidd, tempDir, TOOL, waitFor, type BrokerProcess, type StartOptions } from './broker-process.js';

export interface StoreSummary {
  readonly lastLsn: number;
  readonly epoch: number;
  readonly queues: { name: string; count: number; bytes: number; durable: boolean; arguments: Record<string, unknown> }[];
  readonly exchanges: { name: string; type: string }[];
  readonly bindings: { exchange: string; queue: string; key: string }[];
}

export interface ClusterOptions {
  readonly size: number;
  /** --ha-replicate (default all). */
  readonly replicate?: 'none' | 'configuration' | 'all';
  readonly heartbeatS?: number;
  readonly maintenanceS?: number;
  readonly backupTimeoutS?: number;
  readonly extraArgs?: readonly string[];
  /** Who the test logs in as to manage the brokers (a cluster run under --auth yes). */
  readonly login?: { readonly user: string; readonly password: string };
}

export class Cluster {
  readonly brokers: (BrokerProcess | null)[];
  readonly ports: number[];
  readonly dataDirs: string[];
  readonly url: string;

  private constructor(
    private readonly options: ClusterOptions,
    ports: number[],
  ) {
    this.ports = ports;
    this.dataDirs = ports.map(() => tempDir('qpidd-ha-'));
    this.brokers = ports.map(() => null);
    this.url = ports.map((p) => `127.0.0.1:${p}`).join(',');
  }

  static async start(options: ClusterOptions): Promise<Cluster> {
    const ports: number[] = [];
    while (ports.length < options.size) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const cluster = new Cluster(options, ports);
    const started = await Promise.allSettled(ports.map((_, i) => cluster.startBroker(i)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // Leave no broker behind: a live child process would keep the test file from ever exiting.
      await cluster.stop();
      throw failed.reason;
    }
    return cluster;
  }

  name(i: number): string {
    return `b${i}`;
  }

  args(i: number): string[] {
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

  async startBroker(i: number, extraArgs: readonly string[] = [], launcher?: StartOptions['launcher']): Promise<BrokerProcess> {
    const broker = await startQpidd({ dataDir: this.dataDirs[i] as string, port: this.ports[i] as number, name: this.name(i), args: [...this.args(i), ...extraArgs], ...(launcher ? { launcher, timeoutMs: 30_000 } : {}) });
    this.brokers[i] = broker;
    return broker;
  }

  broker(i: number): BrokerProcess {
    const broker = this.brokers[i];
    if (!broker) throw new Error(`broker b${i} is not running`);
    return broker;
  }

  address(i: number): { transport: 'tcp'; host: string; port: number } {
    return { transport: 'tcp', host: '127.0.0.1', port: this.ports[i] as number };
  }

  private credentials(): { username?: string; password?: string } {
    const login = this.options.login;
    return login ? { username: login.user, password: login.password } : {};
  }

  /** A management request to broker i over an admin connection (works on backups). */
  manage<T = unknown>(i: number, operation: string, args: Record<string, unknown> = {}): Promise<T> {
    return managementRequest<T>(this.address(i), operation, args, { admin: true, timeoutMs: 10_000, ...this.credentials() });
  }

  /** What broker i's store holds (queues with counts, exchanges, bindings; each by name), read
   * page by page over one connection. */
  async summary(i: number): Promise<StoreSummary> {
    const client = await ManagementClient.connect(this.address(i), { admin: true, timeoutMs: 10_000, ...this.credentials() });
    try {
      const { lastLsn, epoch } = await client.request<{ lastLsn: number; epoch: number }>('store-summary');
      return {
        lastLsn,
        epoch,
        queues: await client.requestAll<StoreSummary['queues'][number]>('store-queues'),
        exchanges: await client.requestAll<StoreSummary['exchanges'][number]>('store-exchanges'),
        bindings: await client.requestAll<StoreSummary['bindings'][number]>('store-bindings'),
      };
    } finally {
      client.close();
    }
  }

  /** The bodies of the messages on a queue in broker i's store, oldest first. */
  async storedBodies(i: number, queue: string): Promise<unknown[]> {
    const rows = await managementRequestAll<{ body: unknown }>(this.address(i), 'store-messages', { queue }, { admin: true, timeoutMs: 10_000, ...this.credentials() });
    return rows.map((r) => r.body);
  }

  /** Waits until every running backup's store has caught up with the primary's last LSN. */
  async waitForReplication(primary: number, timeoutMs = 15_000): Promise<void> {
    const target = (await this.status(primary)).lastLsn;
    for (let j = 0; j < this.brokers.length; j++) {
      if (j === primary || !this.brokers[j]) continue;
      await waitFor(async () => (await this.status(j)).lastLsn >= target, `b${j} to reach LSN ${target}`, timeoutMs, 50);
    }
  }

  status(i: number): Promise<HaStatus> {
    return managementRequest<HaStatus>(this.address(i), 'status', {}, { admin: true, timeoutMs: 5000, ...this.credentials() });
  }

  async waitForState(i: number, states: string | readonly string[], timeoutMs = 20_000): Promise<HaStatus> {
    const wanted = typeof states === 'string' ? [states] : states;
    return await waitFor(
      async () => {
        const status = await this.status(i);
        return wanted.includes(status.state) ? status : null;
      },
      `b${i} to be ${wanted.join('|')}`,
      timeoutMs,
      50,
    );
  }

  /** Runs the real tool, as a cluster manager would. */
  tool(name: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const login = this.options.login;
      const env = login ? { ...process.env, QPID_PASSWORD: login.password } : process.env;
      const child = spawn(process.execPath, [TOOL(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  async promote(i: number, options: { force?: boolean } = {}): Promise<void> {
    const user = this.options.login ? `${this.options.login.user}@` : '';
    const result = await this.tool('qpid-ha', ['--cluster-manager', '-b', `${user}127.0.0.1:${this.ports[i]}`, 'promote', ...(options.force ? ['--force'] : [])]);
    if (result.code !== 0) throw new Error(`promote b${i} failed (${result.code}): ${result.stderr.trim()}`);
  }

  /** Promotes broker i and waits until the others are ready backups of it. */
  async promoteAndWait(i: number): Promise<void> {
    await this.promote(i);
    await this.waitForState(i, 'active');
    for (let j = 0; j < this.brokers.length; j++) if (j !== i && this.brokers[j]) await this.waitForState(j, 'ready');
  }

  kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<unknown> {
    const broker = this.broker(i);
    broker.kill(signal);
    this.brokers[i] = signal === 'SIGKILL' || signal === 'SIGTERM' ? null : broker;
    return signal === 'SIGKILL' || signal === 'SIGTERM' ? broker.exited : Promise.resolve();
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.brokers.map(async (broker) => {
        if (!broker) return;
        broker.kill('SIGCONT');
        broker.kill('SIGKILL');
        await broker.exited;
      }),
    );
    for (const dir of this.dataDirs) removeDir(dir);
  }
}
