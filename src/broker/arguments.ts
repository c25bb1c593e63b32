// Declare arguments: the Qpid names clients and qpid-config use, validated with zod so that a bad
// value fails the declare with an error naming the argument (issue 3, "An invalid argument value
// fails the attach with an error naming it"). Unknown arguments are kept as given.

import { z } from 'zod';
import type { Arguments, ArgValue } from '../../store/index.js';
import { compileSelector, describeSelectorError, SelectorError, type Selector } from '../selector/index.js';
import { DEDUP_WINDOW_MAX } from './dedup-window.js';
import { BrokerError } from './errors.js';
import { FlowArgumentError, flowThresholds, type FlowDefaults, type FlowThresholds } from './flow-control.js';
import type { LimitPolicy, ReplicateLevel } from './queue.js';

export const REPLICATE_LEVELS: readonly ReplicateLevel[] = ['none', 'configuration', 'all'];

/** Non-negative integers, accepted as numbers or decimal strings (address strings and
 * dynamic-node-properties often carry numbers as text). */
const count = z.union([z.number(), z.string().regex(/^\d+$/, 'a non-negative integer').transform(Number)]).pipe(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER));

const QueueArgumentsSchema = z.object({
  'qpid.max_count': count.optional(),
  'qpid.max_size': count.optional(),
  'qpid.policy_type': z.enum(['reject', 'ring']).optional(),
  'qpid.flow_stop_count': count.optional(),
  'qpid.flow_resume_count': count.optional(),
  'qpid.flow_stop_size': count.optional(),
  'qpid.flow_resume_size': count.optional(),
  'qpid.replicate': z.enum(['none', 'configuration', 'all']).optional(),
  // qpidd's queue filter: only messages this selector matches are enqueued (an exchange
  // subscription's selector becomes it, so that it is stored and replicated with the queue).
  'qpid.filter': z.string().optional(),
  // Broker-side duplicate detection (dedup-window.ts): the last N message-ids are remembered.
  'qpid.dedup_window': count.pipe(z.number().min(1, 'at least 1 message-id').max(DEDUP_WINDOW_MAX, `at most ${DEDUP_WINDOW_MAX} message-ids`)).optional(),
});

const ExchangeArgumentsSchema = z.object({
  'qpid.replicate': z.enum(['none', 'configuration', 'all']).optional(),
});

export interface QueueLimits {
  readonly maxCount: number | null;
  readonly maxSizeBytes: number | null;
  readonly policy: LimitPolicy;
  readonly replicate: ReplicateLevel | null;
  /** Producer flow control (flow-control.ts), null when the queue has no threshold. */
  readonly flow: FlowThresholds | null;
  readonly filter: Selector | null;
  /** qpid.dedup_window: how many message-ids the queue remembers, null when it remembers none. */
  readonly dedupWindow: number | null;
}

/** Compiles a selector from a filter or argument; a bad one is a BAD_SELECTOR error that shows
 * where it goes wrong. */
export function selectorOf(text: string): Selector {
  try {
    return compileSelector(text);
  } catch (err) {
    if (err instanceof SelectorError) throw new BrokerError('BAD_SELECTOR', describeSelectorError(text, err));
    throw err;
  }
}

function firstIssue(error: z.ZodError, what: string, args: Arguments): BrokerError {
  const issue = error.issues[0];
  const key = String(issue?.path[0] ?? '?');
  const value = JSON.stringify(args[key]);
  return new BrokerError('INVALID_ARGUMENT', `invalid ${what} argument ${key}=${value}: ${issue?.message ?? 'invalid'}`);
}

/** Flow control off: what a replica or an embedder without the options uses. */
export const NO_FLOW_DEFAULTS: FlowDefaults = { stopPercent: 0, resumePercent: 0 };

/** Parses the limit, flow and replication arguments of a queue declare. `defaultMaxSizeBytes`
 * is the broker's --default-queue-limit (0 = unlimited), used when qpid.max_size is absent. */
export function parseQueueArguments(args: Arguments, defaultMaxSizeBytes: number, flowDefaults: FlowDefaults = NO_FLOW_DEFAULTS): QueueLimits {
  const parsed = QueueArgumentsSchema.safeParse(args);
  if (!parsed.success) throw firstIssue(parsed.error, 'queue', args);
  const values = parsed.data;
  const maxSize = values['qpid.max_size'] ?? (defaultMaxSizeBytes > 0 ? defaultMaxSizeBytes : null);
  const maxCount = values['qpid.max_count'] ?? null;
  const maxSizeBytes = maxSize === 0 ? null : maxSize;
  const policy = values['qpid.policy_type'] ?? 'reject';
  let flow: FlowThresholds | null;
  try {
    // A ring queue makes room instead of refusing: its producers are never stopped (qpidd).
    flow =
      policy === 'ring'
        ? null
        : flowThresholds(
            {
              maxCount,
              maxSizeBytes,
              flowStopCount: values['qpid.flow_stop_count'],
              flowResumeCount: values['qpid.flow_resume_count'],
              flowStopSize: values['qpid.flow_stop_size'],
              flowResumeSize: values['qpid.flow_resume_size'],
            },
            flowDefaults,
          );
  } catch (err) {
    if (err instanceof FlowArgumentError) throw new BrokerError('INVALID_ARGUMENT', `invalid queue flow arguments: ${err.message}`);
    throw err;
  }
  const filter = values['qpid.filter'] === undefined ? null : selectorOf(values['qpid.filter']);
  return { maxCount, maxSizeBytes, policy, replicate: values['qpid.replicate'] ?? null, flow, filter, dedupWindow: values['qpid.dedup_window'] ?? null };
}

export function parseExchangeArguments(args: Arguments): { replicate: ReplicateLevel | null } {
  const parsed = ExchangeArgumentsSchema.safeParse(args);
  if (!parsed.success) throw firstIssue(parsed.error, 'exchange', args);
  return { replicate: parsed.data['qpid.replicate'] ?? null };
}

/** The most a queue's, exchange's or binding's arguments may take, as JSON: they are kept in
 * memory and in the store, and shown in every listing row of their node, so that a row (and so
 * a page of rows) stays bounded (issue 19). */
export const ARGUMENTS_BYTES_MAX = 64 * 1024;

/** Keeps only values the store can hold (AMQP simple types); anything else is refused by name. */
export function toStoredArguments(input: Record<string, unknown>, what: string): Arguments {
  // AMQP longs may arrive as bigints, which JSON.stringify refuses.
  const bytes = Buffer.byteLength(JSON.stringify(input, (_key, value: unknown) => (typeof value === 'bigint' ? Number(value) : value)) ?? '', 'utf8');
  if (bytes > ARGUMENTS_BYTES_MAX) throw new BrokerError('INVALID_ARGUMENT', `${what} arguments take ${bytes} bytes; at most ${ARGUMENTS_BYTES_MAX} are allowed`);
  const out: Record<string, ArgValue> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') out[key] = value;
    else if (typeof value === 'number' && Number.isFinite(value)) out[key] = value;
    else if (typeof value === 'bigint') out[key] = Number(value);
    else throw new BrokerError('INVALID_ARGUMENT', `invalid ${what} argument ${key}: only strings, numbers, booleans and null are supported`);
  }
  return out;
}
