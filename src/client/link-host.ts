// What a sender or receiver needs from its connection, and small rhea helpers they share. The
// connection owns the (re)connect loop; links only attach when told and report back through this.
import rhea, { type Message } from 'rhea';
import type { AmqpCondition } from './errors.js';

export interface LinkHost {
  /** The link failed or closed for good: forget it. */
  remove(link: object): void;
  /** The broker detached the link without an error: attach it again shortly. */
  reattachLater(link: { attach(session: import('rhea').Session): void }): void;
  countResent(): void;
  /** Settle an incoming delivery; one sequencer per connection (rhea batches per session). */
  settle(kind: 'accepted' | 'released' | 'rejected' | 'modified', apply: () => void): void;
}

/** Encodes once, so that a resend transmits exactly the bytes of the first transmission. */
export function encodeMessage(message: Message | Record<string, unknown>): Buffer {
  return rhea.message.encode(message);
}

// rhea keeps the peer's attach and detach performatives on `link.remote`, which its typings omit.
interface RemoteFrames {
  remote?: { attach?: { source?: unknown; target?: unknown }; detach?: { error?: unknown } };
}

/** The peer's terminus from its attach: null when it refused the link (AMQP 1.0 §2.6.3). */
export function remoteTerminus(link: object, which: 'source' | 'target'): unknown {
  const terminus = (link as RemoteFrames).remote?.attach?.[which] ?? null;
  // rhea can leave an absent terminus as its typed AMQP null rather than JavaScript null.
  if (terminus !== null && typeof terminus === 'object' && 'type' in terminus && 'value' in terminus && terminus.value === null) return null;
  return terminus;
}

export function linkError(link: object): AmqpCondition | undefined {
  const error = (link as RemoteFrames).remote?.detach?.error as AmqpCondition | undefined;
  return error && typeof error.condition === 'string' ? error : undefined;
}
