// A one-shot consumer for timing "serving": connect, attach a receiver to a queue, wait for its
// first message, and report when each step completed (performance.now() of this process). The
// message is released, not accepted, so the queue is left as it was for the next start.
import rhea from 'rhea';
import type { EventContext } from 'rhea';

export interface ProbeTimes {
  readonly attachedAtMs: number;
  readonly firstMessageAtMs: number;
}

export function probeFirstMessage(host: string, port: number, queue: string, timeoutMs: number): Promise<ProbeTimes> {
  const container = rhea.create_container({ id: `bench-probe-${process.pid}` });
  container.on('error', () => undefined);
  const connection = container.connect({ host, port, reconnect: false });
  return new Promise((resolve, reject) => {
    let attachedAtMs = 0;
    let done = false;
    const finish = (error: Error | undefined, times?: ProbeTimes): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      connection.close();
      if (error) reject(error);
      else resolve(times as ProbeTimes);
    };
    const timer = setTimeout(() => finish(new Error(`no message from ${queue} within ${timeoutMs} ms`)), timeoutMs);
    connection.on('disconnected', (context: EventContext) => finish(new Error(`probe disconnected: ${context.error?.message ?? 'closed'}`)));
    const receiver = connection.open_receiver({ source: { address: queue }, credit_window: 1, autoaccept: false });
    receiver.on('receiver_open', () => (attachedAtMs = performance.now()));
    receiver.on('receiver_close', () => finish(new Error(`receiver on ${queue} closed: ${JSON.stringify(receiver.error ?? null)}`)));
    receiver.on('message', (context: EventContext) => {
      const firstMessageAtMs = performance.now();
      context.delivery?.release();
      finish(undefined, { attachedAtMs: attachedAtMs || firstMessageAtMs, firstMessageAtMs });
    });
  });
}
