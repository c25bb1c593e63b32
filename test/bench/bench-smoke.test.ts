// Benchmarks cannot rot (STYLE.md 10): the scenarios run at their tiny size as child processes,
// exactly as `npm run bench` runs them, and their JSON output must have the right shape and sane
// figures: messages flowed, nothing was lost, the files were written. The throughput scenario's
// broker rows run once dist/tools/qpidd.js exists; until then it must say so and skip them.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerBuilt, distRoot } from '../../bench/lib/paths.js';
import { runJsonProcess } from '../../bench/lib/process.js';
import type { ResultRow, ScenarioResult } from '../../bench/lib/results.js';

const outDir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
after(() => rmSync(outDir, { recursive: true, force: true }));

type RunOutput = ScenarioResult & { description: string; files: { jsonl: string; markdown: string; svg?: string } };

async function runScenario(scenario: string): Promise<RunOutput> {
  const run = await runJsonProcess<RunOutput>([join(distRoot, 'bench', 'run.js'), scenario, '--size', 'tiny', '--json', '--out-dir', outDir], 180_000);
  assert.equal(run.status.code, 0, `bench ${scenario} exited ${run.status.code}: ${JSON.stringify(run.value.notes)}\n${run.stderrTail.join('\n')}`);
  return run.value;
}

function assertSaneLoadRow(row: ResultRow): void {
  const what = `${String(row['server'])} ${String(row['shape'])}`;
  assert.equal(row['ok'], true, `${what}: ${String(row['problem'])}`);
  assert.ok(typeof row['msgsPerS'] === 'number' && row['msgsPerS'] > 0, `${what}: msgs/s ${String(row['msgsPerS'])}`);
  assert.equal(row['lost'], 0, `${what}: lost`);
  assert.equal(row['errors'], 0, `${what}: errors`);
  for (const key of ['e2eP50Ms', 'e2eP99Ms', 'e2eP999Ms', 'settleP50Ms', 'settleP99Ms']) {
    assert.ok(typeof row[key] === 'number' && (row[key] as number) > 0, `${what}: ${key} ${String(row[key])}`);
  }
  assert.ok((row['e2eP50Ms'] as number) <= (row['e2eP99Ms'] as number) && (row['e2eP99Ms'] as number) <= (row['e2eP999Ms'] as number));
  const detail = row['detail'] as { counts: { accepted: number; received: number; duplicates: number }; lossChecked: boolean };
  assert.equal(detail.lossChecked, true);
  assert.ok(detail.counts.received >= detail.counts.accepted, `${what}: every accepted message received`);
}

function assertFiles(output: RunOutput): void {
  const lines = readFileSync(output.files.jsonl, 'utf8').trim().split('\n');
  assert.equal(lines.length, output.rows.length);
  for (const line of lines) {
    const record = JSON.parse(line) as { scenario: string; machine: { cores: number; nodeVersion: string; cpuModel: string; date: string } };
    assert.equal(record.scenario, output.scenario);
    assert.ok(record.machine.cores > 0 && record.machine.nodeVersion.startsWith('v') && record.machine.cpuModel && record.machine.date);
  }
  assert.match(readFileSync(output.files.markdown, 'utf8'), /^\| size, producers\+consumers \|/);
  assert.ok(output.files.svg, 'a chart was written');
  const svg = readFileSync(output.files.svg, 'utf8');
  assert.match(svg, /^<svg [^>]*>[\s\S]*<\/svg>\n$/);
  assert.ok(!svg.includes('NaN'));
}

test('relay scenario, tiny: 1+1 and 4+4 rows with traffic, latencies and no loss', async () => {
  const output = await runScenario('relay');
  assert.equal(output.scenario, 'relay');
  assert.equal(output.size, 'tiny');
  assert.equal(output.ok, true);
  assert.deepEqual(output.rows.map((r) => r['shape']), ['1 KiB 1+1', '1 KiB 4+4']);
  for (const row of output.rows) assertSaneLoadRow(row);
  assertFiles(output);
});

test('throughput scenario, tiny: relay baseline beside the broker, or a clear note that the broker is not built', async () => {
  const output = await runScenario('throughput');
  assert.equal(output.ok, true, output.notes.join('; '));
  const servers = output.rows.map((r) => `${String(r['shape'])} ${String(r['server'])}`);
  if (brokerBuilt()) {
    assert.deepEqual(servers, [
      '1 KiB 1+1 relay',
      '1 KiB 1+1 broker transient',
      '1 KiB 1+1 broker durable',
      '1 KiB 4+4 relay',
      '1 KiB 4+4 broker transient',
      '1 KiB 4+4 broker durable',
    ]);
    for (const row of output.rows) {
      assert.ok(typeof row['ratio'] === 'number' && row['ratio'] > 0, `ratio ${String(row['ratio'])}`);
      assert.equal((row['detail'] as { params: { durable: boolean } }).params.durable, row['server'] === 'broker durable');
    }
  } else {
    assert.deepEqual(servers, ['1 KiB 1+1 relay', '1 KiB 4+4 relay']);
    assert.ok(output.notes.some((note) => note.startsWith('broker not built')), output.notes.join('; '));
  }
  for (const row of output.rows) assertSaneLoadRow(row);
  assertFiles(output);
});
