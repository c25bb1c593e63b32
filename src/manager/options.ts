// qpid-ha-manager's options, validated with zod: a bad value names its option (the tool exits
// 2). Durations are given in seconds, as qpidd's are, and carried in ms.

import { z } from 'zod';
import { parseQpidUrl, type QpidAddress } from '../core/qpid-url.js';

export interface ManagerOptions {
  readonly etcd: readonly string[];
  readonly cluster: string;
  readonly broker: QpidAddress;
  readonly ttlSeconds: number;
  readonly checkIntervalMs: number;
  readonly totalFailureWaitMs: number;
  readonly name?: string;
  readonly username?: string;
  readonly password?: string;
}

export class ManagerOptionError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`--${option}: ${message}`);
    this.name = 'ManagerOptionError';
  }
}

const seconds = (min: number, max: number) =>
  z
    .string()
    .transform((text, ctx) => {
      const value = Number(text);
      if (text.trim() === '' || !Number.isFinite(value)) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a number of seconds` });
        return z.NEVER;
      }
      return value;
    })
    .pipe(z.number().min(min, `at least ${min} s`).max(max, `at most ${max} s`));

const etcdUrl = z.string().regex(/^https?:\/\/[^\s,/]+(:\d+)?\/?$/, 'expected http://HOST:PORT');

/** What the command line gives (strings, from node:util parseArgs), before validation. */
export const ManagerArgs = z.object({
  etcd: z.string({ message: 'required: the etcd endpoints, http://HOST:PORT[,...]' }).transform((text) => text.split(',')).pipe(z.array(etcdUrl).min(1)),
  cluster: z.string({ message: 'required: the cluster name (its etcd prefix)' }).regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)'),
  broker: z.string({ message: 'required: the broker this manager runs beside, HOST:PORT' }).min(1),
  // etcd refuses leases under its minimum TTL (about 2 s with its default election timeout).
  ttl: seconds(2, 600).refine(Number.isInteger, 'a whole number of seconds (etcd lease TTLs are)').default(3),
  'check-interval': seconds(0.01, 60).default(0.1),
  'total-failure-wait': seconds(0, 3600).default(30),
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)').optional(),
  username: z.string().min(1).optional(),
  password: z.string().optional(),
});

function firstIssue(error: z.ZodError): ManagerOptionError {
  const issue = error.issues[0];
  const option = String(issue?.path[0] ?? 'options');
  return new ManagerOptionError(option, issue?.message ?? 'invalid');
}

/** The run command's options; throws ManagerOptionError naming the bad one. */
export function parseManagerOptions(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ManagerOptions {
  const parsed = ManagerArgs.safeParse(raw);
  if (!parsed.success) throw firstIssue(parsed.error);
  const o = parsed.data;
  let broker: QpidAddress;
  try {
    broker = parseQpidUrl(o.broker).addresses[0] as QpidAddress;
  } catch (err) {
    throw new ManagerOptionError('broker', (err as Error).message);
  }
  if (o['check-interval'] * 4 > o.ttl) throw new ManagerOptionError('check-interval', `${o['check-interval']} s is more than a quarter of --ttl ${o.ttl} s: the serving lease could not be renewed in time`);
  // The password from QPID_PASSWORD when not given, so that it need not be on the command line.
  const password = o.password ?? (o.username !== undefined ? env['QPID_PASSWORD'] : undefined);
  return {
    etcd: o.etcd,
    cluster: o.cluster,
    broker,
    ttlSeconds: o.ttl,
    checkIntervalMs: o['check-interval'] * 1000,
    totalFailureWaitMs: o['total-failure-wait'] * 1000,
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}

/** The etcd and cluster options alone (pause, resume, status, force-promote). */
export const ClusterArgs = ManagerArgs.pick({ etcd: true, cluster: true, ttl: true });

export function parseClusterOptions(raw: Record<string, unknown>): { etcd: readonly string[]; cluster: string; ttlSeconds: number } {
  const parsed = ClusterArgs.safeParse(raw);
  if (!parsed.success) throw firstIssue(parsed.error);
  return { etcd: parsed.data.etcd, cluster: parsed.data.cluster, ttlSeconds: parsed.data.ttl };
}
