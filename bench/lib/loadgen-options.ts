// The load generator's command line, both ways: parseLoadgenArgs reads argv into options (the
// loadgen process) and loadgenArgs writes options back as argv (the harness that spawns it), so
// that the two cannot drift apart. Sizes are bytes of message body; times are seconds.
import { parseArgs } from 'node:util';
import { parseQpidUrl } from '../../src/core/qpid-url.js';

export type SettleMode = 'at-least-once' | 'at-most-once';

export interface LoadgenOptions {
  readonly host: string;
  readonly port: number;
  /** Connect over TLS (an ssl: or amqps: URL); the CA comes from QPID_SSL_CA_FILE. */
  readonly tls?: boolean;
  /** Log in as this user (SCRAM, the password from QPID_PASSWORD); else anonymously. */
  readonly user?: string;
  readonly producers: number;
  readonly consumers: number;
  /** Body bytes per message (one AMQP data section). */
  readonly sizeBytes: number;
  /** Durable messages (AMQP header durable=true) on durable queues. */
  readonly durable: boolean;
  readonly settle: SettleMode;
  readonly durationS: number;
  readonly warmupS: number;
  /** Total target rate over all producers; 0 means as fast as the server lets us. */
  readonly rateMsgsPerS: number;
  /** Unsettled deliveries allowed per producer (at-least-once). */
  readonly capacity: number;
  readonly queue: string;
  readonly queues: number;
  /** Credit window of each consumer. */
  readonly prefetch: number;
  /** Longest wait, after producers stop, for every accepted message to reach a consumer. */
  readonly drainS: number;
  /** Ask the server to create the queue on attach (Qpid's create-on-demand capability). */
  readonly createQueues: boolean;
}

export const LOADGEN_DEFAULTS = {
  producers: 1,
  consumers: 1,
  sizeBytes: 1024,
  durable: false,
  settle: 'at-least-once',
  durationS: 10,
  warmupS: 2,
  rateMsgsPerS: 0,
  capacity: 100,
  queue: 'bench',
  queues: 1,
  prefetch: 1000,
  drainS: 10,
  createQueues: true,
} as const satisfies Omit<LoadgenOptions, 'host' | 'port'>;

export class LoadgenUsageError extends Error {
  readonly code = 'BAD_ARGUMENT';
}

function integer(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new LoadgenUsageError(`--${name} ${text}: expected an integer >= ${min}`);
  return value;
}

function seconds(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) throw new LoadgenUsageError(`--${name} ${text}: expected a number of seconds >= ${min}`);
  return value;
}

function yesNo(name: string, text: string | undefined, fallback: boolean): boolean {
  if (text === undefined) return fallback;
  if (text === 'yes' || text === 'true') return true;
  if (text === 'no' || text === 'false') return false;
  throw new LoadgenUsageError(`--${name} ${text}: expected yes or no`);
}

/** The queue each producer or consumer index uses: spread round-robin over the K queues. */
export function queueFor(options: Pick<LoadgenOptions, 'queue' | 'queues'>, index: number): string {
  return options.queues === 1 ? options.queue : `${options.queue}-${index % options.queues}`;
}

export function parseLoadgenArgs(argv: readonly string[]): LoadgenOptions {
  let values: Record<string, string | undefined>;
  try {
    const stringOption = { type: 'string' } as const;
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        url: stringOption,
        producers: stringOption,
        consumers: stringOption,
        size: stringOption,
        durable: stringOption,
        settle: stringOption,
        'duration-s': stringOption,
        'warmup-s': stringOption,
        rate: stringOption,
        capacity: stringOption,
        queue: stringOption,
        queues: stringOption,
        prefetch: stringOption,
        'drain-s': stringOption,
        create: stringOption,
      },
    }) as { values: Record<string, string | undefined> });
  } catch (err) {
    throw new LoadgenUsageError((err as Error).message);
  }
  if (values['url'] === undefined) throw new LoadgenUsageError('--url host:port is required');
  let address;
  try {
    address = parseQpidUrl(values['url']).addresses[0];
  } catch (err) {
    throw new LoadgenUsageError((err as Error).message);
  }
  if (!address) throw new LoadgenUsageError(`--url ${values['url']}: no address`);
  const settle = values['settle'] ?? LOADGEN_DEFAULTS.settle;
  if (settle !== 'at-least-once' && settle !== 'at-most-once') {
    throw new LoadgenUsageError(`--settle ${settle}: expected at-least-once or at-most-once`);
  }
  const d = LOADGEN_DEFAULTS;
  const user = parseQpidUrl(values['url']).user;
  const options: LoadgenOptions = {
    host: address.host,
    port: address.port,
    ...(address.transport === 'ssl' ? { tls: true } : {}),
    ...(user !== undefined ? { user } : {}),
    producers: integer('producers', values['producers'], d.producers, 1),
    consumers: integer('consumers', values['consumers'], d.consumers, 1),
    sizeBytes: integer('size', values['size'], d.sizeBytes, 0),
    durable: yesNo('durable', values['durable'], d.durable),
    settle,
    durationS: seconds('duration-s', values['duration-s'], d.durationS, 0.1),
    warmupS: seconds('warmup-s', values['warmup-s'], d.warmupS, 0),
    rateMsgsPerS: seconds('rate', values['rate'], d.rateMsgsPerS, 0),
    capacity: integer('capacity', values['capacity'], d.capacity, 1),
    queue: values['queue'] ?? d.queue,
    queues: integer('queues', values['queues'], d.queues, 1),
    prefetch: integer('prefetch', values['prefetch'], d.prefetch, 1),
    drainS: seconds('drain-s', values['drain-s'], d.drainS, 0),
    createQueues: yesNo('create', values['create'], d.createQueues),
  };
  // Every queue needs a producer and a consumer, or its messages could never drain.
  if (options.queues > options.producers || options.queues > options.consumers) {
    throw new LoadgenUsageError(`--queues ${options.queues} needs at least as many producers and consumers`);
  }
  if (options.queue === '') throw new LoadgenUsageError('--queue must not be empty');
  return options;
}

export function loadgenArgs(options: LoadgenOptions): string[] {
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return [
    '--url', `${options.user !== undefined ? `${options.user}@` : ''}${options.tls ? 'ssl:' : ''}${host}:${options.port}`,
    '--producers', String(options.producers),
    '--consumers', String(options.consumers),
    '--size', String(options.sizeBytes),
    '--durable', options.durable ? 'yes' : 'no',
    '--settle', options.settle,
    '--duration-s', String(options.durationS),
    '--warmup-s', String(options.warmupS),
    '--rate', String(options.rateMsgsPerS),
    '--capacity', String(options.capacity),
    '--queue', options.queue,
    '--queues', String(options.queues),
    '--prefetch', String(options.prefetch),
    '--drain-s', String(options.drainS),
    '--create', options.createQueues ? 'yes' : 'no',
  ];
}
