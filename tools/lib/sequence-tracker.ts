// Loss and duplicate accounting for qpid-receive, per sender: every qpid-send message carries its
// sender's id and a sequence number from 1 (application properties `sender-id` and `sn`). A number
// seen again is a duplicate (expected after failover, never loss); a number never seen below the
// highest one seen is a gap (loss). Pure; memory stays small while messages arrive in order
// (only numbers above the contiguous prefix are kept).

export const SN_PROPERTY = 'sn';
export const SENDER_ID_PROPERTY = 'sender-id';

export type TrackResult = 'new' | 'duplicate' | 'untracked';

export interface SenderReport {
  readonly senderId: string;
  readonly unique: number;
  readonly duplicates: number;
  readonly highestSn: number;
  /** Missing ranges below highestSn, inclusive. */
  readonly gaps: ReadonlyArray<readonly [number, number]>;
  readonly lost: number;
}

export interface TrackerReport {
  readonly unique: number;
  readonly duplicates: number;
  readonly lost: number;
  readonly untracked: number;
  readonly senders: readonly SenderReport[];
}

interface SenderState {
  /** Every sn in 1..contiguous has been seen. */
  contiguous: number;
  readonly above: Set<number>;
  highest: number;
  unique: number;
  duplicates: number;
}

export class SequenceTracker {
  private readonly senders = new Map<string, SenderState>();
  private untracked = 0;

  track(senderId: string, sn: unknown): TrackResult {
    if (typeof sn !== 'number' || !Number.isInteger(sn) || sn < 1) {
      this.untracked++;
      return 'untracked';
    }
    let state = this.senders.get(senderId);
    if (!state) {
      state = { contiguous: 0, above: new Set(), highest: 0, unique: 0, duplicates: 0 };
      this.senders.set(senderId, state);
    }
    if (sn <= state.contiguous || state.above.has(sn)) {
      state.duplicates++;
      return 'duplicate';
    }
    state.unique++;
    state.highest = Math.max(state.highest, sn);
    if (sn === state.contiguous + 1) {
      state.contiguous = sn;
      while (state.above.delete(state.contiguous + 1)) state.contiguous++;
    } else state.above.add(sn);
    return 'new';
  }

  report(): TrackerReport {
    const senders = [...this.senders.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([senderId, state]): SenderReport => {
        const gaps: Array<[number, number]> = [];
        let next = state.contiguous + 1;
        for (const sn of [...state.above].sort((a, b) => a - b)) {
          if (sn > next) gaps.push([next, sn - 1]);
          next = sn + 1;
        }
        const lost = gaps.reduce((sum, [from, to]) => sum + (to - from + 1), 0);
        return { senderId, unique: state.unique, duplicates: state.duplicates, highestSn: state.highest, gaps, lost };
      });
    const sum = (field: 'unique' | 'duplicates' | 'lost'): number => senders.reduce((total, sender) => total + sender[field], 0);
    return { unique: sum('unique'), duplicates: sum('duplicates'), lost: sum('lost'), untracked: this.untracked, senders };
  }
}
