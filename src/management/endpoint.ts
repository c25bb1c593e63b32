// `<data-dir>/broker.json`: where the broker holding a data dir answers management requests.
// `qpid-store` reads it to ask that broker about its store instead of opening the store from a
// second process (store/README.md, "Reading a live store"). Written once the broker listens,
// removed when it stops; a file left by a killed broker names a dead pid and is ignored.

import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const ENDPOINT_FILE = 'broker.json';

const Endpoint = z.object({
  pid: z.number().int().positive(),
  name: z.string(),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
});
export type BrokerEndpoint = z.infer<typeof Endpoint>;

/** A wildcard bind address is reached on loopback. */
export function reachableHost(bindInterface: string): string {
  if (bindInterface === '0.0.0.0' || bindInterface === '') return '127.0.0.1';
  if (bindInterface === '::') return '::1';
  return bindInterface;
}

export function writeEndpoint(dataDir: string, endpoint: BrokerEndpoint): void {
  const path = join(dataDir, ENDPOINT_FILE);
  const temp = `${path}.${endpoint.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(endpoint)}\n`);
  renameSync(temp, path);
}

/** Removes the file if it is still this process's. */
export function removeEndpoint(dataDir: string, pid: number): void {
  if (readEndpoint(dataDir)?.pid !== pid) return;
  try {
    unlinkSync(join(dataDir, ENDPOINT_FILE));
  } catch {
    // Already gone.
  }
}

/** The endpoint file's content, or null when it is missing or not one we wrote. */
export function readEndpoint(dataDir: string): BrokerEndpoint | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, ENDPOINT_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const parsed = Endpoint.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
