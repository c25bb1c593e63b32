// Value forms shared by qpidd options and the tools: BYTES (an integer with an optional K, M or G
// suffix, powers of 1024) and SECONDS (reference §1.12.3 note [b]: fractions and the units s, ms,
// us, ns), converted to the units our names carry: bytes and milliseconds.

import { ConfigError } from './errors.js';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export const BYTES_EXPECTED = 'expected a non-negative integer, optionally with a K, M or G suffix (powers of 1024)';
export const SECONDS_EXPECTED =
  'expected a non-negative number of seconds, optionally with a unit s, ms, us or ns (e.g. 0.1, 10s, 250ms)';

const BYTE_MULTIPLIERS: Readonly<Record<string, number>> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

// Decimal exponents to milliseconds; scaling through the exponent of a decimal string keeps
// "1.1" seconds exactly 1100 ms, where 1.1 * 1000 would be 1100.0000000000002.
const SECOND_EXPONENTS: Readonly<Record<string, number>> = { '': 3, s: 3, ms: 0, us: -3, ns: -6 };

export function tryParseBytes(text: string): Parsed<number> {
  const match = /^(\d+)\s*([kKmMgG]?)$/.exec(text.trim());
  if (!match) return { ok: false, reason: text.trim().startsWith('-') ? `${BYTES_EXPECTED}; negative sizes mean nothing` : BYTES_EXPECTED };
  const multiplier = BYTE_MULTIPLIERS[(match[2] as string).toUpperCase()] as number;
  const value = Number(match[1]) * multiplier;
  if (!Number.isSafeInteger(value)) return { ok: false, reason: `${BYTES_EXPECTED}; this is beyond 2^53 bytes` };
  return { ok: true, value };
}

export function tryParseSeconds(text: string): Parsed<number> {
  const match = /^(\d+(?:\.\d*)?|\.\d+)\s*(s|ms|us|ns)?$/.exec(text.trim());
  if (!match) return { ok: false, reason: text.trim().startsWith('-') ? `${SECONDS_EXPECTED}; durations cannot be negative` : SECONDS_EXPECTED };
  const value = Number(`${match[1]}e${SECOND_EXPONENTS[match[2] ?? ''] as number}`);
  if (!Number.isFinite(value)) return { ok: false, reason: `${SECONDS_EXPECTED}; this is too large` };
  return { ok: true, value };
}

/** Bytes from "104857600", "100M", "64k"; throws ConfigError (BAD_VALUE) naming the text. */
export function parseBytes(text: string): number {
  const result = tryParseBytes(text);
  if (!result.ok) throw new ConfigError('BAD_VALUE', `invalid size "${text}": ${result.reason}`, { value: text });
  return result.value;
}

/** Milliseconds (a float) from "0.1", "10s", "10ms", "10us", "10ns"; throws ConfigError (BAD_VALUE). */
export function parseSeconds(text: string): number {
  const result = tryParseSeconds(text);
  if (!result.ok) throw new ConfigError('BAD_VALUE', `invalid duration "${text}": ${result.reason}`, { value: text });
  return result.value;
}

/** The shortest exact BYTES spelling, for help text: 104857600 -> "100M", 1000 -> "1000". */
/** A size for people reading a message: "252.0 GiB", "8.0 MiB", "512 bytes". */
export function describeBytes(bytes: number): string {
  for (const [unit, multiplier] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= multiplier) return `${(bytes / multiplier).toFixed(1)} ${unit}`;
  }
  return `${bytes} bytes`;
}

export function formatBytes(bytes: number): string {
  for (const suffix of ['G', 'M', 'K'] as const) {
    const multiplier = BYTE_MULTIPLIERS[suffix] as number;
    if (bytes >= multiplier && bytes % multiplier === 0) return `${bytes / multiplier}${suffix}`;
  }
  return String(bytes);
}
