// Real qpid-ha-manager processes beside the brokers of a test Cluster, on a test etcd: the
// manager is the cluster manager here, the test only kills and restarts (nothing promotes by
// hand). `managers.leader()` reads the leader key through the real `status` command.
import { spawn, type ChildProcess } from 'node:child_process';
import { killOnExit } from './children.js';
import { TOOL, waitFor } from './broker-process.js';
import { after, before } from 'node:test';
import { Cluster, type ClusterOptions } from './cluster.js';
import { startEtcd, startEtcdCluster, type EtcdClusterProcess, type EtcdProcess } from './etcd.js';
import { EtcdCluster } from '../../src/manager/etcd.js';
import { readView } from '../../src/manager/keys.js';
import { ProbeProducer } from './probe-producer.js';

export interface ManagerProcess {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[];
  readonly output: () => string;
  readonly exited: Promise<void>;
}

export interface ManagerSettings {
  readonly ttlS?: number;
  readonly checkIntervalS?: number;
  readonly totalFailureWaitS?: number;
}

export interface ClusterView {
  readonly leader: string | null;
  readonly paused: boolean;
  readonly record: { epoch: number; lsn: number; gate?: string[]; generation?: number; primary?: string } | null;
  readonly members: { name: string; broker: { state: string; lastLsn: number }; decision: { decision: string; reason: string } | null }[];
  readonly failovers: { to: string; at: string; reason: string }[];
}

export class Managers {
  readonly processes: (ManagerProcess | null)[];
  readonly clusterName = `c${process.pid}`;

  constructor(
    private readonly cluster: Cluster,
    readonly etcd: { readonly url: string },
    private readonly settings: ManagerSettings = {},
  ) {
    this.processes = cluster.ports.map(() => null);
  }

  start(i: number): ManagerProcess {
    const s = this.settings;
    const args = [
      TOOL('qpid-ha-manager'),
      '--etcd', this.etcd.url,
      '--cluster', this.clusterName,
      '--broker', `127.0.0.1:${this.cluster.ports[i]}`,
      '--name', this.cluster.name(i),
      '--ttl', String(s.ttlS ?? 3),
      '--check-interval', String(s.checkIntervalS ?? 0.1),
      '--total-failure-wait', String(s.totalFailureWaitS ?? 30),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(child);
    const logs: Record<string, unknown>[] = [];
    let output = '';
    let buffered = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      output += chunk;
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          logs.push(JSON.parse(text) as Record<string, unknown>);
        } catch {
          // not a log line
        }
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const manager = { child, logs, output: () => output, exited };
    this.processes[i] = manager;
    return manager;
  }

  startAll(): void {
    for (let i = 0; i < this.processes.length; i++) this.start(i);
  }

  async kill(i: number): Promise<void> {
    const manager = this.processes[i];
    if (!manager) return;
    manager.child.kill('SIGKILL');
    await manager.exited;
    this.processes[i] = null;
  }

  async stop(): Promise<void> {
    for (let i = 0; i < this.processes.length; i++) await this.kill(i);
    await this.reader?.close(false);
    this.reader = null;
  }

