// store/README.md's error table stays in step with the codes (undici's errors test): every
// StoreErrorCode (src/core/errors.ts lists them all, checked by the compiler) is documented.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { STORE_ERRORS } from '../../src/core/errors.js';

const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'store', 'README.md'), 'utf8');

test('store/README.md documents every store error code', () => {
  const table = readme.slice(readme.indexOf('## Error codes'));
  for (const code of Object.keys(STORE_ERRORS)) assert.ok(table.includes(`\`${code}\``), `${code} is missing from store/README.md`);
  for (const code of table.match(/`STORE_[A-Z_]+`/g) ?? []) assert.ok(code.slice(1, -1) in STORE_ERRORS, `store/README.md documents ${code}, which is not a code`);
});
