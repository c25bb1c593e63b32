// bench/store.ts at tiny size, so the benchmark cannot rot: it runs, prints one JSON line per
// row with the fields the table needs, and meets its own targets (records per fsync with 256
// writers; open time). Figures are not asserted beyond that: they belong to bench runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeTmpDir } from '../helpers/tmp.js';

const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'store.js');

test('bench/store.js --size tiny prints its rows as JSON lines and a markdown table', () => {
  const run = spawnSync(process.execPath, [script, '--size', 'tiny', '--dir', makeTmpDir('bench-store')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  const rows = run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);
  assert.deepEqual(
    rows.map((r) => [r['test'], r['writers'] ?? null]),
    [
      ['raw write+fdatasync, 1 KiB', 1],
      ['durable enqueue+dequeue, 1 KiB', 1],
      ['durable enqueue+dequeue, 1 KiB', 16],
      ['durable enqueue+dequeue, 1 KiB', 256],
      ['open, 20,000 queued 1 KiB messages', null],
    ],
  );
  for (const r of rows) {
    assert.equal(r['scenario'], 'store');
    assert.equal(r['size'], 'tiny');
    assert.equal(typeof r['machine']?.cpuModel, 'string');
  }
  for (const r of rows.slice(0, 4)) assert.ok(r['records_per_s'] > 0 && r['fsyncs_per_s'] > 0 && r['records_per_fsync'] >= 1, JSON.stringify(r));
  assert.equal(rows[3]!['target_50_per_fsync_met'], true, `records per fsync with 256 writers: ${rows[3]!['records_per_fsync']}`);
  assert.ok(rows[4]!['open_ms'] > 0);
  assert.equal(rows[4]!['target_under_1s_met'], true);
  assert.match(run.stdout, /^\| test \| writers \| records\/s \| fsyncs\/s \| records\/fsync \|/m);
  assert.match(run.stderr, /bench store: durable enqueue\+dequeue, 256 writers/);
});
