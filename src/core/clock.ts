// The world's time, injected (STYLE.md 3): production code asks a Clock, never Date.now() or
// setTimeout directly, so that the simulator can run the same code on simulated time.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch (wall clock, for message expiry and logs). */
  nowMs(): number;
  /** Monotonic milliseconds, for timeouts and intervals. */
  monotonicMs(): number;
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  /** Runs `callback` once the I/O already waiting has had its turn (setImmediate here; in the
   * simulator, an event at the same simulated time, so that it too is replayed by a seed). */
  nextTurn(callback: () => void): void;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimer(delayMs, callback) {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    handle.unref?.();
    return { cancel: () => clearTimeout(handle) };
  },
  nextTurn(callback) {
    setImmediate(callback);
  },
};
