import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topicMatches } from '../../src/broker/topic.js';

test('topic patterns: * is one word, # is zero or more words', () => {
  const cases: [string, string, boolean][] = [
    ['a.b.c', 'a.b.c', true],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.c', false],
    ['a.*', 'a.b.c', false],
    ['a.#', 'a', true],
    ['a.#', 'a.b.c', true],
    ['#.c', 'a.b.c', true],
    ['#', '', true],
    ['#', 'x.y', true],
    ['a.#.c', 'a.c', true],
    ['a.#.c', 'a.x.y.c', true],
    ['a.#.c', 'a.x.y.d', false],
    ['*.#', '', false],
    ['*.#', 'x', true],
    ['#.#', 'x.y', true],
    ['usa.*', 'usa.news', true],
    ['usa.*', 'europe.news', false],
    ['', '', true],
    ['a', 'b', false],
  ];
  for (const [pattern, key, expected] of cases) {
    assert.equal(topicMatches(pattern, key), expected, `${pattern} vs ${key}`);
  }
});
