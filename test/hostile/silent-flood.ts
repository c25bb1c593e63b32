// An attacker in its own process (so that the test's probe client is not slowed by the flood it
// measures): opens COUNT sockets to PORT that send PREFIX (hex, may be empty) and then nothing,
// and reports on stdout, one JSON line each: {"phase":"open",...} once every connect attempt has
// finished, {"phase":"tick","openNow":N} every 250 ms after, {"phase":"done",...} once the broker
// has closed them all (or after WAIT_MS).
//   node silent-flood.js PORT COUNT [PREFIX_HEX] [WAIT_MS]
import { connect } from 'node:net';

const [portText, countText, prefixHex = '', waitText = '30000'] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const waitMs = Number(waitText);
const prefix = Buffer.from(prefixHex, 'hex');

interface Entry {
  openedAtMs: number;
  closedAtMs: number | null;
}

const entries: Entry[] = [];
const started = Date.now();
const BATCH = 200;

function open(): Promise<void> {
  return new Promise((resolve) => {
    const entry: Entry = { openedAtMs: Date.now(), closedAtMs: null };
    entries.push(entry);
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    // Read (and drop) whatever the broker says, or the end of the stream is never seen.
    socket.resume();
    socket.once('connect', () => {
      if (prefix.length > 0) socket.write(prefix);
      resolve();
    });
    socket.on('close', () => {
      entry.closedAtMs = Date.now();
      resolve();
    });
  });
}

const openNow = (): number => entries.filter((e) => e.closedAtMs === null).length;

for (let done = 0; done < count; done += BATCH) await Promise.all(Array.from({ length: Math.min(BATCH, count - done) }, open));
console.log(JSON.stringify({ phase: 'open', attempted: entries.length, openNow: openNow(), ms: Date.now() - started }));

const deadline = Date.now() + waitMs;
let lastTickMs = 0;
while (openNow() > 0 && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 50));
  if (Date.now() - lastTickMs >= 250) {
    lastTickMs = Date.now();
    console.log(JSON.stringify({ phase: 'tick', openNow: openNow() }));
  }
}
const lifetimes = entries.filter((e) => e.closedAtMs !== null).map((e) => (e.closedAtMs as number) - e.openedAtMs);
console.log(
  JSON.stringify({
    phase: 'done',
    stillOpen: openNow(),
    closedAtOnce: lifetimes.filter((ms) => ms < 500).length,
    shortestMs: Math.min(...lifetimes),
    longestMs: Math.max(...lifetimes),
  }),
);
process.exit(0);
