// Proof that the simulator bites: each deliberately broken variant (variants.ts) must be found
// within its seed budget, by the checker that names what it breaks, and the production code
// must pass the same seeds. A simulator that cannot find a planted bug proves nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ViolationCode } from './checkers.js';
import { runSimulation } from './runner.js';
import { VARIANTS, type VariantName } from './variants.js';

interface Budget {
  readonly seeds: number;
  /** Runs with a bad cluster manager only (the bug needs a stale primary or a bad request). */
  readonly badManager: boolean;
  /** Violations that name the bug. */
  readonly expected: readonly ViolationCode[];
  /** Runs with the issue-17 managers over the simulated etcd (--etcd-manager). */
  readonly etcd?: boolean;
  /** The first seed (default 1): a bug that needs a rare interleaving starts where one is. */
  readonly from?: number;
}

const BUDGETS: Record<VariantName, Budget> = {
  'settle-early': { seeds: 10, badManager: false, expected: ['SETTLED_EARLY', 'LOST'] },
  'settle-alone': { seeds: 40, badManager: false, expected: ['SETTLED_ALONE'] },
  'promote-catchup': { seeds: 60, badManager: true, expected: ['PROMOTED_UNREADY'] },
  'no-epoch-check': { seeds: 30, badManager: true, expected: ['STALE_RECORDS', 'STALE_NOT_FENCED', 'TWO_PRIMARIES'] },
  'truncate-below-divergence': { seeds: 40, badManager: false, expected: ['TRUNCATED_SETTLED'] },
  'lease-past-ttl': { seeds: 15, badManager: false, etcd: true, expected: ['LEASE_OUTLIVES_KEY', 'STALE_SETTLED'] },
  'count-shipped': { seeds: 20, badManager: false, expected: ['SETTLED_ALONE'] },
  // The partition that drops a backup while its primary's manager is cut off from etcd is rare:
  // the budget starts at the seed that first found it.
  'unrecorded-departure': { seeds: 1, from: 3891, badManager: false, etcd: true, expected: ['LOST'] },
};

for (const [name, budget] of Object.entries(BUDGETS) as Array<[VariantName, Budget]>) {
  test(`variant ${name} (${VARIANTS[name].description}) is found within ${budget.seeds} seeds${budget.from ? ` from ${budget.from}` : ''}`, async () => {
    let foundAt: number | null = null;
    const from = budget.from ?? 1;
    for (let seed = from; seed < from + budget.seeds && foundAt === null; seed++) {
      const manager = budget.etcd ? { manager: 'etcd' as const } : {};
      const broken = await runSimulation({ seed, variant: name, badManager: budget.badManager, ...manager });
      if (broken.ok) continue;
      const codes = broken.violations.map((v) => v.code);
      assert.ok(
        codes.some((c) => budget.expected.includes(c)),
        `seed=${seed}: variant ${name} failed with ${codes.join(', ')}, none of ${budget.expected.join(', ')}`,
      );
      // The same seed passes without the planted bug (and the prototypes were restored).
      const sound = await runSimulation({ seed, badManager: budget.badManager, ...manager });
      assert.ok(sound.ok, `seed=${seed} fails without the variant too: ${sound.violations.map((v) => v.code).join(', ')}`);
      foundAt = seed;
    }
    assert.notEqual(foundAt, null, `variant ${name} not found in ${budget.seeds} seeds`);
  });
}
