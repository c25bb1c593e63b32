// The queue types' one entry point: which strategy a queue type gets, and what an entry's type
// key is (read from the message's header and application properties once, when the entry is
// made: on enqueue, and when a recovered entry is paged in from the store).

import type { MessageFields } from '../../selector/message-fields.js';
import type { QueueEntry } from '../queue.js';
import { GroupOrder } from './groups.js';
import { LastValueOrder } from './last-value.js';
import { DEFAULT_PRIORITY, PriorityOrder, priorityLevel } from './priority.js';
import { FifoOrder, type QueueStrategy, type QueueType } from './strategy.js';

export { FIFO, FifoOrder, type QueueStrategy, type QueueType, type SelectionLanes } from './strategy.js';
export { LastValueOrder } from './last-value.js';
export { PriorityOrder, priorityLevel, DEFAULT_PRIORITY, PRIORITY_LEVELS_MAX } from './priority.js';
export { GroupOrder, DEFAULT_GROUP } from './groups.js';

/** What a strategy may ask of its queue. */
export interface StrategyHooks {
  /** The oldest available entry, in position order. */
  firstAvailable(): QueueEntry | undefined;
  /** A message group became free: its available entries, for selective consumers to revisit. */
  groupFreed(entries: Iterable<QueueEntry>): void;
}

export function createStrategy(type: QueueType, hooks: StrategyHooks): QueueStrategy {
  switch (type.kind) {
    case 'fifo':
      return new FifoOrder(hooks.firstAvailable);
    case 'last-value':
      return new LastValueOrder(type.key, hooks.firstAvailable);
    case 'priority':
      return new PriorityOrder(type.levels, type.shares);
    case 'group':
      return new GroupOrder(type.header, hooks.groupFreed);
  }
}

/** An entry's type key under `type`: undefined for plain queues. `fields` null (the message's
 * sections cannot be read) gives the defaults: priority 4, key "", the default group. */
export function typeKeyOf(type: QueueType, fields: MessageFields | null): string | number | undefined {
  switch (type.kind) {
    case 'fifo':
      return undefined;
    case 'priority':
      return priorityLevel(fields?.priority ?? DEFAULT_PRIORITY, type.levels);
    case 'last-value':
      return propertyAsString(fields, type.key);
    case 'group':
      return propertyAsString(fields, type.header);
  }
}

/** qpidd's getPropertyAsString: a missing property is "". */
function propertyAsString(fields: MessageFields | null, name: string): string {
  const value = fields?.applicationProperties.get(name);
  return value === undefined || value === null ? '' : String(value);
}
