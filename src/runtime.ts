// Starting and stopping a broker process: open the store (taking the data dir's lock), recover
// the messaging model, listen, and on stop finish in-flight commits before releasing the store.
// tools/qpidd.ts is a thin shell around startBroker(); tests and embedders call it directly.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { lockDataDir, openLmdbStore, SpaceReserve, StoreError, verifyInChild, type RecoveryReport, type Store } from '../store/index.js';
import { armCrashPoints } from './core/crash-points.js';
import { AmqpServer } from './amqp/server.js';
import { heardFile } from './ha/heard-file.js';
import { Broker } from './broker/broker.js';
import type { BrokerConfig } from './config/index.js';
import { systemClock, type Clock } from './core/clock.js';
import { createBrokerLogger, type BrokerLogger } from './core/log.js';
import { MemberHosts } from './ha/member-hosts.js';
import { HaNode, type HaStatus } from './ha/node.js';
import { REPLICATION_ADDRESS } from './ha/messages.js';
import { Settlements } from './ha/settlements.js';
import { RheaReplicationEndpoint } from './ha/transport.js';
import { managementRequest } from './management/client.js';
import { reachableHost, removeEndpoint, writeEndpoint } from './management/endpoint.js';
import { ManagementHttp } from './management/http.js';
import { HttpAuthenticator } from './management/http-auth.js';
import { ManagementNode } from './management/node.js';
import { listenFailure, prepareDataDir } from './startup-checks.js';
import { createSecurity } from './security/security.js';
import { loadTlsMaterial, setClientTlsFiles } from './security/tls-context.js';

export interface RunningBroker {
  readonly name: string;
  readonly port: number;
  readonly httpPort: number | null;
  /** --ssl-port as bound, or null. */
  readonly sslPort: number | null;
  readonly store: Store;
  readonly logger: BrokerLogger;
  stop(): Promise<void>;
  /** SIGHUP: read the users file (and ACL) again; a bad file keeps the old contents. */
  reload(): void;
}

const EXPIRY_SWEEP_MS = 1000;

export interface StartOptions {
  readonly clock?: Clock;
  readonly logger?: BrokerLogger;
  /** What to do on a fatal error (default: log and exit the process with code 70). */
  readonly onFatal?: (err: unknown) => void;
}

