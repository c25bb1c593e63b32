// The manager's keys in etcd, one prefix per cluster, and how their values are read back. Each
// value is JSON; a value that does not parse is ignored (a stranger's key), never trusted.
//   /<cluster>/leader           the leading manager's name, under its etcd lease
//   /<cluster>/record           { epoch, lsn, by, at }: how far the cluster got (no lease)
//   /<cluster>/paused           present while automatic actions are paused (no lease)
//   /<cluster>/switchover       { to, at }: a planned move in progress (no lease)
//   /<cluster>/members/<name>   a manager's report of its broker, under its etcd lease
//   /<cluster>/failovers/<ms>   one per promotion: who, when, why (no lease)

import { z } from 'zod';
import type { BrokerReport, Decision, MemberEntry, Record_ } from './step.js';

/** The record as etcd holds it: one that does not parse is no record (a stranger's key). */
const RecordSchema = z.object({
  epoch: z.number().int().min(0),
  lsn: z.number().int().min(0),
  gate: z.array(z.string().min(1)).optional(),
  generation: z.number().int().min(0).optional(),
  primary: z.string().min(1).optional(),
  reserved: z.number().int().min(0).optional(),
  by: z.string().default(''),
  at: z.string().default(''),
});

export interface ClusterKeys {
  readonly prefix: string;
  readonly leader: string;
  readonly record: string;
  readonly paused: string;
  readonly switchover: string;
  readonly members: string;
  readonly failovers: string;
}

export function clusterKeys(cluster: string): ClusterKeys {
  const prefix = `/${cluster}/`;
  return { prefix, leader: `${prefix}leader`, record: `${prefix}record`, paused: `${prefix}paused`, switchover: `${prefix}switchover`, members: `${prefix}members/`, failovers: `${prefix}failovers/` };
}

/** What a manager publishes under members/<name>. */
export interface MemberValue {
  readonly name: string;
  readonly broker: BrokerReport;
  readonly manager: { readonly pid: number; readonly host: string; readonly leading: boolean };
  readonly decision: (Decision & { readonly at: string }) | null;
  /** Wall-clock time of the report (for operators; decisions use etcd revisions). */
  readonly at: string;
}

export interface RecordValue extends Record_ {
  readonly by: string;
  readonly at: string;
}

export interface FailoverValue {
  readonly to: string;
  readonly at: string;
  readonly reason: string;
  readonly epochBefore: number;
}

/** Everything under the prefix, as read (key without the prefix -> value, mod revision). */
export type KeyTable = ReadonlyMap<string, { readonly value: string; readonly revision: number; readonly lease: string }>;

function parseJson<T>(text: string | undefined): T | null {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

export interface ClusterView {
  readonly leader: string | null;
  readonly record: RecordValue | null;
  readonly paused: boolean;
  /** The broker a planned move (qpid-ha-manager switchover) is to make leader, or null. */
  readonly switchover: string | null;
  readonly members: readonly (MemberValue & { readonly revision: number })[];
  readonly failovers: readonly FailoverValue[];
}

export function readView(table: KeyTable): ClusterView {
  const members: (MemberValue & { revision: number })[] = [];
  const failovers: FailoverValue[] = [];
  for (const [key, { value, revision }] of table) {
    if (key.startsWith('members/')) {
      const member = parseJson<MemberValue>(value);
      if (member && typeof member.name === 'string' && member.broker) members.push({ ...member, revision });
    } else if (key.startsWith('failovers/')) {
      const failover = parseJson<FailoverValue>(value);
      if (failover) failovers.push(failover);
    }
  }
  members.sort((a, b) => a.name.localeCompare(b.name));
  failovers.sort((a, b) => a.at.localeCompare(b.at));
  const record = RecordSchema.safeParse(parseJson<unknown>(table.get('record')?.value));
  return {
    leader: table.get('leader')?.value ?? null,
    record: record.success ? (record.data as RecordValue) : null,
    paused: table.has('paused'),
    switchover: parseJson<{ to?: unknown }>(table.get('switchover')?.value)?.to as string | undefined ?? null,
    members,
    failovers,
  };
}

export function memberEntries(view: ClusterView): MemberEntry[] {
  return view.members.map((m) => ({ name: m.name, broker: m.broker, revision: m.revision }));
}
