// The failover load's command line, both ways (as loadgen-options.ts does for the loadgen), so that
// the harness that spawns it and the process that parses it cannot drift apart.
import { parseArgs } from 'node:util';
import type { FailoverLoadOptions } from './failover-run.js';
import { LoadgenUsageError } from './loadgen-options.js';

export const FAILOVER_LOAD_DEFAULTS = {
  producers: 2,
  consumers: 2,
  sizeBytes: 1024,
  durable: true,
  rateMsgsPerS: 1000,
  capacity: 100,
  credit: 200,
  queue: 'bench-failover',
  heartbeatS: 1,
  reconnectMinMs: 50,
  reconnectMaxMs: 200,
  drainS: 30,
  dedupWindow: 0,
  deferConsumers: false,
} as const satisfies Omit<FailoverLoadOptions, 'url'>;

const FLAGS: Record<Exclude<keyof FailoverLoadOptions, 'url' | 'queue' | 'durable' | 'deferConsumers'>, string> = {
  producers: 'producers',
  consumers: 'consumers',
  sizeBytes: 'size',
  rateMsgsPerS: 'rate',
  capacity: 'capacity',
  credit: 'credit',
  heartbeatS: 'heartbeat-s',
  reconnectMinMs: 'reconnect-min-ms',
  reconnectMaxMs: 'reconnect-max-ms',
  drainS: 'drain-s',
  dedupWindow: 'dedup-window',
};

const MINIMUM: Partial<Record<keyof typeof FLAGS, number>> = { producers: 1, consumers: 1, capacity: 1, credit: 1 };

export function parseFailoverLoadArgs(argv: readonly string[]): FailoverLoadOptions {
  const stringOption = { type: 'string' } as const;
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: Object.fromEntries(['url', 'queue', 'durable', 'defer-consumers', ...Object.values(FLAGS)].map((flag) => [flag, stringOption])),
    }) as { values: Record<string, string | undefined> });
  } catch (err) {
    throw new LoadgenUsageError((err as Error).message);
  }
  const url = values['url'];
  if (!url) throw new LoadgenUsageError('--url H:P[,H:P...] is required');
  const numbers: Record<string, number> = {};
  for (const [key, flag] of Object.entries(FLAGS) as [keyof typeof FLAGS, string][]) {
    const text = values[flag];
    const value = text === undefined ? FAILOVER_LOAD_DEFAULTS[key] : Number(text);
    if (!Number.isFinite(value) || value < (MINIMUM[key] ?? 0)) throw new LoadgenUsageError(`--${flag} ${text}: expected a number >= ${MINIMUM[key] ?? 0}`);
    numbers[key] = value;
  }
  const durableText = values['durable'] ?? (FAILOVER_LOAD_DEFAULTS.durable ? 'yes' : 'no');
  if (durableText !== 'yes' && durableText !== 'no') throw new LoadgenUsageError(`--durable ${durableText}: expected yes or no`);
  const deferText = values['defer-consumers'] ?? (FAILOVER_LOAD_DEFAULTS.deferConsumers ? 'yes' : 'no');
  if (deferText !== 'yes' && deferText !== 'no') throw new LoadgenUsageError(`--defer-consumers ${deferText}: expected yes or no`);
  return {
    ...(numbers as Omit<FailoverLoadOptions, 'url' | 'queue' | 'durable' | 'deferConsumers'>),
    url,
    queue: values['queue'] ?? FAILOVER_LOAD_DEFAULTS.queue,
    durable: durableText === 'yes',
    deferConsumers: deferText === 'yes',
  };
}

export function failoverLoadArgs(options: FailoverLoadOptions): string[] {
  const args = ['--url', options.url, '--queue', options.queue, '--durable', options.durable ? 'yes' : 'no', '--defer-consumers', options.deferConsumers ? 'yes' : 'no'];
  for (const [key, flag] of Object.entries(FLAGS) as [keyof typeof FLAGS, string][]) args.push(`--${flag}`, String(options[key]));
  return args;
}
