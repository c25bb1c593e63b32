// README.md's error table must say what the code does (undici keeps its docs in step this way).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BROKER_ERRORS, STORE_ERRORS } from '../../src/core/errors.js';

const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'README.md'), 'utf8');

test('README error table lists every code with its condition and meaning, and nothing else', () => {
  const table = readme.split('<!-- errors-table:start -->')[1]?.split('<!-- errors-table:end -->')[0];
  assert.ok(table, 'README has the errors-table markers');
  const rows = table
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| code') && !line.startsWith('|---'))
    .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
  const expected = [...Object.entries(BROKER_ERRORS), ...Object.entries(STORE_ERRORS)].map(([code, info]) => [code, info.condition, info.meaning]);
  assert.deepEqual(rows, expected);
});
