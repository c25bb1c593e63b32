// Helpers for store tests that need real second processes and raw access to the LMDB files.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';

const here = dirname(fileURLToPath(import.meta.url));
export const holderScript = join(here, 'store-holder.js');
export const qpidStoreScript = join(here, '..', '..', 'tools', 'qpid-store.js');

export interface Holder {
  readonly child: ChildProcess;
  /** The first JSON line the child printed. */
  readonly first: Record<string, unknown>;
  /** Ends the child's stdin (it closes its store and exits) and waits for the exit code. */
  stop(): Promise<number | string | null>;
  /** What the child wrote to stderr so far (for assertion messages). */
  stderr(): string;
}

/** Starts store-holder.js and waits for its first line (ready or error). */
export async function spawnHolder(dataDir: string, mode: 'open-once' | 'hold' | 'hold-writing'): Promise<Holder> {
  const child = spawn(process.execPath, [holderScript, dataDir, mode], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // A child killed by a signal reports the signal's name, so an assertion says which.
  const exited = new Promise<number | string | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line) as Record<string, unknown>));
    void exited.then((code) => reject(new Error(`store-holder exited (${code}) before printing: ${stderr}`)));
  });
  return {
    child,
    first,
    async stop() {
      child.stdin!.end();
      return exited;
    },
    stderr: () => stderr,
  };
}

export function fileHash(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export interface RawTables {
  get(table: string, key: unknown): Buffer | undefined;
  put(table: string, key: unknown, value: Uint8Array): void;
  remove(table: string, key: unknown): void;
}

/** Opens a closed store's LMDB environment directly (no store code) to damage it on purpose. */
export async function withRawTables(dataDir: string, fn: (t: RawTables) => void): Promise<void> {
  const env = open({ path: join(dataDir, 'store'), maxDbs: 8, encoding: 'binary', eventTurnBatching: false } as never) as unknown as {
    openDB(o: object): { getBinary(k: unknown): Buffer | undefined; putSync(k: unknown, v: Uint8Array): void; removeSync(k: unknown): void };
    transactionSync(fn: () => void): void;
    close(): Promise<void>;
  };
  const dbs = new Map<string, ReturnType<typeof env.openDB>>();
  const db = (name: string) => {
    let d = dbs.get(name);
    if (!d) {
      d = env.openDB({ name, encoding: 'binary' });
      dbs.set(name, d);
    }
    return d;
  };
  try {
    env.transactionSync(() => {
      fn({
        get: (table, key) => db(table).getBinary(key),
        put: (table, key, value) => db(table).putSync(key, value),
        remove: (table, key) => db(table).removeSync(key),
      });
    });
  } finally {
    await env.close();
  }
}
