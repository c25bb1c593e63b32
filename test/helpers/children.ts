// Child processes of a test (brokers, clients, tools) never outlive it. The test runner ends a
// file that times out with a signal, on which 'exit' handlers do not run: brokers orphaned that
// way kept producing for an hour and slowed every later test. So the signals are caught too.
// (test/run.ts also kills its whole process group at the end, for what escapes even this.)
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
let installed = false;

function killAll(): void {
  for (const child of children) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  children.clear();
}

export function killOnExit(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(128 + (signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 1));
    });
  }
}
