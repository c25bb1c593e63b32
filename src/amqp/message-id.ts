// The AMQP 1.0 message-id (§3.2.4 properties: ulong, uuid, binary or string) as the text key a
// queue's dedup window keeps (src/broker/dedup-window.ts). The type is part of the key, so the
// string "7" and the ulong 7 are different ids: a string id is its own key (the common case
// costs no second string: the window holds the one rhea decoded), every other key starts with
// NUL and a type tag (a string that itself starts with NUL gets the `s:` tag). rhea decodes uuid
// and binary alike to a Buffer: those two share the `b:` tag (a uuid and a binary of the same 16
// bytes count as one id).

import { createHash } from 'node:crypto';

/** Keys longer than this are kept as a SHA-256 digest, so that a window's memory and a dedup
 * record stay bounded whatever ids producers choose. */
const KEY_CHARS_MAX = 128;

/** Starts every key that is not a plain string id. */
const TAG = '\u0000';

/** The dedup key of a decoded message-id, or null when the message has none (never deduplicated). */
export function dedupKeyOf(messageId: unknown): string | null {
  let key: string;
  if (typeof messageId === 'string') key = messageId.startsWith(TAG) ? `${TAG}s:${messageId}` : messageId;
  else if (typeof messageId === 'number' || typeof messageId === 'bigint') key = `${TAG}n:${String(messageId)}`;
  else if (messageId instanceof Uint8Array) key = `${TAG}b:${Buffer.from(messageId.buffer, messageId.byteOffset, messageId.byteLength).toString('hex')}`;
  else return null;
  if (key.length <= KEY_CHARS_MAX) return key;
  return `${TAG}h:${createHash('sha256').update(key).digest('base64url')}`;
}
