// Starting and stopping a broker process: open the store (taking the data dir's lock), recover
// the messaging model, listen, and on stop finish in-flight commits before releasing the store.
// tools/qpidd.ts is a thin shell around startBroker(); tests and embedders call it directly.

import { openLmdbStore, type Store } from '../store/index.js';
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
import { ManagementNode } from './management/node.js';
import { listenFailure, prepareDataDir } from './startup-checks.js';
import { createSecurity } from './security/security.js';

export interface RunningBroker {
  readonly name: string;
  readonly port: number;
  readonly httpPort: number | null;
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
  const dataDir = prepareDataDir(config);
  for (const note of dataDir.notes) logger.info({ dataDir: config.dataDir, note }, 'data dir checked');
  const store = await openLmdbStore({
    dataDir: config.dataDir,
    sync: config.storeSync,
    mapSizeBytes: dataDir.mapSizeBytes,
    logMaxBytes: config.storeLogMaxBytes,
    // A cluster store may have to take back the end of its log (incremental catch-up).
    undo: config.ha.cluster,
    logger: logger.child({ module: 'store' }),
  });
  const meta = store.meta();
  logger.info({ dataDir: config.dataDir, storeId: meta.storeId, epoch: meta.epoch, lastLsn: meta.lastLsn, lastRole: meta.lastRole }, 'store opened');

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
    maxMessageSizeBytes: config.maxMessageSizeBytes,
    maxConnectionBufferBytes: config.maxConnectionBufferBytes,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    maxPendingHandshakes: config.maxPendingHandshakes,
    ...(config.ha.cluster ? { idleTimeoutMs: config.ha.linkHeartbeatIntervalMs } : {}),
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
    onFatal: options.onFatal ?? ((err) => {
      logger.fatal({ err }, 'exiting after a fatal error');
      process.exit(70);
    }),
  });
  server.registerNode(REPLICATION_ADDRESS, new RheaReplicationEndpoint(logger.child({ module: 'ha-endpoint' }), () => ha.primaryReplicator(), (info) => security.replicationDenied(info.user)));
  const management = new ManagementNode({ config, ha, logger: logger.child({ module: 'management' }), authorize: (operation, input, user) => security.authorizeCommand(operation, input, user) });
  server.registerNode('$management', management);

  let sweep: ReturnType<typeof setInterval> | null = null;
  let port: number;
  let http: ManagementHttp | null = null;
  let httpPort: number | null = null;
  try {
    await ha.start();
    port = await server.listen().catch((err: unknown) => Promise.reject(listenFailure(err, { option: 'port', port: config.port, host: config.interface })));
    ha.listening(port);
    if (config.httpPort !== null) {
      const wanted = config.httpPort;
      http = new ManagementHttp(management.commands, ha, logger.child({ module: 'http' }));
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
  writeEndpoint(config.dataDir, { pid: process.pid, name: config.name, host: reachableHost(config.interface), port });
  logger.info({ port, httpPort, interface: config.interface, dataDir: config.dataDir, haState: ha.state }, 'listening');

  let stopping: Promise<void> | null = null;
  return {
    name: config.name,
    port,
    httpPort,
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

export { Broker, Settlements };
