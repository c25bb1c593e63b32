// Scenario `tls-throughput` (issue 13): the durable load of `throughput` (durable 1 KiB messages
// on a durable queue, --store-sync fsync, at-least-once) over three transports, each row on a
// fresh broker: plain TCP with --auth no (the baseline), plain TCP with SCRAM-SHA-256 logins, and
// TLS (--ssl-port, a certificate made with openssl for the run) with SCRAM-SHA-256 logins.
// Ratio = row msgs/s / plain TCP msgs/s of the same shape; the issue's target for TLS+SCRAM is
// at least 0.8.
import { join } from 'node:path';
import { describeMachine } from '../lib/machine.js';
import { measureRow, shapeLabel } from '../lib/load-row.js';
import type { LoadShape } from '../lib/load-row.js';
import { brokerBuilt, brokerScript } from '../lib/paths.js';
import { trackTempDir } from '../lib/process.js';
import type { ResultRow, ScenarioResult, TableColumn } from '../lib/results.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { rowTiming } from '../lib/scenario.js';
import { startBroker } from '../lib/servers.js';
import { makeCertificates } from '../../test/helpers/certs.js';
import { emptyUsersDocument, makeUserRecord, writeUsersFile } from '../../src/security/users-file.js';

export const name = 'tls-throughput';
export const description = 'Durable 1 KiB throughput over plain TCP (--auth no), TCP with SCRAM-SHA-256, and TLS with SCRAM-SHA-256, each beside the plain TCP row: 1+1, 4+4, 16+16, and 4+4, 16+16 with --store-sync none (tiny: TCP and TLS + SCRAM at 4+4)';

type Shape = Pick<LoadShape, 'sizeBytes' | 'producers' | 'consumers'>;
const FULL_SHAPES: readonly Shape[] = [
  { sizeBytes: 1024, producers: 1, consumers: 1 },
  { sizeBytes: 1024, producers: 4, consumers: 4 },
  { sizeBytes: 1024, producers: 16, consumers: 16 },
];
const TINY_SHAPES: readonly Shape[] = [FULL_SHAPES[1] as Shape];

type Series = 'tcp' | 'tcp + SCRAM' | 'TLS + SCRAM';
const SERIES: readonly Series[] = ['tcp', 'tcp + SCRAM', 'TLS + SCRAM'];
const TARGET_RATIO = 0.8;
const USER = 'bench';

const columns: readonly TableColumn[] = [
  { key: 'shape', header: 'size, producers+consumers' },
  { key: 'server', header: 'transport' },
  { key: 'msgsPerS', header: 'msgs/s' },
  { key: 'ratio', header: 'ratio to tcp', digits: 2 },
  { key: 'e2eP50Ms', header: 'e2e p50 ms', digits: 2 },
  { key: 'e2eP99Ms', header: 'e2e p99 ms', digits: 2 },
  { key: 'settleP50Ms', header: 'settle p50 ms', digits: 2 },
  { key: 'settleP99Ms', header: 'settle p99 ms', digits: 2 },
  { key: 'lost', header: 'lost' },
  { key: 'errors', header: 'errors' },
  { key: 'serverCpuPct', header: 'server CPU %' },
  { key: 'serverCpuUsPerMsg', header: 'server CPU µs/msg' },
  { key: 'loadgenCpuPct', header: 'loadgen CPU %' },
];

