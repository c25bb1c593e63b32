// Runs fuzz cases (fuzz-frames.ts) through real sockets against a real qpidd, one fresh connection
// per case, and after every case checks that the broker is alive, below the RSS ceiling and
// answering the probe client within 100 ms. A failure says its seed and the case's bytes in hex.
import { connect as tcpConnect } from 'node:net';
import fc from 'fast-check';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { caseHex, fuzzCase, type FuzzCase } from './fuzz-frames.js';
import { FREEZE_MS, MiB, ROUND_TRIP_MS_MAX, rssBytes, type Probe } from './support.js';

export interface FuzzOptions {
  readonly seed: number;
  readonly numRuns: number;
  /** Stop (without failing) once this much time has passed. */
  readonly timeLimitMs: number;
  readonly rssCeilingBytes: number;
}

export interface FuzzReport {
  readonly seed: number;
  readonly cases: number;
  readonly closedByBroker: number;
  readonly medianRoundTripMs: number;
  readonly maxRoundTripMs: number;
  readonly maxRssMiB: number;
  readonly durationMs: number;
}

/** How long a case's connection is left to the broker after its last byte. */
const QUIET_MS = 25;
const CASE_MS_MAX = 400;

/** Sends one case on a fresh connection; whether the broker closed it. */
function sendCase(port: number, c: FuzzCase): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let quiet: NodeJS.Timeout | undefined;
    const done = (closedByBroker: boolean): void => {
      clearTimeout(quiet);
      clearTimeout(deadline);
      socket.destroy();
      resolve(closedByBroker);
    };
    const deadline = setTimeout(() => done(false), CASE_MS_MAX);
    const settle = (): void => {
      clearTimeout(quiet);
      quiet = setTimeout(() => done(false), QUIET_MS);
    };
    socket.on('data', settle);
    socket.on('error', () => {});
    socket.on('close', () => done(true));
    socket.on('connect', () => {
      for (const chunk of c.chunks) socket.write(chunk);
      settle();
    });
  });
}

class CaseFailure extends Error {}

/** Runs the fuzzer; resolves with what it measured, rejects with the seed and the failing bytes. */
export async function runFuzz(broker: BrokerProcess, probe: Probe, options: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const trips: number[] = [];
  let cases = 0;
  let closedByBroker = 0;
  let maxRss = 0;
  const pid = broker.child.pid as number;

  const died = async (): Promise<string> => {
    await Promise.race([broker.exited, new Promise((r) => setTimeout(r, 1000))]);
    return `the broker died (exit ${broker.child.exitCode ?? broker.child.signalCode}): ${broker.stderr().slice(-3000)}`;
  };
  const check = async (): Promise<string | null> => {
    if (broker.child.exitCode !== null || broker.child.signalCode !== null) return died();
    let rss: number;
    try {
      rss = rssBytes(pid);
    } catch {
      return died(); // exiting: /proc has no VmRSS for it any more
    }
    maxRss = Math.max(maxRss, rss);
    if (rss > options.rssCeilingBytes) return `broker RSS ${Math.round(rss / MiB)} MiB is above the ${Math.round(options.rssCeilingBytes / MiB)} MiB ceiling`;
    // Up to five tries (the machine is shared: a slow trip is noise; support.ts has the figures),
    // each within the freeze bound; one must be under 100 ms.
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 5 && best >= ROUND_TRIP_MS_MAX; i++) {
      try {
        best = Math.min(best, await probe.roundTripMs(FREEZE_MS));
      } catch (err) {
        return `the probe got no answer: ${(err as Error).message}`;
      }
    }
    trips.push(best);
    return best < ROUND_TRIP_MS_MAX ? null : `the probe's best round trip of five was ${best.toFixed(1)} ms`;
  };

  const property = fc.asyncProperty(fuzzCase, async (c) => {
    cases++;
    if (await sendCase(broker.port, c)) closedByBroker++;
    const problem = await check();
    if (problem) throw new CaseFailure(`${problem}\ncase ${cases}, seed ${options.seed}; bytes (hex, one chunk per line):\n${caseHex(c)}`);
  });
  const details = await fc.check(property, { seed: options.seed, numRuns: options.numRuns, endOnFailure: true, interruptAfterTimeLimit: options.timeLimitMs, markInterruptAsFailure: false });
  if (details.failed) {
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`fuzzing found a failure (seed ${details.seed}, path ${details.counterexamplePath}):\n${cause}`);
  }
  trips.sort((a, b) => a - b);
  return {
    seed: options.seed,
    cases,
    closedByBroker,
    medianRoundTripMs: Math.round((trips[Math.floor((trips.length - 1) / 2)] ?? 0) * 10) / 10,
    maxRoundTripMs: Math.round((trips[trips.length - 1] ?? 0) * 10) / 10,
    maxRssMiB: Math.round(maxRss / MiB),
    durationMs: Date.now() - started,
  };
}