export async function startBroker(config: BrokerConfig, options: StartOptions = {}): Promise<RunningBroker> {
  const clock = options.clock ?? systemClock;
  const initialRole = config.ha.cluster ? 'joining' : 'standalone';
  const logger = options.logger ?? createBrokerLogger({ name: config.name, role: initialRole, level: config.logLevel });
  // Before anything opens it: a data dir that cannot hold a store is the operator's to fix
  // (exit 2, naming the option), and the map size must fit the machine.
  const security = createSecurity(config, clock, logger.child({ module: 'security' }));
  const tlsMaterial = loadTlsMaterial(config.tls);
  // Our own connections to ssl: peers (HA) trust --ssl-ca-file and present our certificate.
  setClientTlsFiles({ caFile: config.tls.caFile, certFile: config.tls.certFile, keyFile: config.tls.keyFile });
  const dataDir = prepareDataDir(config);
  for (const note of dataDir.notes) logger.info({ dataDir: config.dataDir, note }, 'data dir checked');
  const storeLogger = logger.child({ module: 'store' });
  // The lock first: nothing below may look at a store another process holds.
  const lock = lockDataDir(config.dataDir, storeLogger);
  const reserve = new SpaceReserve(config.dataDir, config.storeReserveBytes, storeLogger);
  let storeCorrupt: string | null;
  try {
    reserve.beforeOpen();
    storeCorrupt = await verifyOnStart(config, logger);
  } catch (err) {
    lock.release();
    throw err;
  }
  if (config.crashPlan.size > 0) {
    armCrashPoints(config.crashPlan, (point) => process.stderr.write(`qpidd: crash point ${point} reached: SIGKILL\n`));
    logger.warn({ crashAt: Object.fromEntries(config.crashPlan) }, 'crash points armed: this broker will kill itself (--crash-at)');
  }
  const store = openLmdbStore({
    dataDir: config.dataDir,
    lock,
    sync: config.storeSync,
    mapSizeBytes: dataDir.mapSizeBytes,
    logMaxBytes: config.storeLogMaxBytes,
    // A cluster store may have to take back the end of its log (incremental catch-up).
    undo: config.ha.cluster,
    logger: storeLogger,
  });
  store.onFullChange((full) => (full ? reserve.release('a commit failed for lack of space') : reserve.keep()));
  const meta = store.meta();
  logger.info({ dataDir: config.dataDir, storeId: meta.storeId, epoch: meta.epoch, lastLsn: meta.lastLsn, lastRole: meta.lastRole }, 'store opened');
  const recovery = recoveryBase(store, config);

  const server = new AmqpServer(clock, logger.child({ module: 'amqp' }), {
    host: config.interface,
    port: config.port,
    containerId: config.name,
    maxConnections: config.maxConnections,
    maxFrameSizeBytes: config.maxFrameSizeBytes,
    maxUnsettled: config.maxUnsettled,
    sasl: security.sasl,
    access: security.acl,
    maxConnectionsPerUser: config.maxConnectionsPerUser,
    openLimits: { maxSessionsPerConnection: config.maxSessionsPerConnection, maxLinksPerSession: config.maxLinksPerSession },
    nodePolicies: { queuePatterns: config.queuePatterns, topicPatterns: config.topicPatterns },
    maxDecodeDepth: config.maxDecodeDepth,
    maxTransactionOperations: config.maxTransactionOperations,
    maxTransactionAgeMs: config.maxTransactionAgeMs,
    maxMessageSizeBytes: config.maxMessageSizeBytes,
    maxConnectionBufferBytes: config.maxConnectionBufferBytes,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    maxPendingHandshakes: config.maxPendingHandshakes,
    ...(config.ha.cluster ? { idleTimeoutMs: config.ha.linkHeartbeatIntervalMs } : {}),
    tls: config.tls.port !== null && tlsMaterial ? { port: config.tls.port, material: tlsMaterial } : null,
    requireEncryption: config.tls.requireEncryption,
  });

  const members = config.ha.cluster ? new MemberHosts(config.ha.brokersUrl?.addresses ?? [], logger.child({ module: 'ha-members' })) : null;
  await members?.start();
  const ha = new HaNode({
    config,
    store,
    server,
    clock,
    logger,
    probe: (address) =>
      managementRequest<HaStatus>(address, 'status', {}, { admin: true, timeoutMs: Math.min(5000, Math.max(1000, config.ha.linkHeartbeatIntervalMs)), ...(config.ha.username !== null ? { username: config.ha.username, password: config.ha.password ?? '' } : {}) }).catch(() => null),
    ...(members ? { memberAddress: (remote: string) => members.has(remote) } : {}),
    ...(config.ha.cluster ? { heardRecord: heardFile(config.dataDir, (problem) => logger.warn({ problem }, 'the record of the primary position heard is unusable')) } : {}),
    recovery,
    storeCorrupt,
    onFatal: options.onFatal ?? ((err) => {
      logger.fatal({ err }, 'exiting after a fatal error');
      process.exit(70);
    }),
  });
  const replicationEndpoint = new RheaReplicationEndpoint(logger.child({ module: 'ha-endpoint' }), () => ha.primaryReplicator(), (info) => security.replicationDenied(info.user));
  ha.onPrimaryStarted(() => replicationEndpoint.primaryStarted());
  server.registerNode(REPLICATION_ADDRESS, replicationEndpoint);
  const management = new ManagementNode({ config, ha, logger: logger.child({ module: 'management' }), authorize: (operation, input, user) => security.authorizeCommand(operation, input, user), connections: () => server.connectionsSnapshot() });
  server.registerNode('$management', management);

  let sweep: ReturnType<typeof setInterval> | null = null;
  let port: number;
  let http: ManagementHttp | null = null;
  let httpPort: number | null = null;
  let sslPort: number | null = null;
  try {
    await ha.start();
    port = await server.listen().catch((err: unknown) => Promise.reject(listenFailure(err, { option: 'port', port: config.port, host: config.interface })));
    sslPort = await server.listenTls().catch((err: unknown) => Promise.reject(listenFailure(err, { option: 'ssl-port', port: config.tls.port ?? 0, host: config.interface })));
    ha.listening(port, sslPort);
    if (config.httpPort !== null) {
      const wanted = config.httpPort;
      const httpLogger = logger.child({ module: 'http' });
      const httpAuth = new HttpAuthenticator(
        { auth: config.auth, realm: config.realm, encrypted: config.httpSsl, allowPlainWithoutTls: config.allowPlainWithoutTls, metricsAuth: config.httpMetricsAuth },
        security.users,
        security.acl,
        security.sasl.limiter,
        clock,
        httpLogger,
      );
      const haLogin = config.ha.username !== null ? { username: config.ha.username, password: config.ha.password ?? '' } : {};
      http = new ManagementHttp(management.commands, ha, httpLogger, {
        auth: httpAuth,
        tls: config.httpSsl ? tlsMaterial : null,
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        peerRequest: (address, operation, args) => managementRequest(address, operation, args, { admin: true, timeoutMs: 5000, ...haLogin }),
      });
      httpPort = await http.listen(config.interface, wanted).catch((err: unknown) => Promise.reject(listenFailure(err, { option: 'http-port', port: wanted, host: config.interface })));
    }
    sweep = setInterval(() => ha.service()?.broker.expireAll(), EXPIRY_SWEEP_MS);
    sweep.unref();
  } catch (err) {
    await http?.close().catch(() => {});
    await server.stop().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
  try {
    writeEndpoint(config.dataDir, { pid: process.pid, name: config.name, host: reachableHost(config.interface), port });
  } catch (err) {
    // On a full disk: the broker serves all the same; qpid-store cannot find it meanwhile.
    logger.warn({ err: (err as Error).message }, 'could not publish the broker endpoint (qpid-store cannot ask this broker)');
  }
  logger.info({ port, sslPort, httpPort, interface: config.interface, dataDir: config.dataDir, haState: ha.state }, 'listening');

  let stopping: Promise<void> | null = null;
  return {
    name: config.name,
    port,
    httpPort,
    sslPort,
    store,
    logger,
    reload: () => security.reload(),
    stop(): Promise<void> {
      stopping ??= (async () => {
        logger.info({}, 'shutting down');
        if (sweep) clearInterval(sweep);
        await http?.close();
        await server.stop();
        await ha.stop();
        members?.stop();
        removeEndpoint(config.dataDir, process.pid);
        // Closing the store waits for every in-flight commit to be durable.
        await store.close();
        logger.info({}, 'stopped');
      })();
      return stopping;
    },
  };
}

/** --store-verify-on-start: the store is checked in a child process (a damaged page can make
 * LMDB abort its reader) before this process opens it. A standalone broker refuses a store that
 * fails (exit 1); a cluster broker starts joining with the store marked corrupt, and catches up
 * from the primary as any backup does (its hello wipes the store). Returns that mark. */
async function verifyOnStart(config: BrokerConfig, logger: BrokerLogger): Promise<string | null> {
  const level = config.storeVerifyOnStart;
  if (level === 'none' || !existsSync(join(config.dataDir, 'store', 'data.mdb'))) return null;
  const started = Date.now();
  // A store the open itself refuses (newer or older format, a bad meta page) is left to the
  // open, which says so with its own code.
  const violations = (await verifyInChild(config.dataDir, level)).filter((v) => v.code !== 'open-failed');
  logger.info({ level, violations: violations.length, ms: Date.now() - started }, 'store verified');
  if (violations.length === 0) return null;
  const first = violations[0]!;
  const text = `${violations.length} violation(s), first ${first.code}: ${first.message}`;
  for (const v of violations.slice(0, 20)) logger.error({ code: v.code, violation: v.message }, 'store verify violation');
  if (config.ha.cluster) {
    logger.error({ level, violations: violations.length }, 'the store failed its verify: joining as a backup that must resync; not promotable without --force');
    return text;
  }
  throw new StoreError(
    'STORE_CORRUPT',
    `store at ${join(config.dataDir, 'store')} failed its ${level} verify at start: ${text}. See qpid-store verify --data-dir ${config.dataDir}; to drain what can still be read, start with --store-verify-on-start none (unreadable messages are quarantined and reported, never delivered altered)`,
  );
}

function recoveryBase(store: Store, config: BrokerConfig): RecoveryReport {
  const meta = store.meta();
  let messages = 0;
  let bytes = 0;
  const queues = store.queues();
  for (const q of queues) {
    messages += q.count;
    bytes += q.bytes;
  }
  return {
    atMs: Date.now(),
    verify: config.storeVerifyOnStart,
    queues: queues.length,
    messages,
    bytes,
    firstLsn: meta.firstLsn,
    lastLsn: meta.lastLsn,
    epoch: meta.epoch,
    dropped: [],
    lost: [],
    lostCount: 0,
  };
}

export { Broker, Settlements };
