// The brokers of a crash run: one standalone qpidd, or an HA cluster of real qpidd processes in
// which the harness is the cluster manager (it promotes with the real `qpid-ha --cluster-manager
// promote`, as a resource manager would). Every incarnation of every broker is kept, so that a
// failing run's report holds the logs of brokers that have since been killed.
import { mkdirSync } from 'node:fs';
import type { HaStatus } from '../../../src/ha/node.js';
import { freePort, removeDir, startQpidd, tempDir, type BrokerProcess } from '../../helpers/broker-process.js';
import { killOnExit } from '../../helpers/children.js';
import { Cluster } from '../../helpers/cluster.js';

/** How long the harness waits for a broker to reach a state after a fault. */
export const RECOVERY_MS_MAX = 30_000;

export interface Incarnation {
  readonly name: string;
  readonly broker: BrokerProcess;
}

export { killOnExit };

abstract class Brokers {
  readonly incarnations: Incarnation[] = [];
  abstract readonly url: string;
  abstract stop(): Promise<void>;

  protected track(name: string, broker: BrokerProcess): BrokerProcess {
    this.incarnations.push({ name, broker });
    killOnExit(broker.child);
    return broker;
  }
}

/** One broker on a fixed port and data directory, restarted in place after each kill. */
export class StandaloneBrokers extends Brokers {
  private current: BrokerProcess | null = null;
  readonly dataDir = tempDir('qpidd-crash-suite-data-');

  private constructor(readonly port: number) {
    super();
  }

  get url(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(): Promise<StandaloneBrokers> {
    const brokers = new StandaloneBrokers(await freePort());
    try {
      await brokers.restart();
    } catch (err) {
      await brokers.stop();
      throw err;
    }
    return brokers;
  }

  get broker(): BrokerProcess {
    if (!this.current) throw new Error('the standalone broker is not running');
    return this.current;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const broker = this.broker;
    broker.kill(signal);
    await broker.exited;
    this.current = null;
  }

  /** Deletes the broker's data directory while it is down. */
  wipeStore(): void {
    if (this.current) throw new Error('wipeStore: the broker is running');
    removeDir(this.dataDir);
    mkdirSync(this.dataDir);
  }

  async restart(): Promise<BrokerProcess> {
    const broker = await startQpidd({ dataDir: this.dataDir, port: this.port, name: 'standalone', timeoutMs: RECOVERY_MS_MAX });
    this.current = this.track('standalone', broker);
    return broker;
  }

  async stop(): Promise<void> {
    if (this.current) {
      this.current.kill('SIGKILL');
      await this.current.exited;
      this.current = null;
    }
    removeDir(this.dataDir);
  }
}

/** An HA cluster; `primary` is the index the harness last promoted. */
export class ClusterBrokers extends Brokers {
  primary = 0;
  /** Brokers stopped with SIGSTOP and not yet continued. */
  readonly stopped = new Set<number>();

  private constructor(readonly cluster: Cluster) {
    super();
    cluster.brokers.forEach((broker, i) => broker && this.track(cluster.name(i), broker));
  }

  get url(): string {
    return this.cluster.url;
  }

  get size(): number {
    return this.cluster.ports.length;
  }

  static async start(size: number, heartbeatS: number): Promise<ClusterBrokers> {
    const cluster = await Cluster.start({ size, heartbeatS, maintenanceS: 0.1, backupTimeoutS: 5 });
    const brokers = new ClusterBrokers(cluster);
    try {
      await cluster.promoteAndWait(0);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    brokers.primary = 0;
    return brokers;
  }

  name(i: number): string {
    return this.cluster.name(i);
  }

  running(i: number): boolean {
    return this.cluster.brokers[i] !== null;
  }

  backups(): number[] {
    return this.cluster.ports.map((_, i) => i).filter((i) => i !== this.primary);
  }

  status(i: number): Promise<HaStatus> {
    return this.cluster.status(i);
  }

  async kill(i: number): Promise<void> {
    const broker = this.cluster.broker(i);
    this.stopped.delete(i);
    await this.cluster.kill(i, 'SIGKILL');
    await broker.exited;
  }

  /** Broker i exited on its own (it fenced itself): mark it down without signalling it. */
  forget(i: number): void {
    this.stopped.delete(i);
    this.cluster.brokers[i] = null;
  }

  signal(i: number, signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.cluster.broker(i).kill(signal);
    if (signal === 'SIGSTOP') this.stopped.add(i);
    else this.stopped.delete(i);
  }

  async restart(i: number): Promise<BrokerProcess> {
    const broker = await this.cluster.startBroker(i);
    this.track(this.name(i), broker);
    return broker;
  }

  async promote(i: number, force = false): Promise<void> {
    await this.cluster.promote(i, { force });
    this.primary = i;
  }

  waitForState(i: number, states: string | readonly string[], timeoutMs = RECOVERY_MS_MAX): Promise<HaStatus> {
    return this.cluster.waitForState(i, states, timeoutMs);
  }

  /** The cluster is whole again: the primary active and every other broker a ready backup. */
  async waitWhole(timeoutMs = RECOVERY_MS_MAX): Promise<void> {
    await this.waitForState(this.primary, 'active', timeoutMs);
    for (const i of this.backups()) await this.waitForState(i, 'ready', timeoutMs);
  }

  /** Resolves when broker i logs its move into `state` (log lines arrive sooner than a status
   * poll could see a short-lived state such as catchup). */
  waitForStateLog(i: number, state: string, timeoutMs = RECOVERY_MS_MAX): Promise<unknown> {
    return this.cluster.broker(i).waitForLog((line) => line.msg === 'HA state changed' && line['to'] === state, timeoutMs);
  }

  async stop(): Promise<void> {
    await this.cluster.stop();
  }
}

