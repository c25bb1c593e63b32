// Scenario `failover-dedup`: the `failover` scenario (failover.ts) three times, each on a fresh
// cluster, to show what qpid.dedup_window (issue 12) does to the duplicates a failover leaves:
// 1. no window, consumers attached only after the last kill: every duplicate is a producer's
//    resend of a message the promoted backup already had (the control);
// 2. the same with the window and a message-id on every message: the promoted backups recognise
//    those resends, so the run must report 0 duplicates and 0 lost (ok is false otherwise);
// 3. the window with consumers throughout, as `failover` runs: what remains is consumer-side
//    (a message redelivered because its accept died with the primary before the dequeue was
//    replicated, or one consumed on the old primary before its enqueue reached a backup and then
//    rightly resent), which no producer-side window can see.
// Per part: the baseline settle latency, the median and max resume times, the whole-run counts;
// the kills of part 2 in full.
import type { ResultRow, ScenarioResult } from '../lib/results.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { runFailover, type FailoverVariant } from './failover.js';

export const name = 'failover-dedup';
export const description =
  'the failover scenario without and with qpid.dedup_window 100000 (consumers after the kills), and with it and consumers throughout: duplicates must be 0 with the window';

/** Far more than the producers resend after a kill (their unsettled capacity) and than a whole
 * run sends: every message of the run stays recognisable. */
const DEDUP_WINDOW = 100_000;

const PARTS: readonly (Omit<FailoverVariant, 'scenario'> & { readonly label: string; readonly allRows: boolean })[] = [
  { label: 'no window, consumers after the kills', dedupWindow: 0, deferConsumers: true, exact: false, allRows: false },
  { label: 'qpid.dedup_window, consumers after the kills', dedupWindow: DEDUP_WINDOW, deferConsumers: true, exact: true, allRows: true },
  { label: 'qpid.dedup_window, consumers throughout', dedupWindow: DEDUP_WINDOW, deferConsumers: false, exact: false, allRows: false },
];

export async function run(options: ScenarioOptions): Promise<ScenarioResult> {
  const results: ScenarioResult[] = [];
  for (const part of PARTS) {
    options.log(`  part: ${part.label}`);
    results.push(await runFailover(options, { scenario: name, ...part }));
  }
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  results.forEach((result, i) => {
    const part = PARTS[i] as (typeof PARTS)[number];
    for (const row of result.rows) {
      const event = String(row['event']);
      if (!part.allRows && event.startsWith('kill ')) continue;
      rows.push({ ...row, event: `${part.label}: ${event}` });
    }
    for (const note of result.notes) notes.push(`${part.label}: ${note}`);
  });
  notes.push(
    'dups stored twice / redelivered: a duplicate whose second receipt came without / with the redelivered mark. Meaningful with consumers throughout only, and approximate there ' +
      '(a resend stored on a primary that is killed later comes back marked too); with consumers after the kills every message stored before the last promotion is marked, so only the total counts',
  );
  const exact = results[1] as ScenarioResult;
  return { ...exact, rows, notes, ok: results.every((r) => r.ok) };
}
