// The messaging service a broker serves clients with (a primary, or a standalone broker): its
// Broker on the store, and the Settlements its producers are answered through, wired together
// (a consumed or failed message releases its hold). node.ts decides when to serve.

import type { LostMessage, Store } from '../../store/index.js';
import type { MessagingService } from '../amqp/server.js';
import { scanMessage } from '../amqp/message-format.js';
import { selectorFields } from '../amqp/selector-fields.js';
import { Broker } from '../broker/broker.js';
import type { BrokerConfig } from '../config/index.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { HaInstruments } from './instruments.js';
import { Settlements } from './settlements.js';

export interface ServiceParts {
  readonly config: BrokerConfig;
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly instruments: HaInstruments;
  /** --ha-min-backups for a cluster primary; 0 otherwise (nobody to wait for). */
  readonly minBackups: number;
  /** Whether the ack gate starts open (closed while a promoted primary recovers). */
  readonly gateOpen: boolean;
  /** Whether queues replicate (a cluster, or queue replication). */
  readonly queueReplication: boolean;
  readonly lost: (lost: LostMessage) => void;
}

export function createMessagingService(parts: ServiceParts): MessagingService {
  const { config, store, logger } = parts;
  const settlements = new Settlements({ open: parts.gateOpen, logger: logger.child({ module: 'settlements' }), store, minBackups: parts.minBackups, instruments: parts.instruments });
  const broker = new Broker({
    store,
    clock: parts.clock,
    logger: logger.child({ module: 'broker' }),
    limits: {
      defaultQueueLimitBytes: config.defaultQueueLimitBytes,
      maxMessageSizeBytes: config.maxMessageSizeBytes,
      flow: { stopPercent: config.flowStopPercent, resumePercent: config.flowResumePercent },
    },
    replication: { enabled: parts.queueReplication, defaultLevel: config.ha.replicate },
    events: { messageResolved: (id) => settlements.messageResolved(id), messageFailed: (id, err) => settlements.messageFailed(id, err), messageLost: parts.lost },
    routingFields: (body) => scanMessage(Buffer.from(body.buffer, body.byteOffset, body.byteLength)),
    selectorFields,
  });
  return { broker, settlements };
}
