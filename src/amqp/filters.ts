// Source filters (AMQP 1.0 §3.5.8 filter-set) as the Apache filter registry defines them and Qpid
// clients send them. The broker honours a filter only where it implements it, and echoes exactly
// those in its attach reply: §3.5.3 says the reply's filter-set is what the sender will actually
// apply, so a filter left out tells the client it is not in force (rather than being silently
// honoured as something else, or ignored while the client thinks it holds).

import { createRequire } from 'node:module';
import { BrokerError } from '../broker/errors.js';

const rheaTypes = createRequire(import.meta.url)('rhea').types as { unwrap(value: unknown): unknown };

export type FilterKind = 'direct-binding' | 'topic-binding' | 'headers-binding' | 'no-local' | 'selector' | 'unknown';

/** The registry's descriptors, as symbols and as codes (domain 0x0000468C, Apache). */
const DESCRIPTORS: readonly { readonly kind: FilterKind; readonly symbol: string; readonly code: number }[] = [
  { kind: 'direct-binding', symbol: 'apache.org:legacy-amqp-direct-binding:string', code: 0x0000468c_00000000 },
  { kind: 'topic-binding', symbol: 'apache.org:legacy-amqp-topic-binding:string', code: 0x0000468c_00000001 },
  { kind: 'headers-binding', symbol: 'apache.org:legacy-amqp-headers-binding:map', code: 0x0000468c_00000002 },
  { kind: 'no-local', symbol: 'apache.org:no-local-filter:list', code: 0x0000468c_00000003 },
  { kind: 'selector', symbol: 'apache.org:selector-filter:string', code: 0x0000468c_00000004 },
];

export interface SourceFilter {
  /** The key the client gave the filter in its filter-set (echoed under the same key). */
  readonly key: string;
  readonly kind: FilterKind;
  /** The described value as rhea decoded it: echoed as-is. */
  readonly described: unknown;
  /** The value inside the descriptor, unwrapped to plain JavaScript. */
  readonly value: unknown;
}

interface Described {
  readonly descriptor?: { readonly value?: unknown };
  readonly value?: unknown;
}

function kindOf(descriptor: unknown): FilterKind {
  for (const known of DESCRIPTORS) {
    if (descriptor === known.symbol || descriptor === known.code) return known.kind;
  }
  return 'unknown';
}

/** Every entry of a source's filter-set, classified; [] when there is none. */
export function sourceFilters(filter: unknown): SourceFilter[] {
  if (!filter || typeof filter !== 'object' || Array.isArray(filter)) return [];
  const found: SourceFilter[] = [];
  for (const [key, raw] of Object.entries(filter as Record<string, unknown>)) {
    const described = raw as Described | null;
    const kind = kindOf(described?.descriptor?.value);
    let value: unknown;
    try {
      value = rheaTypes.unwrap(described);
    } catch {
      value = undefined;
    }
    found.push({ key, kind, described: raw, value });
  }
  return found;
}

/** The selector text of the first selector filter (qpidd, too, applies only the first), or null.
 * A selector filter whose value is not a string is a bad selector. */
export function selectorFilter(filters: readonly SourceFilter[]): string | null {
  const filter = filters.find((f) => f.kind === 'selector');
  if (!filter) return null;
  if (typeof filter.value !== 'string') throw new BrokerError('BAD_SELECTOR', `the selector filter ${filter.key} must be a string, not ${JSON.stringify(filter.value) ?? typeof filter.value}`);
  return filter.value;
}

export interface SubscriptionFilters {
  /** The binding key asked for by a legacy direct or topic binding filter, if any. */
  readonly bindingKey: string | null;
  /** The binding arguments of a legacy headers binding filter, if any. */
  readonly headers: Record<string, string | number | boolean | null> | null;
  /** The filters in force, to echo in the attach reply (undefined when none). */
  readonly echo: Record<string, unknown> | undefined;
}

/** Which filters a subscription honours. On an exchange: the legacy binding filters (a headers
 * binding only on a headers exchange). `honoured` lets the caller add the kinds it implements
 * itself (a selector: only the first is applied, so only the first is echoed). */
export function subscriptionFilters(filters: readonly SourceFilter[], exchangeType: string | null, honoured: readonly FilterKind[] = []): SubscriptionFilters {
  let bindingKey: string | null = null;
  let headers: Record<string, string | number | boolean | null> | null = null;
  const echo: Record<string, unknown> = {};
  let echoesSelector = false;
  for (const filter of filters) {
    let inForce = honoured.includes(filter.kind) && !(filter.kind === 'selector' && echoesSelector);
    if (inForce && filter.kind === 'selector') echoesSelector = true;
    if (exchangeType !== null && (filter.kind === 'direct-binding' || filter.kind === 'topic-binding') && typeof filter.value === 'string' && bindingKey === null) {
      bindingKey = filter.value;
      inForce = true;
    }
    if (exchangeType === 'headers' && filter.kind === 'headers-binding' && isPlainMap(filter.value) && headers === null) {
      headers = filter.value as Record<string, string | number | boolean | null>;
      inForce = true;
    }
    if (inForce) echo[filter.key] = filter.described;
  }
  return { bindingKey, headers, echo: Object.keys(echo).length > 0 ? echo : undefined };
}

function isPlainMap(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value);
}
