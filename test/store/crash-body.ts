/** The body the crash writer gives a message id; crash.test.ts rebuilds it to check the log. */
export function crashBody(messageId: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes, messageId % 251);
  b.write(`m${messageId}:`.slice(0, bytes));
  return b;
}
