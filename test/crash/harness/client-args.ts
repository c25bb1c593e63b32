// What the harness tells a producer or consumer process: one JSON argument, so that the harness
// and the child agree on one typed shape (and a history names the exact settings of a run).
import type { ConnectOptions, NodeOptions } from '../../../src/client/index.js';

export interface ClientArgs {
  /** The client's name in the history (writer, producer or consumer id). */
  readonly id: string;
  /** Qpid URL: one address, or every broker of a cluster (the client fails over between them). */
  readonly url: string;
  readonly queue: string;
  readonly historyDir: string;
  /** AMQP heartbeat: a hung broker is noticed after twice this. */
  readonly heartbeatS: number;
  /** Longest pause between reconnect passes. */
  readonly reconnectDelayMsMax: number;
  /** How to create the queue when it is missing (durable, replicated). */
  readonly node: NodeOptions;
}

export interface ProducerArgs extends ClientArgs {
  readonly ratePerS: number;
  readonly bodyBytes: number;
  /** Most messages unsettled at once. */
  readonly capacity: number;
}

export interface ConsumerArgs extends ClientArgs {
  /** Prefetch. */
  readonly credit: number;
  /** At most this many receipts per second (0: no limit); SIGUSR2 lifts the limit. */
  readonly ratePerS: number;
}

export const SN_PROPERTY = 'sn';
export const PRODUCER_PROPERTY = 'sender-id';

export function connectOptions(args: ClientArgs): ConnectOptions {
  return { reconnect: { limit: -1, initialDelayMs: 50, maxDelayMs: args.reconnectDelayMsMax }, heartbeatS: args.heartbeatS };
}

export function parseArgs<T extends ClientArgs>(argv: readonly string[]): T {
  const text = argv[0];
  if (!text) throw new Error('usage: node <client>.js JSON-ARGUMENTS');
  return JSON.parse(text) as T;
}
