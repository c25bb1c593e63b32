// Last-value queues (qpid.last_value_queue_key): a new message replaces the queued one whose key
// property has the same value. Order is plain queue order; this keeps the key -> newest entry
// map the replacement looks up (O(1) per enqueue). As in qpidd (MessageMap.cpp), a message
// without the property has the key "" and so replaces the previous keyless one.
//
// Unlike qpidd, an entry a consumer holds is not taken from under it: the new message is queued
// beside it and becomes the key's holder, and the held one stays until its consumer settles it
// (released, it is delivered again; the next message with its key replaces the newer one). The
// broker removes a replaced entry (publish.ts) in the same store commit as the enqueue of its
// replacement.

import type { QueueEntry } from '../queue.js';
import { FifoOrder, type QueueType } from './strategy.js';

export class LastValueOrder extends FifoOrder {
  override readonly type: QueueType;
  private readonly holders = new Map<string, QueueEntry>();

  constructor(key: string, firstAvailable: () => QueueEntry | undefined) {
    super(firstAvailable);
    this.type = { kind: 'last-value', key };
  }

  /** Only an available holder is replaced: one a consumer holds stays with it. */
  override replacedBy(typeKey: string | number | undefined): QueueEntry | undefined {
    const holder = this.holders.get(String(typeKey ?? ''));
    return holder?.state === 'available' ? holder : undefined;
  }

  override added(entry: QueueEntry): void {
    const keyValue = String(entry.typeKey ?? '');
    const current = this.holders.get(keyValue);
    // Paged-in entries can arrive after newer ones: the newest position holds the key.
    if (current === undefined || current.position < entry.position) this.holders.set(keyValue, entry);
  }

  override removed(entry: QueueEntry): void {
    const keyValue = String(entry.typeKey ?? '');
    if (this.holders.get(keyValue) === entry) this.holders.delete(keyValue);
  }
}
