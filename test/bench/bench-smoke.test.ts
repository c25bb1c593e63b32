// Benchmarks cannot rot (STYLE.md 10): the scenarios run at their tiny size as child processes,
// exactly as `npm run bench` runs them, and their JSON output must have the right shape and sane
// figures: messages flowed, nothing was lost, the files were written. The throughput scenario's
// broker rows run once dist/tools/qpidd.js exists; until then it must say so and skip them, and
// the scenarios that need the broker (ha-throughput, failover, recovery, catch-up, management,
// soak) are skipped. The figures are not held to the targets here: a tiny run on a shared
// machine measures nothing worth a verdict; they must only be present and plausible.
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

function assertFiles(output: RunOutput, firstHeader = 'size, producers+consumers'): void {
  const lines = readFileSync(output.files.jsonl, 'utf8').trim().split('\n');
  assert.equal(lines.length, output.rows.length);
  for (const line of lines) {
    const record = JSON.parse(line) as { scenario: string; machine: { cores: number; nodeVersion: string; cpuModel: string; date: string } };
    assert.equal(record.scenario, output.scenario);
    assert.ok(record.machine.cores > 0 && record.machine.nodeVersion.startsWith('v') && record.machine.cpuModel && record.machine.date);
  }
  assert.ok(readFileSync(output.files.markdown, 'utf8').startsWith(`| ${firstHeader} |`), `${output.scenario}: markdown table`);
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

const needsBroker = { skip: brokerBuilt() ? false : 'broker not built' };
// npm test smoke-runs the scenarios most others build on (relay, failover, management,
// transactions); BENCH_SMOKE=all adds the rest at their tiny size, throughput among them (its
// 17 s went when the suite neared its 15-minute budget on 2 cores again). The whole set took
// the suite past that budget.
const FULL_SMOKE = process.env['BENCH_SMOKE'] === 'all';
const fullSmokeOnly = { skip: !brokerBuilt() ? 'broker not built' : FULL_SMOKE ? false : 'run with BENCH_SMOKE=all (the suite\'s time budget)' };

test('throughput scenario, tiny: relay baseline beside the broker, or a clear note that the broker is not built', FULL_SMOKE ? {} : { skip: 'run with BENCH_SMOKE=all (the suite\'s time budget)' }, async () => {
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


function num(row: ResultRow | undefined, key: string): number {
  const value = row?.[key];
  assert.ok(typeof value === 'number' && Number.isFinite(value), `${key}: ${String(value)} in ${JSON.stringify(row)?.slice(0, 300)}`);
  return value;
}

test('ha-throughput scenario, tiny: standalone and cluster durable 4+4, and the cluster at half its rate', fullSmokeOnly, async () => {
  const output = await runScenario('ha-throughput');
  assert.equal(output.ok, true, output.notes.join('; '));
  assert.deepEqual(
    output.rows.map((r) => `${String(r['server'])} ${String(r['rateLabel']).endsWith('(half)') ? 'half' : r['rateLabel']}`),
    ['standalone durable max', 'cluster durable max', 'cluster durable half'],
  );
  for (const row of output.rows) assertSaneLoadRow(row);
  const [standalone, cluster, half] = output.rows;
  assert.equal(num(cluster, 'ratio'), Math.round((num(cluster, 'msgsPerS') / num(standalone, 'msgsPerS')) * 100) / 100);
  assert.ok(num(cluster, 'peerCpuPct') >= 0, 'the backups\' CPU is reported');
  assert.equal((half?.['detail'] as { params: { rateMsgsPerS: number } }).params.rateMsgsPerS, Math.round(num(cluster, 'msgsPerS') / 2));
  assertFiles(output, 'size, producers+consumers');
});

test('failover-dedup scenario, tiny: without and with the window; with it and consumers after the kills, no duplicate and nothing lost', fullSmokeOnly, async () => {
  const output = await runScenario('failover-dedup');
  assert.equal(output.ok, true, output.notes.join('; '));
  const wholeRuns = output.rows.filter((r) => String(r['event']).endsWith(': whole run'));
  assert.equal(wholeRuns.length, 3);
  for (const whole of wholeRuns) assert.equal(whole['lost'], 0, String(whole['event']));
  const exact = output.rows.find((r) => r['event'] === 'qpid.dedup_window, consumers after the kills: whole run');
  assert.equal(exact?.['duplicates'], 0, 'the promoted backups recognised every resend');
  assert.equal(output.rows.filter((r) => String(r['event']).startsWith('qpid.dedup_window, consumers after the kills: kill ')).length, 2);
  assertFiles(output, 'event');
});

test('failover scenario, tiny: two kills, producers resume, nothing lost', needsBroker, async () => {
  const output = await runScenario('failover');
  assert.equal(output.ok, true, output.notes.join('; '));
  const kills = output.rows.filter((r) => String(r['event']).startsWith('kill '));
  assert.equal(kills.length, 2);
  for (const kill of kills) {
    // Each step happens after the kill, and every producer resumes after the first one does.
    assert.ok(num(kill, 'promoteMs') > 0 && num(kill, 'activeMs') >= num(kill, 'promoteMs'));
    assert.ok(num(kill, 'resumeFirstMs') > 0 && num(kill, 'resumeAllMs') >= num(kill, 'resumeFirstMs'));
    assert.ok(num(kill, 'rejoinReadyMs') > 0);
  }
  assert.deepEqual(kills.map((k) => k['change']), ['b0 -> b1', 'b1 -> b2']);
  const baseline = output.rows.find((r) => String(r['event']).startsWith('baseline'));
  assert.ok(num(baseline, 'acceptedMsgsPerS') > 0 && num(baseline, 'settleP99Ms') > 0);
  const whole = output.rows.find((r) => r['event'] === 'whole run');
  assert.equal(whole?.['lost'], 0);
  const detail = whole?.['detail'] as { counts: { accepted: number; received: number; producerReconnects: number } };
  assert.ok(detail.counts.accepted > 0 && detail.counts.received >= detail.counts.accepted);
  assert.ok(detail.counts.producerReconnects >= 2 * 2, 'both producers reconnected after each kill');
  assertFiles(output, 'event');
});

test('recovery scenario, tiny: deeper stores still serve, with the 1-message store as baseline', fullSmokeOnly, async () => {
  const output = await runScenario('recovery');
  assert.equal(output.ok, true, output.notes.join('; '));
  assert.deepEqual(output.rows.map((r) => r['messages']), [1, 1000, 10000]);
  for (const row of output.rows) {
    assert.ok(num(row, 'listeningMs') > 0 && num(row, 'servingMs') >= num(row, 'listeningMs'));
    assert.ok(num(row, 'rssMiB') > 10 && num(row, 'anonMiB') > 0 && num(row, 'anonMiB') <= num(row, 'rssMiB'));
    assert.ok(num(row, 'storeMiB') >= 0);
  }
  assert.equal(output.rows[0]?.['ratio'], 1);
  assertFiles(output, 'queued messages');
});

test('catch-up scenario, tiny: a backup catches up behind 10^4 messages, idle and under load', fullSmokeOnly, async () => {
  const output = await runScenario('catch-up');
  assert.equal(output.ok, true, output.notes.join('; '));
  assert.equal(output.rows.length, 2);
  const [idle, busy] = output.rows;
  assert.equal(idle?.['load'], 'none');
  for (const row of [idle, busy]) {
    assert.ok(num(row, 'readyS') > 0 && num(row, 'mbPerS') > 0);
    assert.equal(Math.round(num(row, 'storeMB')), 11);
  }
  assert.ok(num(busy, 'beforeMsgsPerS') > 0 && num(busy, 'duringMsgsPerS') > 0 && num(busy, 'afterMsgsPerS') > 0);
  assert.equal(busy?.['lost'], 0);
  assertFiles(output, 'primary holds');
});

test('catch-up-cases scenario, tiny: a returning backup catches up by the delta, a frozen one stalls producers no longer than the confirm timeout', fullSmokeOnly, async () => {
  const output = await runScenario('catch-up-cases');
  assert.equal(output.ok, true, output.notes.join('; '));
  assert.equal(output.rows.length, 6);
  const [firstCopy, returned, frozen, incremental, wipe, busy] = output.rows;
  assert.equal(firstCopy?.['howLabel'], 'snapshot (the backup\'s store is empty)');
  assert.match(String(returned?.['howLabel']), /^incremental from LSN /);
  assert.ok(num(returned, 'shippedMB') < num(firstCopy, 'shippedMB'), 'a 1 s absence ships less than the full copy');
  // The stall is real (the backup held settlement up) and bounded by the 1 s confirm timeout.
  assert.ok(num(frozen, 'stallS') > 0.3 && num(frozen, 'stallS') <= 1.5, `stall ${String(frozen?.['stallS'])} s`);
  assert.match(String(incremental?.['howLabel']), /^incremental from LSN /);
  assert.match(String(wipe?.['howLabel']), /^snapshot/);
  assert.ok(num(busy, 'readyS') > 0 && num(busy, 'duringMsgsPerS') > 0);
  for (const row of [returned, frozen, busy]) assert.equal(row?.['lost'], 0);
  assertFiles(output, 'case');
});

test('management scenario, tiny: an open console (SSE, /api/v1/queues, /metrics) under a durable load, beside each alone', needsBroker, async () => {
  const output = await runScenario('management');
  assert.equal(output.ok, true, output.notes.join('; '));
  const console = 'console (SSE + /api/v1/queues + /metrics at 10/s each)';
  assert.deepEqual(output.rows.map((r) => `${String(r['row'])} ${String(r['endpoint'])}`), [
    'durable load alone -',
    `HTTP alone ${console}`,
    `round 1: load alone -`,
    `round 1: load + console ${console}`,
  ]);
  const [, http, alone, both] = output.rows;
  assertSaneLoadRow(alone as ResultRow);
  assertSaneLoadRow(both as ResultRow);
  assert.equal(both?.['httpFailures'], 0, 'the polls answered and the event stream delivered');
  // The round's loss is against the load alone of the same round (to its rounding).
  const lossPct = (1 - num(both, 'msgsPerS') / num(alone, 'msgsPerS')) * 100;
  assert.ok(Math.abs(num(both, 'msgsLostPct') - lossPct) <= 0.051, `${num(both, 'msgsLostPct')} against ${lossPct}`);
  assert.ok(num(http, 'requestsPerS') > 0 && num(both, 'requestsPerS') > 0);
  assertFiles(output, 'run');
});

test('soak scenario, tiny: memory sampled every second through two failures, durable streams lose nothing', fullSmokeOnly, async () => {
  const output = await runScenario('soak');
  assert.equal(output.ok, true, output.notes.join('; '));
  const b2 = output.rows.filter((r) => String(r['what']).startsWith('b2 as '));
  assert.equal(b2.length, 2, 'the long-lived broker, as backup then as primary');
  for (const row of b2) assert.ok(num(row, 'samples') >= 1 && /^[\d.]+ \/ [\d.]+ \/ [\d.]+$/.test(String(row['rss'])), JSON.stringify(row));
  const loads = output.rows.filter((r) => String(r['what']).startsWith('load '));
  assert.equal(loads.length, 3);
  for (const load of loads) assert.ok(num(load, 'accepted') > 0);
  for (const load of loads.filter((l) => String(l['what']).includes('durable'))) assert.equal(load['lost'], 0);
  const failures = output.rows.find((r) => r['what'] === 'failures')?.['events'] as { kind: string }[];
  assert.deepEqual(failures.map((f) => f.kind), ['kill primary, promote b2', 'kill backup']);
  assertFiles(output, 'process or stream');
});

test('queue-types scenario, tiny: each queue type fills and drains beside a plain queue, last-value draining one message per key', fullSmokeOnly, async () => {
  const output = await runScenario('queue-types');
  assert.equal(output.ok, true, output.notes.join('; '));
  assert.deepEqual(output.rows.map((r) => r['type']), ['fifo', 'priority, 10 levels', 'last-value, depth/10 keys', 'groups, 100 groups']);
  for (const row of output.rows) assert.ok(num(row, 'fillMsgsPerS') > 0 && num(row, 'drainMsgsPerS') > 0, JSON.stringify(row));
  assert.equal(output.rows[2]?.['drained'], num(output.rows[2], 'filled') / 10);
  assertFiles(output, 'queue type');
});

test('selector scenario, tiny: a selector consumer takes only the matches of a sparse queue, beside a plain consumer', fullSmokeOnly, async () => {
  const output = await runScenario('selector');
  assert.equal(output.ok, true, output.notes.join('; '));
  assert.deepEqual(output.rows.map((r) => r['consumer']), ['selector, 1 in 100 match', 'plain, queue of only the matches', 'selector, every message matches', 'plain, same queue']);
  for (const row of output.rows) {
    assert.equal(row['wrongColour'], 0);
    assert.ok(num(row, 'msgsPerS') > 0 && num(row, 'cpuUsPerDelivered') >= 0, JSON.stringify(row));
  }
  assert.equal(output.rows[0]?.['delivered'], num(output.rows[0], 'queued') / 100);
  assertFiles(output, 'consumer');
});

test('transactions scenario, tiny: transactions of 1, 10 and 100 durable messages beside the same messages unbatched', needsBroker, async () => {
  const output = await runScenario('transactions');
  assert.equal(output.ok, true, output.notes.join('; '));
  assert.deepEqual(output.rows.map((r) => `${String(r['mode'])} ${String(r['size'])}`), ['unbatched 1', 'transactions 1', 'unbatched 10', 'transactions 10', 'unbatched 100', 'transactions 100']);
  for (const row of output.rows) assert.ok(num(row, 'msgsPerS') > 0, JSON.stringify(row));
  for (const row of output.rows.filter((r) => r['mode'] === 'transactions')) assert.ok(num(row, 'ratio') > 0, JSON.stringify(row));
  assertFiles(output, 'messages per transaction (or in flight)');
});
