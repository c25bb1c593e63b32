// The simulated world's time (STYLE.md 3, 7): one event loop, a priority queue of events ordered
// by (simulated time, sequence number). After each event every promise chain the event started
// is allowed to settle (the microtask queue drains completely before setImmediate runs), so the
// production code's async steps interleave only at event boundaries and the same seed always
// gives the same order of everything.
//
// A Life is one process lifetime of a simulated machine: events it owns die with it (crash) and
// wait while it is paused (SIGSTOP), then run late, as a stopped process's timers and sockets do.

import type { Clock, TimerHandle } from '../../src/core/clock.js';
import { seededRandom, type Random } from '../../src/core/random.js';

export class Life {
  alive = true;
  paused = false;
  /** Bumped on every pause, so that a heartbeat check knows whether it is the same pause. */
  pauseGeneration = 0;
  readonly deferred: SimEvent[] = [];
  constructor(
    readonly node: string,
    readonly incarnation: number,
  ) {}
}

interface SimEvent {
  atMs: number;
  seq: number;
  readonly life: Life | null;
  readonly run: () => void;
  cancelled: boolean;
}

/** Wall-clock origin of simulated time (only message expiry and logs read wall time). */
export const SIM_EPOCH_MS = 1_700_000_000_000;

export class World {
  nowMs = 0;
  private seq = 0;
  private readonly heap: SimEvent[] = [];
  eventsRun = 0;
  /** Called after each event once its promise chains have settled (the checkers). */
  afterEvent: (() => void) | null = null;
  /** An event threw synchronously: the runner turns it into a violation. */
  onEventError: ((err: unknown, life: Life | null) => void) | null = null;

  schedule(delayMs: number, life: Life | null, run: () => void): { cancel(): void } {
    const event: SimEvent = { atMs: this.nowMs + Math.max(0, delayMs), seq: this.seq++, life, run, cancelled: false };
    this.push(event);
    return { cancel: () => void (event.cancelled = true) };
  }

  /** Events of a paused life run, in their original order, once it resumes. */
  resume(life: Life): void {
    life.paused = false;
    const deferred = life.deferred.splice(0).sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
    for (const event of deferred) {
      event.atMs = this.nowMs;
      event.seq = this.seq++;
      this.push(event);
    }
  }

  /** Runs events up to `untilMs` (or until `stop` says so after an event). */
  async run(untilMs: number, stop?: () => boolean): Promise<void> {
    while (this.heap.length > 0) {
      const next = this.heap[0] as SimEvent;
      if (next.atMs > untilMs) break;
      this.pop();
      if (next.cancelled) continue;
      const life = next.life;
      if (life && !life.alive) continue;
      if (life && life.paused) {
        life.deferred.push(next);
        continue;
      }
      this.nowMs = next.atMs;
      this.eventsRun++;
      try {
        next.run();
      } catch (err) {
        this.onEventError?.(err, life);
      }
      await settle();
      this.afterEvent?.();
      if (stop?.()) return;
    }
    if (untilMs > this.nowMs && Number.isFinite(untilMs)) this.nowMs = untilMs;
  }

  private push(event: SimEvent): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as SimEvent, heap[parent] as SimEvent)) break;
      [heap[i], heap[parent]] = [heap[parent] as SimEvent, heap[i] as SimEvent];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop() as SimEvent;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l] as SimEvent, heap[m] as SimEvent)) m = l;
      if (r < heap.length && before(heap[r] as SimEvent, heap[m] as SimEvent)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m] as SimEvent, heap[i] as SimEvent];
      i = m;
    }
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

/** Lets every pending promise chain run: the microtask queue is drained completely before a
 * setImmediate callback runs, including microtasks queued by microtasks. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The production Clock on simulated time; timers belong to one process lifetime. */
export class SimClock implements Clock {
  constructor(
    private readonly world: World,
    private readonly life: Life,
  ) {}

  nowMs(): number {
    return SIM_EPOCH_MS + this.world.nowMs;
  }

  monotonicMs(): number {
    return this.world.nowMs;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    return this.world.schedule(delayMs, this.life, callback);
  }

  nextTurn(callback: () => void): void {
    this.world.schedule(0, this.life, callback);
  }
}

/** Independent seeded streams, so that drawing one more knob does not shift the faults. */
export function stream(seed: number, name: string): Random {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  return seededRandom(h);
}

/** A float in [min, max). */
export function uniform(rng: Random, min: number, max: number): number {
  return min + rng.next() * (max - min);
}
