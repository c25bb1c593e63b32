// The loss and duplicate ledger of one load run: for every producer, one byte of flags per
// sequence number. A message is lost when its producer saw it accepted (or sent it pre-settled)
// and no consumer received it by the end of the drain; it is a duplicate each further time a
// consumer receives it. Pure bookkeeping, no I/O, so that it can be tested on its own.

const SETTLED = 1; // accepted by the server (at-least-once) or sent pre-settled (at-most-once)
const RECEIVED = 2;

export interface LedgerCounts {
  /** Settled to the producer and not (yet) received by any consumer. */
  readonly lost: number;
  readonly duplicates: number;
  /** Of the duplicates, those whose further receipt came marked redelivered (delivery-count
   * above 0): the same stored message delivered again (its consumer's accept died with the
   * primary before the dequeue was replicated), not a second copy stored by a producer's resend. */
  readonly redelivered: number;
  /** Received messages that carried no producer/sequence we sent (another run's leftovers). */
  readonly foreign: number;
}

export class DeliveryLedger {
  private readonly flags: Uint8Array[];
  private pendingCount = 0;
  private duplicateCount = 0;
  private redeliveredCount = 0;
  private foreignCount = 0;

  constructor(producers: number) {
    this.flags = Array.from({ length: producers }, () => new Uint8Array(4096));
  }

  /** Settled-but-not-received messages right now; the drain ends when this reaches zero. */
  get pending(): number {
    return this.pendingCount;
  }

  settled(producer: number, seq: number): void {
    const flags = this.slot(producer, seq);
    const old = flags[seq] as number;
    if (old & SETTLED) return;
    flags[seq] = old | SETTLED;
    if (!(old & RECEIVED)) this.pendingCount++;
  }

  /** Returns false for a duplicate. A consumer may receive a message before its producer sees it settled. */
  received(producer: number, seq: number, redelivered = false): boolean {
    if (!Number.isInteger(producer) || producer < 0 || producer >= this.flags.length || !Number.isInteger(seq) || seq < 0) {
      this.foreignCount++;
      return false;
    }
    const flags = this.slot(producer, seq);
    const old = flags[seq] as number;
    if (old & RECEIVED) {
      this.duplicateCount++;
      if (redelivered) this.redeliveredCount++;
      return false;
    }
    flags[seq] = old | RECEIVED;
    if (old & SETTLED) this.pendingCount--;
    return true;
  }

  counts(): LedgerCounts {
    return { lost: this.pendingCount, duplicates: this.duplicateCount, redelivered: this.redeliveredCount, foreign: this.foreignCount };
  }

  private slot(producer: number, seq: number): Uint8Array {
    let flags = this.flags[producer] as Uint8Array;
    if (seq >= flags.length) {
      let size = flags.length * 2;
      while (size <= seq) size *= 2;
      const bigger = new Uint8Array(size);
      bigger.set(flags);
      this.flags[producer] = flags = bigger;
    }
    return flags;
  }
}