  /** Runs `qpid-ha-manager COMMAND --etcd .. --cluster ..`. */
  tool(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [TOOL('qpid-ha-manager'), ...args, '--etcd', this.etcd.url, '--cluster', this.clusterName], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  private reader: EtcdCluster | null = null;

  /** What `qpid-ha-manager status --json` prints, read in this process (spawning the tool for
   * every poll costs seconds on a loaded machine). */
  async view(): Promise<ClusterView> {
    this.reader ??= new EtcdCluster({ hosts: this.etcd.url.split(','), cluster: this.clusterName, ttlSeconds: 3, requestTimeoutMs: 5000 });
    return readView(await this.reader.read()) as unknown as ClusterView;
  }

  /** Waits until the leader key names a broker that is active, and returns its index. */
  async waitForActiveLeader(timeoutMs = 30_000, not?: number): Promise<number> {
    return await waitFor(
      async () => {
        const view = await this.view();
        const i = view.leader === null ? -1 : this.cluster.ports.findIndex((_, j) => this.cluster.name(j) === view.leader);
        if (i < 0 || i === not || !this.cluster.brokers[i]) return null;
        const status = await this.cluster.status(i).catch(() => null);
        return status?.state === 'active' ? i + 1 : null;
      },
      'an active leader',
      timeoutMs,
      50,
    ).then(
      (n) => n - 1,
      (err: unknown) => {
        // What each manager last decided, for the failure message.
        const tails = this.processes.map((p, j) => `b${j}: ${p ? p.logs.slice(-4).map((l) => `${String(l['msg'])} ${String(l['decision'] ?? '')} ${String(l['reason'] ?? '')} ${String((l['err'] as { message?: string } | undefined)?.message ?? '')}`).join(' | ') : '(no manager)'}`);
        throw new Error(`${(err as Error).message}\n${tails.join('\n')}`);
      },
    );
  }
}

/** A test file's etcd, started before its tests, and the clusters and managers its tests start
 * on it; all stopped when the file ends (managers first, so that none reacts to the brokers
 * stopping). `enabled: false` (a test skipped by default) starts no etcd. */
export function managedClusters(options: { readonly enabled?: boolean; /** A cluster of this many etcd members instead of one node. */ readonly etcdMembers?: number } = {}): {
  start(options: ClusterOptions, settings?: ManagerSettings): Promise<{ cluster: Cluster; managers: Managers }>;
  /** The file's etcd (a test that stops it: etcd-down.test.ts). */
  etcd(): EtcdProcess;
  /** The file's etcd cluster (etcdMembers). */
  etcdCluster(): EtcdClusterProcess;
} {
  let etcd: EtcdProcess | null = null;
  let members: EtcdClusterProcess | null = null;
  const clusters: Cluster[] = [];
  const managerSets: Managers[] = [];
  before(async () => {
    if (options.enabled === false) return;
    if (options.etcdMembers !== undefined) members = await startEtcdCluster(options.etcdMembers);
    else etcd = await startEtcd();
  });
  after(async () => {
    for (const managers of managerSets) await managers.stop();
    for (const cluster of clusters) await cluster.stop();
    await etcd?.stop();
    await members?.stop();
  });
  return {
    etcd: () => {
      if (!etcd) throw new Error('managedClusters: no single-node etcd (not started yet, disabled, or a cluster)');
      return etcd;
    },
    etcdCluster: () => {
      if (!members) throw new Error('managedClusters: no etcd cluster (etcdMembers not given)');
      return members;
    },
    async start(clusterOptions, settings = {}) {
      const cluster = await Cluster.start(clusterOptions);
      clusters.push(cluster);
      const managers = new Managers(cluster, (etcd ?? members) as { url: string }, settings);
      managerSets.push(managers);
      return { cluster, managers };
    },
  };
}

/** A 3-broker cluster under managers (heartbeat 0.5 s, backup timeout 2 s, the given ttl), whole:
 * one broker active under the leader key, the others ready; and a probe producer on `probe`
 * whose first message was accepted. */
export async function wholeManagedCluster(files: ReturnType<typeof managedClusters>, ttlS: number): Promise<{ cluster: Cluster; managers: Managers; leader: number; producer: ProbeProducer }> {
  const { cluster, managers } = await files.start({ size: 3, heartbeatS: 0.5, backupTimeoutS: 2 }, { ttlS });
  managers.startAll();
  const leader = await managers.waitForActiveLeader();
  for (let j = 0; j < 3; j++) if (j !== leader) await cluster.waitForState(j, 'ready');
  const producer = await ProbeProducer.start(cluster.url, 'probe');
  await producer.firstAcceptAfter(0);
  return { cluster, managers, leader, producer };
}
