// Where things are, from the compiled file's point of view: this file runs as
// dist/bench/lib/paths.js, so the compiled tree is two levels up and the repository three.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export const distRoot = resolve(here, '..', '..');
export const repoRoot = resolve(distRoot, '..');
export const relayScript = join(distRoot, 'bench', 'relay.js');
export const loadgenScript = join(distRoot, 'bench', 'loadgen.js');
/** BENCH_QPIDD_SCRIPT points the broker rows at another build of qpidd (a node script). */
export const brokerScript = process.env['BENCH_QPIDD_SCRIPT'] ?? join(distRoot, 'tools', 'qpidd.js');
export const scenariosDir = join(distRoot, 'bench', 'scenarios');
export const defaultResultsDir = join(repoRoot, 'bench', 'results');

export function brokerBuilt(): boolean {
  return existsSync(brokerScript);
}
