// One simulated broker machine: a disk that survives, and a succession of processes, each the
// production HaNode driven exactly as tools/qpidd.ts and src/runtime.ts drive it (start, then
// listening), with the world injected: simulated clock, network, replication connector, status
// probe and disk. A process ends by crashing (the disk keeps only what was flushed), by a fatal
// error (onFatal: the real process exits with status 70), or it pauses and runs again later.

import type { BrokerConfig } from '../../src/config/index.js';
import { parseQpidUrl } from '../../src/core/qpid-url.js';
import type { HaReplicate } from '../../src/config/broker-config.js';
import type { Heard } from '../../src/ha/heard.js';
import { HaNode, type HaStatus } from '../../src/ha/node.js';
import { DEFAULT_SHIPPING_LIMITS } from '../../src/ha/primary.js';
import { MemoryDisk } from '../../store/index.js';
import { SimStore, type DiskHooks } from './disk.js';
import type { SimNetwork } from './network.js';
import { SimReplicationConnector } from './replication.js';
import { SimServer, type ServerHooks } from './server.js';
import { traceLogger, type Trace } from './trace.js';
import { Life, SimClock, type World } from './world.js';

export const AMQP_PORT = 5672;

/** --ha-confirm-timeout of the simulated brokers: derived, not drawn, so that every recorded
 * seed keeps its scenario. */
export function confirmTimeoutMsOf(knobs: BrokerKnobs): number {
  return knobs.heartbeatMs * 2.5;
}

export interface BrokerKnobs {
  readonly heartbeatMs: number;
  readonly maintenanceMs: number;
  readonly backupTimeoutMs: number;
  readonly replicate: HaReplicate;
  readonly fsyncMs: number;
  readonly logMaxBytes: number;
}

export interface BrokerEnv {
  readonly world: World;
  readonly net: SimNetwork;
  readonly trace: Trace;
  readonly brokersUrl: string;
  readonly knobs: BrokerKnobs;
  readonly serverHooks: ServerHooks;
  readonly diskHooks: (broker: SimBroker, life: Life) => DiskHooks;
  readonly onFatalLine: (broker: SimBroker, obj: object, msg: string) => void;
  readonly onExit: (broker: SimBroker, why: string) => void;
  readonly brokerNamed: (host: string) => SimBroker | undefined;
}

export class SimBroker {
  readonly disk = new MemoryDisk();
  life: Life | null = null;
  node: HaNode | null = null;
  store: SimStore | null = null;
  server: SimServer | null = null;
  connector: SimReplicationConnector | null = null;
  incarnation = 0;
  /** The disk's fsync latency is multiplied by this (slow-disk faults). */
  diskSlowdown = 1;
  /** <data-dir>/ha-heard.json (src/ha/heard-file.ts): written whole and synced, it survives
   * every crash, as the data dir does. */
  private heard: Heard | null = null;

  /** What the broker's record of heard positions holds now. */
  get recordedHeard(): Heard | null {
    return this.heard;
  }

  constructor(
    readonly name: string,
    private readonly env: BrokerEnv,
  ) {}

  get up(): boolean {
    return this.life?.alive ?? false;
  }

  get paused(): boolean {
    return this.life?.paused ?? false;
  }

  config(): BrokerConfig {
    const knobs = this.env.knobs;
    const url = parseQpidUrl(this.env.brokersUrl);
    return {
      dataDir: `/sim/${this.name}`,
      port: AMQP_PORT,
      interface: this.name,
      name: this.name,
      logLevel: 'info',
      auth: false,
      realm: 'QPID',
      allowAnonymous: false,
      allowPlainWithoutTls: false,
      saslUsersFile: null,
      aclFile: null,
      tls: { port: null, certFile: null, keyFile: null, caFile: null, requireClientAuth: false, requireEncryption: false },
      maxSessionsPerConnection: 256,
      maxLinksPerSession: 1024,
      maxConnectionsPerUser: 0,
      maxConnections: 1000,
      defaultQueueLimitBytes: 0,
      flowStopPercent: 80,
      flowResumePercent: 70,
      maxMessageSizeBytes: 1024 * 1024,
      storeSync: 'fsync',
      storeLogMaxBytes: knobs.logMaxBytes,
      storeMapSizeBytes: 1024 * 1024 * 1024,
      storeVerifyOnStart: 'none',
      storeReserveBytes: 0,
      crashPlan: new Map(),
      httpPort: null,
      httpSsl: false,
      httpMetricsAuth: false,
      maxUnsettled: 1000,
      maxFrameSizeBytes: 65536,
      queuePatterns: null,
      topicPatterns: null,
      maxDecodeDepth: 100,
      maxTransactionOperations: 10_000,
      maxTransactionAgeMs: 3_600_000,
      maxConnectionBufferBytes: 2 * 1024 * 1024,
      handshakeTimeoutMs: 10_000,
      maxPendingHandshakes: 1000,
      configFile: null,
      ha: {
        cluster: true,
        queueReplication: false,
        brokersUrl: url,
        brokersUrlText: this.env.brokersUrl,
        publicUrl: null,
        publicUrlText: null,
        replicate: knobs.replicate,
        username: null,
        password: null,
        mechanism: 'ANONYMOUS',
        backupTimeoutMs: knobs.backupTimeoutMs,
        linkMaintenanceIntervalMs: knobs.maintenanceMs,
        linkHeartbeatIntervalMs: knobs.heartbeatMs,
        clientRedirect: false,
        // Derived, not drawn, so that every recorded seed keeps its scenario.
        confirmTimeoutMs: confirmTimeoutMsOf(knobs),
        catchUpStallTimeoutMs: knobs.heartbeatMs * 2,
        catchUpShare: 0.25,
        frameWindow: 32,
        shipping: DEFAULT_SHIPPING_LIMITS,
        totalFailureResync: 'wipe',
        minBackups: url.addresses.length >= 3 ? 1 : 0,
      },
    };
  }

