// What the interop tests ask of a broker, done the way an operator would: queues declared with
// the real qpid-config tool before an example runs (the examples expect their queue to exist, as
// with qpidd), and queue depths read back over the management node.
import assert from 'node:assert/strict';
import { TOOL } from '../helpers/broker-process.js';
import { queueStats, runNode } from '../integration/support.js';

/** `qpid-config -b HOST:PORT add queue NAME [--durable]`. */
export async function declareQueue(hostPort: string, name: string, options: { durable?: boolean } = {}): Promise<void> {
  const args = ['-b', hostPort, 'add', 'queue', name, ...(options.durable === false ? [] : ['--durable'])];
  const result = await runNode(TOOL('qpid-config'), args, { timeoutMs: 20_000 });
  assert.equal(result.code, 0, `qpid-config ${args.join(' ')} failed: ${result.stderr}`);
}

/** How many messages the queue holds now (0 when there is no such queue). */
export async function queueDepth(port: number, name: string): Promise<number> {
  return (await queueStats(port, name))?.count ?? 0;
}
