// Failover runs end with the crash suite's checker (test/crash/harness/checker.ts) over the
// clients' histories: every message settled as accepted was received at least once, duplicates
// are counted and never called loss, nothing arrives that was never sent (DESIGN.md §5).
import assert from 'node:assert/strict';
import { check, type Verdict } from '../crash/harness/checker.js';
import { HistoryTail, historyPath, readHistory, type Stamped } from '../crash/harness/history.js';
import { makeTmpDir } from '../helpers/tmp.js';

export { historyPath };

export function historyDir(): string {
  return makeTmpDir('interop-history');
}

export function verdictOf(dir: string): Verdict {
  return check(readHistory(dir));
}

/** Asserts the contract and that `expectedAccepted` messages were accepted; returns the verdict
 * for the caller to print. */
export function assertNothingLost(dir: string, expectedAccepted: number, context: string): Verdict {
  const verdict = verdictOf(dir);
  const c = verdict.counts;
  const summary = `${context}: sent ${c.sent}, accepted ${c.accepted}, not accepted ${c.notAccepted}, unsettled ${c.unsettled}, received ${c.receipts} (${c.unique} distinct, ${c.duplicates} duplicates), lost ${c.lost}, producer disconnects ${c.producerDisconnects}`;
  assert.ok(verdict.ok, `${summary}; ${verdict.problems.join('; ')}; first lost: ${JSON.stringify(verdict.lost.slice(0, 10))}`);
  assert.equal(c.accepted, expectedAccepted, summary);
  assert.equal(c.lost, 0, summary);
  return verdict;
}

/** Follows a producer's history file as it grows: how many of its messages have been accepted,
 * and when its first acceptance after a disconnect came. */
export class ProducerProgress {
  private readonly tail: HistoryTail;
  private readonly events: Stamped[] = [];
  private acceptedCount = 0;

  constructor(dir: string, writer: string) {
    this.tail = new HistoryTail(historyPath(dir, writer), writer);
  }

  private poll(): void {
    for (const event of this.tail.poll()) {
      this.events.push(event);
      if (event.kind === 'settle' && event.outcome === 'accepted') this.acceptedCount++;
    }
  }

  get accepted(): number {
    this.poll();
    return this.acceptedCount;
  }

  /** The first acceptance after the producer's first disconnect at or after `sinceMs` (epoch
   * ms), in the order its own history has them: an acceptance still in flight from a killed
   * broker is read before the disconnect and is not the failover's. */
  firstAcceptAfterDisconnect(sinceMs: number): number | undefined {
    this.poll();
    const disconnect = this.events.findIndex((e) => e.kind === 'disconnect' && e.atMs >= sinceMs);
    if (disconnect < 0) return undefined;
    return this.events.slice(disconnect).find((e) => e.kind === 'settle' && e.outcome === 'accepted')?.atMs;
  }
}
