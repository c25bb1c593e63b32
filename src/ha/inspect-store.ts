// `qpid-store` pointed at a running broker's data dir: the tool asks the broker instead of
// opening the store beside it (a second process opening a live LMDB environment can corrupt
// it). The scan runs in one read transaction of the broker's own environment.

import { join } from 'node:path';
import { answerInspect, NoSuchQueueError, type InspectAnswer, type InspectRequest, type Scannable, type Store } from '../../store/index.js';
import { BrokerError } from '../broker/errors.js';

/** Answers `request` from `store`. A backup's store that fails verify cannot be trusted to hold
 * what the primary settled: `resyncBackup` (present on a backup) makes it leave the gate and
 * resync in full (issue 16). A primary's is only reported. */
export async function inspectBrokerStore(store: Store, dataDir: string, request: InspectRequest, resyncBackup: ((reason: string) => void) | null): Promise<InspectAnswer> {
  const scannable = store as Store & Partial<Scannable>;
  if (typeof scannable.scan !== 'function') throw new BrokerError('NOT_ALLOWED', 'store-inspect: this broker\'s store cannot be scanned');
  try {
    // A verify pauses every 1000 rows (about 10 ms of work), so clients and HA links keep being
    // served while it runs.
    const answer = await answerInspect(scannable as Scannable, request, { where: join(dataDir, 'store'), verify: { progressEvery: 1000 } });
    const first = answer.view === 'verify' ? answer.violations[0] : undefined;
    if (first && resyncBackup && answer.view === 'verify') resyncBackup(`qpid-store verify found ${answer.violationCount} violation(s), first ${first.code}: ${first.message}`);
    return answer;
  } catch (err) {
    if (err instanceof NoSuchQueueError) throw new BrokerError('NOT_FOUND', err.message);
    throw err;
  }
}
