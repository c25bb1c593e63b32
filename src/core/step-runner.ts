// Runs a pure step function's events one at a time, to completion: an event that arrives while
// another's actions are being carried out (a link that reports credit from inside send, a close
// that reports itself lost) waits its turn in the queue, so the step function is never
// re-entered. The replication drivers (src/ha/primary.ts, backup.ts) feed their protocols
// through one each.

export class StepRunner<Event, Action> {
  private readonly queue: Event[] = [];
  private stepping = false;

  constructor(
    private readonly step: (event: Event) => readonly Action[],
    private readonly perform: (action: Action) => void,
  ) {}

  feed(event: Event): void {
    this.queue.push(event);
    if (this.stepping) return;
    this.stepping = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        for (const action of this.step(next)) this.perform(action);
      }
    } finally {
      // A step that threw (a broken invariant) leaves nothing half-queued behind it.
      this.stepping = false;
      this.queue.length = 0;
    }
  }
}
