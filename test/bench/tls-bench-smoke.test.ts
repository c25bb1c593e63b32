// The tls-throughput benchmark (issue 13) at its tiny size, as `npm run bench` runs it, so that it
// cannot rot: its rows (plain TCP, TLS + SCRAM) carry traffic with nothing
// lost, each has its ratio to the TCP row, and the notes report the TLS ratio beside the target.
// The figures are not held to the target here (a tiny run on a shared machine is no verdict).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerBuilt, distRoot } from '../../bench/lib/paths.js';
import { runJsonProcess } from '../../bench/lib/process.js';
import type { ScenarioResult } from '../../bench/lib/results.js';

const outDir = mkdtempSync(join(tmpdir(), 'bench-tls-smoke-'));
after(() => rmSync(outDir, { recursive: true, force: true }));

test('tls-throughput scenario, tiny: TCP and TLS + SCRAM rows with traffic, no loss, ratios to TCP', { skip: !brokerBuilt() && 'the broker is not built' }, async () => {
  const run = await runJsonProcess<ScenarioResult>([join(distRoot, 'bench', 'run.js'), 'tls-throughput', '--size', 'tiny', '--json', '--out-dir', outDir], 180_000);
  assert.equal(run.status.code, 0, `${JSON.stringify(run.value.notes)}\n${run.stderrTail.join('\n')}`);
  const rows = run.value.rows;
  assert.deepEqual(rows.map((r) => r['server']), ['tcp', 'TLS + SCRAM']);
  for (const row of rows) {
    assert.equal(row['ok'], true, String(row['problem']));
    assert.ok(typeof row['msgsPerS'] === 'number' && row['msgsPerS'] > 0);
    assert.equal(row['lost'], 0);
    assert.ok(typeof row['ratio'] === 'number' && row['ratio'] > 0);
  }
  assert.equal(rows[0]?.['ratio'], 1);
  assert.ok(run.value.notes.some((n) => /TLS \+ SCRAM at \d\.\d\d of plain TCP \(target >= 0\.8/.test(n)), JSON.stringify(run.value.notes));
});
