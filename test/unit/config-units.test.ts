// BYTES and SECONDS value forms (reference §1.12.3 note [b]) as the tools reuse them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError, formatBytes, parseBytes, parseSeconds } from '../../src/config/index.js';

function assertBadValue(fn: () => unknown, text: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'BAD_CONFIG');
    assert.equal(err.kind, 'BAD_VALUE');
    assert.equal(err.exitCode, 2);
    assert.equal(err.value, text);
    assert.ok(err.message.includes(JSON.stringify(text)), err.message);
    return true;
  });
}

test('parseBytes reads plain integers and K, M, G as powers of 1024', () => {
  const cases: [string, number][] = [
    ['0', 0],
    ['1024', 1024],
    ['1k', 1024],
    ['1K', 1024],
    ['64M', 64 * 1024 ** 2],
    ['64m', 64 * 1024 ** 2],
    ['2G', 2 * 1024 ** 3],
    [' 5 ', 5],
    ['10 M', 10 * 1024 ** 2],
  ];
  for (const [text, bytes] of cases) assert.equal(parseBytes(text), bytes, text);
});

test('parseBytes refuses fractions, negatives, unknown suffixes and sizes beyond 2^53', () => {
  for (const text of ['', 'abc', '-1', '1.5M', '1T', '1KB', 'M', '9007199254740993', '9999999999G']) assertBadValue(() => parseBytes(text), text);
  assert.throws(() => parseBytes('-1'), /negative sizes mean nothing/);
});

test('parseSeconds returns milliseconds for fractions and the units s, ms, us, ns', () => {
  const cases: [string, number][] = [
    ['0', 0],
    ['2', 2000],
    ['0.1', 100],
    ['.5', 500],
    ['1.1', 1100], // exact: scaled through the decimal exponent, not 1.1 * 1000
    ['10s', 10_000],
    ['10ms', 10],
    ['10us', 0.01],
    ['10ns', 0.00001],
    ['2.5ms', 2.5],
    [' 3 s ', 3000],
  ];
  for (const [text, ms] of cases) assert.equal(parseSeconds(text), ms, text);
});

test('parseSeconds refuses negative and non-numeric durations', () => {
  for (const text of ['', '-1', '-0.5s', 'abc', '10m', '10h', '1e3', 's', '1..2']) assertBadValue(() => parseSeconds(text), text);
});

test('formatBytes gives the shortest exact spelling, and parseBytes reads it back', () => {
  assert.equal(formatBytes(104857600), '100M');
  assert.equal(formatBytes(68719476736), '64G');
  assert.equal(formatBytes(1536), '1536');
  assert.equal(formatBytes(0), '0');
  fc.assert(fc.property(fc.maxSafeNat(), (n) => parseBytes(formatBytes(n)) === n));
  fc.assert(fc.property(fc.nat({ max: 2 ** 22 }), fc.constantFrom('K', 'M', 'G'), (n, suffix) => parseBytes(`${n}${suffix}`) === n * { K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[suffix]));
});

test('whole numbers of ms, us and seconds convert exactly', () => {
  fc.assert(fc.property(fc.nat({ max: 2 ** 31 - 1 }), (n) => parseSeconds(`${n}ms`) === n));
  fc.assert(fc.property(fc.nat({ max: 2 ** 21 }), (n) => parseSeconds(`${n}s`) === n * 1000 && parseSeconds(String(n)) === n * 1000));
});
