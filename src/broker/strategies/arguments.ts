// The queue type arguments, with qpidd's names and rules (QueueSettings.cpp): a queue is at most
// one of last-value, priority and grouped; qpid.fairshare needs qpid.priorities; message groups
// need qpid.shared_msg_group set (qpidd supports shared groups only). A bad value or a refused
// combination fails the declare with an error naming the argument.

import type { Arguments, ArgValue } from '../../../store/index.js';
import { BrokerError } from '../errors.js';
import { PRIORITY_LEVELS_MAX } from './priority.js';
import { FIFO, type QueueType } from './strategy.js';

export const LVQ_KEY = 'qpid.last_value_queue_key';
/** qpidd's legacy spelling: a last-value queue keyed by the property qpid.LVQ_key. */
export const LVQ_LEGACY = 'qpid.last_value_queue';
export const LVQ_LEGACY_KEY = 'qpid.LVQ_key';
export const PRIORITIES = 'qpid.priorities';
export const FAIRSHARE = 'qpid.fairshare';
/** qpidd's aliases (QueueSettings::Aliases), and per-level shares: qpid.fairshare-LEVEL. */
const PRIORITIES_ALIAS = 'x-qpid-priorities';
const FAIRSHARE_ALIAS = 'x-qpid-fairshare';
const LEVEL_SHARE = /^(?:qpid\.fairshare|x-qpid-fairshare)-(.*)$/;
export const GROUP_HEADER_KEY = 'qpid.group_header_key';
export const SHARED_GROUPS = 'qpid.shared_msg_group';

function invalid(name: string, value: ArgValue | undefined, why: string): BrokerError {
  return new BrokerError('INVALID_ARGUMENT', `invalid queue argument ${name}=${JSON.stringify(value)}: ${why}`);
}

function text(args: Arguments, name: string): string | undefined {
  const value = args[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw invalid(name, value, 'a non-empty string (the name of an application property)');
  return value;
}

function integer(args: Arguments, name: string, min: number, max: number, alias?: string): number | undefined {
  if (args[name] === undefined && alias !== undefined && args[alias] !== undefined) name = alias;
  const value = args[name];
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw invalid(name, value, `an integer from ${min} to ${max}`);
  return n;
}

function flag(args: Arguments, name: string): boolean | undefined {
  const value = args[name];
  if (value === undefined) return undefined;
  if (value === true || value === 1 || value === '1' || value === 'true' || value === 'yes') return true;
  if (value === false || value === 0 || value === '0' || value === 'false' || value === 'no') return false;
  throw invalid(name, value, 'a boolean (true, false, 1 or 0)');
}

/** The queue type a declare's arguments ask for (plain FIFO when none). */
export function parseQueueType(args: Arguments): QueueType {
  let lvqKey = text(args, LVQ_KEY);
  if (lvqKey === undefined && flag(args, LVQ_LEGACY) === true) lvqKey = LVQ_LEGACY_KEY;
  const priorities = integer(args, PRIORITIES, 1, PRIORITY_LEVELS_MAX, PRIORITIES_ALIAS);
  const fairshare = integer(args, FAIRSHARE, 0, Number.MAX_SAFE_INTEGER, FAIRSHARE_ALIAS);
  const levelShares = new Map<number, number>();
  for (const name of Object.keys(args)) {
    const level = LEVEL_SHARE.exec(name)?.[1];
    if (level === undefined) continue;
    if (!/^\d+$/.test(level) || priorities === undefined || Number(level) >= priorities) {
      throw invalid(name, args[name], priorities === undefined ? `needs ${PRIORITIES}` : `the level must be from 0 to ${priorities - 1}`);
    }
    levelShares.set(Number(level), integer(args, name, 0, Number.MAX_SAFE_INTEGER) as number);
  }
  const groupHeader = text(args, GROUP_HEADER_KEY);
  const sharedGroups = flag(args, SHARED_GROUPS);
  const conflict = (a: string, b: string): BrokerError => new BrokerError('INVALID_ARGUMENT', `invalid queue arguments: ${a} and ${b} cannot be given for the same queue`);
  if (lvqKey !== undefined && priorities !== undefined) throw conflict(LVQ_KEY, PRIORITIES);
  if (lvqKey !== undefined && groupHeader !== undefined) throw conflict(LVQ_KEY, GROUP_HEADER_KEY);
  if (priorities !== undefined && groupHeader !== undefined) throw conflict(PRIORITIES, GROUP_HEADER_KEY);
  if (fairshare !== undefined && priorities === undefined) throw new BrokerError('INVALID_ARGUMENT', `invalid queue arguments: ${FAIRSHARE} needs ${PRIORITIES}`);
  if (sharedGroups !== undefined && groupHeader === undefined) throw new BrokerError('INVALID_ARGUMENT', `invalid queue arguments: ${SHARED_GROUPS} needs ${GROUP_HEADER_KEY}`);
  if (groupHeader !== undefined && sharedGroups !== true) {
    throw new BrokerError('INVALID_ARGUMENT', `invalid queue arguments: ${GROUP_HEADER_KEY} needs ${SHARED_GROUPS}=1 (only shared groups are supported, as in qpidd)`);
  }
  if (lvqKey !== undefined) return { kind: 'last-value', key: lvqKey };
  if (priorities !== undefined) {
    const shares = Array.from({ length: priorities }, (_, level) => levelShares.get(level) ?? fairshare ?? 0);
    return { kind: 'priority', levels: priorities, shares };
  }
  if (groupHeader !== undefined) return { kind: 'group', header: groupHeader };
  return FIFO;
}