  /** A new process on this machine: open the store, listen, look for the primary. */
  start(): void {
    const env = this.env;
    const life = new Life(this.name, ++this.incarnation);
    this.life = life;
    const config = this.config();
    const store = new SimStore(this.disk, `${this.name}-store`, env.world, life, () => env.knobs.fsyncMs * this.diskSlowdown, env.diskHooks(this, life), config.storeLogMaxBytes);
    const server = new SimServer({ name: this.name, net: env.net, node: () => (this.life === life ? this.node : null), hooks: env.serverHooks });
    const connector = new SimReplicationConnector(env.net, this.name, env.knobs.heartbeatMs, env.trace);
    const probeTimeoutMs = Math.min(5000, Math.max(1000, config.ha.linkHeartbeatIntervalMs));
    const node = new HaNode({
      config,
      store,
      server,
      clock: new SimClock(env.world, life),
      logger: traceLogger(env.trace, this.name, life, (obj, msg) => env.onFatalLine(this, obj, msg)),
      connector,
      probe: (address) => env.net.request<HaStatus>(this.name, address.host, () => statusOf(env.brokerNamed(address.host)), probeTimeoutMs),
      onFatal: (err) => this.exit(life, `fatal: ${(err as Error)?.message ?? String(err)}`),
      heardRecord: {
        load: () => this.heard,
        save: (heard) => {
          this.heard = heard;
        },
      },
    });
    this.store = store;
    this.server = server;
    this.connector = connector;
    this.node = node;
    env.net.attach(this.name, life, server.acceptor);
    env.trace.note(this.name, 'process started', { incarnation: life.incarnation, epoch: store.meta().epoch, lastLsn: store.meta().lastLsn });
    env.world.schedule(0, life, () => {
      node.start().then(
        () => {
          if (life.alive) node.listening(AMQP_PORT);
        },
        (err: unknown) => this.exit(life, `start failed: ${(err as Error)?.message ?? String(err)}`),
      );
    });
  }

  /** kill -9 (`reset`: the host's kernel resets the connections) or the machine dies (silence). */
  crash(reset: boolean, why: string): void {
    const life = this.life;
    if (!life || !life.alive) return;
    this.env.trace.note(this.name, `crash (${why})`, { reset });
    life.alive = false;
    this.env.net.died(this.name, life, reset);
    this.store?.crash();
    this.node = null;
  }

  /** onFatal: the process exits. The store is closed a moment later (the exit is not inside the
   * production code's call stack), and what was not flushed is lost. */
  private exit(life: Life, why: string): void {
    if (!life.alive || this.life !== life) return;
    this.env.trace.note(this.name, 'process exits', { why });
    life.alive = false;
    this.env.net.died(this.name, life, true);
    const store = this.store;
    this.node = null;
    this.env.world.schedule(0, null, () => store?.crash());
    this.env.onExit(this, why);
  }

  pause(): void {
    const life = this.life;
    if (!life || !life.alive || life.paused) return;
    this.env.trace.note(this.name, 'paused (SIGSTOP)');
    life.paused = true;
    life.pauseGeneration++;
    this.env.net.paused(this.name, life);
  }

  resume(): void {
    const life = this.life;
    if (!life || !life.alive || !life.paused) return;
    this.env.trace.note(this.name, 'resumed (SIGCONT)');
    this.env.world.resume(life);
  }
}

function statusOf(broker: SimBroker | undefined): HaStatus {
  const node = broker?.node;
  if (!node) throw new Error('not running');
  return node.status();
}
