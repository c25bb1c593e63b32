// Exiting a tool without losing its output. process.exit() does not wait for writes to a pipe,
// which are asynchronous: `qpid-config queues | wc -l` lost everything past the first 64 KiB.
// The callback of an empty write runs once every earlier write to that stream is flushed.

export function exitAfterOutput(code: number): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}