export async function run(options: ScenarioOptions): Promise<ScenarioResult> {
  const machine = describeMachine();
  const timing = rowTiming(options.size);
  const shapes = options.size === 'tiny' ? TINY_SHAPES : FULL_SHAPES;
  const notes: string[] = [];
  const rows: ResultRow[] = [];
  if (!brokerBuilt()) {
    notes.push(`broker not built (${brokerScript} is missing): no rows`);
    return { scenario: name, size: options.size, machine, rows, columns, ok: true, notes, chart: { kind: 'bar', title: 'Durable throughput by transport', yLabel: 'messages per second (received)', categories: [], series: [] } };
  }
  const certs = makeCertificates([]);
  trackTempDir(certs.dir);
  const password = `bench-${process.pid}-${Date.now()}`;
  const usersFile = join(certs.dir, 'users.json');
  writeUsersFile(usersFile, { ...emptyUsersDocument(), users: { [USER]: makeUserRecord(password) } });
  // The loadgen processes inherit these: its TLS connections trust the run's CA, its logins use this password.
  process.env['QPID_SSL_CA_FILE'] = certs.caCert;
  process.env['QPID_PASSWORD'] = password;
  const auth = ['--auth', 'yes', '--sasl-users-file', usersFile];
  const tls = ['--ssl-port', '0', '--ssl-cert-file', certs.serverCert, '--ssl-key-file', certs.serverKey];
  let ok = true;
  // On a shared disk the fsync rate decides the durable rows; at full size the same durable load
  // with --store-sync none (4+4, in three alternating rounds, whose median ratio is reported:
  // other tenants come and go between rows) shows what TLS itself costs.
  // Tiny (npm test) keeps the two rows the ratio needs.
  const passes: { sync: 'fsync' | 'none'; shapes: readonly Shape[]; series: readonly Series[]; rounds: number }[] = [{ sync: 'fsync', shapes, series: options.size === 'tiny' ? ['tcp', 'TLS + SCRAM'] : SERIES, rounds: 1 }];
  if (options.size === 'full') passes.push({ sync: 'none', shapes: [FULL_SHAPES[1] as Shape], series: ['tcp', 'TLS + SCRAM'], rounds: 3 });
  for (const pass of passes) {
    for (const shape of pass.shapes) for (let round = 1; round <= pass.rounds; round++) {
      options.log(`${shapeLabel(shape)}, --store-sync ${pass.sync}${pass.rounds > 1 ? `, round ${round}` : ''}:`);
      let baseline: number | undefined;
      for (const series of pass.series) {
        const extraArgs = series === 'tcp' ? [] : series === 'tcp + SCRAM' ? auth : [...auth, ...tls];
        const load = { ...shape, ...timing, durable: true, ...(series === 'tcp' ? {} : { user: USER }) };
        const label = pass.sync === 'fsync' ? series : `${series} (store-sync none${pass.rounds > 1 ? `, round ${round}` : ''})`;
        const measured = await measureRow({ server: label, durable: true, storeSync: pass.sync, round }, () => startBroker({ storeSync: pass.sync, extraArgs }), load, options.log);
        ok &&= measured.ok;
        const msgsPerS = measured.row['msgsPerS'];
        if (series === 'tcp' && typeof msgsPerS === 'number') baseline = msgsPerS;
        const ratio = typeof msgsPerS === 'number' && baseline ? Math.round((msgsPerS / baseline) * 100) / 100 : null;
        // CPU per message is steadier than msgs/s when other tenants take the cores (and the
        // rate is the disk's): it is what TLS adds, whoever else runs.
        const cpuPct = measured.row['serverCpuPct'];
        const serverCpuUsPerMsg = typeof cpuPct === 'number' && typeof msgsPerS === 'number' && msgsPerS > 0 ? Math.round((cpuPct * 10_000) / msgsPerS) : null;
        rows.push({ ...measured.row, ratio, serverCpuUsPerMsg });
        if (!measured.ok) notes.push(`${shapeLabel(shape)} ${label}: ${String(measured.row['problem'])}`);
      }
    }
  }
  const tlsRows = rows.filter((r) => String(r['server']).startsWith('TLS + SCRAM'));
  for (const sync of ['fsync', 'none'] as const) {
    for (const shape of new Set(tlsRows.filter((r) => r['storeSync'] === sync).map((r) => String(r['shape'])))) {
      const ratios = tlsRows.filter((r) => r['storeSync'] === sync && r['shape'] === shape).map((r) => r['ratio']).filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
      const ratio = ratios.length > 0 ? (ratios[Math.floor((ratios.length - 1) / 2)] as number) : null;
      const of = ratios.length > 1 ? ` (median of ${ratios.map((r) => r.toFixed(2)).join(', ')})` : '';
      notes.push(`${shape}, --store-sync ${sync}: TLS + SCRAM at ${ratio !== null ? ratio.toFixed(2) : '?'} of plain TCP${of} (target >= ${TARGET_RATIO}${ratio !== null && ratio < TARGET_RATIO ? ': missed' : ''}); shared 2-core machine, compare within this run only`);
    }
  }
  const categories = shapes.map(shapeLabel);
  const valueOf = (series: Series, shape: string): number | null => {
    const row = rows.find((r) => r['server'] === series && r['shape'] === shape && r['storeSync'] === 'fsync');
    return row && typeof row['msgsPerS'] === 'number' ? row['msgsPerS'] : null;
  };
  return {
    scenario: name,
    size: options.size,
    machine,
    rows,
    columns,
    ok,
    notes,
    chart: { kind: 'bar', title: 'Durable throughput by transport (1 KiB, at-least-once, fsync)', yLabel: 'messages per second (received)', categories, series: SERIES.map((s) => ({ name: s, values: categories.map((c) => valueOf(s, c)) })) },
  };
}
