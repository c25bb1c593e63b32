// The value forms of the option table (schema.ts): zod schemas that turn an option's text into
// its value, each refusing with the expected form in words ("expected an integer 1-65535").

import { isIP } from 'node:net';
import { z } from 'zod';
import { parseCrashPlan, type CrashPlan } from '../core/crash-points.js';
import { parseQpidUrl, QpidUrlError } from '../core/qpid-url.js';
import type { UrlValue } from './schema.js';
import { formatBytes, tryParseBytes, tryParseSeconds, type Parsed } from './units.js';

// setTimeout fires at once for delays above 2^31-1 ms, so a longer interval would turn into a
// busy loop; refuse it here rather than discover it in the timer.
export const TIMER_MS_MAX = 2 ** 31 - 1;

export function integer(min: number, max: number): z.ZodType<number, string> {
  const expected = `expected an integer ${min}-${max}`;
  return z
    .string()
    .trim()
    .regex(/^\d+$/, expected)
    .transform(Number)
    .refine((n) => n >= min && n <= max, expected);
}

export function fromParsed<T>(parse: (text: string) => Parsed<T>): z.ZodType<T, string> {
  return z.string().transform((text, ctx) => {
    const result = parse(text);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.reason, input: text });
    return z.NEVER;
  });
}

export function bytes(minBytes: number, max?: { readonly bytes: number; readonly why: string }): z.ZodType<number, string> {
  const atLeast = fromParsed(tryParseBytes).refine(
    (n) => n >= minBytes,
    `expected at least ${formatBytes(minBytes)}${minBytes >= 1024 ? ` (${minBytes} bytes)` : ''}`,
  );
  if (!max) return atLeast;
  return atLeast.refine((n) => n <= max.bytes, `expected at most ${formatBytes(max.bytes)} (${max.bytes} bytes): ${max.why}`);
}

/** A duration in milliseconds; `floor` refuses values too short to work (with the reason). */
export function seconds(floor?: { readonly ms: number; readonly why: string }): z.ZodType<number, string> {
  const bounded = fromParsed(tryParseSeconds).refine((ms) => ms <= TIMER_MS_MAX, 'expected at most 2147483.647s (timers cannot wait longer)');
  if (!floor) return bounded;
  return bounded.refine((ms) => ms >= floor.ms, `expected at least ${floor.ms / 1000}s (${floor.ms} ms): ${floor.why}`);
}

/** A decimal fraction such as 0.25, within [min, max]. */
export function fraction(min: number, max: number): z.ZodType<number, string> {
  const expected = `expected a decimal fraction ${min}-${max}, such as 0.25`;
  return z
    .string()
    .trim()
    .regex(/^(0|1)?(\.\d+)?$/, expected)
    .refine((text) => text !== '' && text !== '.', expected)
    .transform(Number)
    .refine((n) => n >= min && n <= max, expected);
}

export function yesNo(): z.ZodType<boolean, string> {
  return z
    .string()
    .trim()
    .pipe(z.stringbool({ truthy: ['yes', 'true', '1'], falsy: ['no', 'false', '0'], error: 'expected yes or no (also true/false, 1/0)' }));
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T): z.ZodType<T[number], string> {
  const expected = `expected one of ${values.join(', ')}`;
  return z
    .string()
    .trim()
    .toLowerCase()
    .refine((v): v is T[number] => (values as readonly string[]).includes(v), expected) as unknown as z.ZodType<T[number], string>;
}

/** One non-empty line of at most `maxBytes` bytes of UTF-8 (the reason says why that much). */
export function nonEmpty(what: string, maxBytes: number, why: string): z.ZodType<string, string> {
  return z
    .string()
    .regex(/^[^\0\r\n]+$/, `expected ${what} (non-empty, one line)`)
    .refine((text) => Buffer.byteLength(text, 'utf8') <= maxBytes, `expected ${what} of at most ${maxBytes} bytes: ${why}`);
}

export function crashPlan(maxChars: number): z.ZodType<CrashPlan, string> {
  return fromParsed((text) => (text.length > maxChars ? { ok: false, reason: `expected at most ${maxChars} characters` } : parseCrashPlan(text)));
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

export function host(maxChars: number): z.ZodType<string, string> {
  return z
    .string()
    .trim()
    .transform((text) => (text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text))
    .refine((text) => text.length <= maxChars && (isIP(text) !== 0 || HOST_NAME.test(text)), `expected an IP address or host name (at most ${maxChars} characters) to listen on`);
}

export function qpidUrl(maxChars: number): z.ZodType<UrlValue, string> {
  return fromParsed((text) => {
    if (text.length > maxChars) return { ok: false, reason: `expected a Qpid URL of at most ${maxChars} characters, not ${text.length}` };
    try {
      return { ok: true, value: { url: parseQpidUrl(text), text: text.trim() } };
    } catch (err) {
      if (err instanceof QpidUrlError) return { ok: false, reason: err.message };
      throw err;
    }
  });
}

// SASL mechanism names: 1-20 upper-case letters, digits, hyphens and underscores (RFC 4422 §3.1).
export function mechanism(): z.ZodType<string, string> {
  return z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]{1,20}$/, 'expected a SASL mechanism name such as PLAIN or ANONYMOUS')
    .transform((text) => text.toUpperCase());
}

/** A regular expression matched against a whole node name (qpidd's --queue-patterns). */
export function pattern(): z.ZodType<RegExp, string> {
  return fromParsed((text) => {
    if (text.length === 0 || text.length > 1000) return { ok: false, reason: 'expected a regular expression of 1-1000 characters' };
    try {
      return { ok: true, value: new RegExp(`^(?:${text})$`, 'u') };
    } catch (err) {
      return { ok: false, reason: `not a regular expression: ${(err as Error).message}` };
    }
  });
}
