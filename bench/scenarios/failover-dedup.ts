// Scenario `failover-dedup`: the `failover` scenario (failover.ts) with the queue declared with
// qpid.dedup_window (issue 12) and a message-id on every message: the failover client's resends
// of what the killed primary had not settled are recognised by the promoted backup, so the run
// must report 0 duplicates as well as 0 lost (ok is false otherwise). Compare its settle latency
// and resume times with the plain `failover` run to see what the window costs.
import type { ScenarioResult } from '../lib/results.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { runFailover } from './failover.js';

export const name = 'failover-dedup';
export const description = 'the failover scenario on a queue with qpid.dedup_window 100000 and a message-id per message: duplicates must be 0, as lost';

/** Larger than what the producers resend after a kill (at most their unsettled capacity) by far,
 * and than a whole tiny run: every message of the run stays recognisable. */
const DEDUP_WINDOW = 100_000;

export function run(options: ScenarioOptions): Promise<ScenarioResult> {
  return runFailover(options, { scenario: name, dedupWindow: DEDUP_WINDOW });
}
