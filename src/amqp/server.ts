// The AMQP 1.0 server's entry point, kept so that callers import from one place: the listener
// (listener.ts), its vocabulary (types.ts), and the one delivery rule the HA transport shares.
// The handling of each performative is in handlers/.

export { AmqpServer } from './listener.js';
export type { Admission, AmqpServerOptions, ConnectionInfo, ConnectionRole, ConnectionSnapshot, MessagingService, SpecialNode } from './types.js';
export { settleIfPresettled } from './deliveries.js';
