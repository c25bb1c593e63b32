// The durable record of heard.ts: `<data-dir>/ha-heard.json`, replaced atomically (write a
// temporary file, fsync it, rename it over the old one, fsync the directory), so that a kill at
// any point leaves the old record or the new one, never a torn one. A record that does not parse
// is reported and treated as absent: it can only make a promotion stricter, never looser, so
// losing it is no worse than a broker that never heard anything.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Heard } from './heard.js';

const HEARD_FILE = 'ha-heard.json';
const HeardSchema = z.object({ epoch: z.number().int().min(0).max(2 ** 31 - 1), lsn: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), primary: z.string().min(1).max(4096).optional() }).strict();

export interface HeardRecord {
  load(): Heard | null;
  save(heard: Heard): void;
}

export function heardFile(dataDir: string, onProblem: (problem: string) => void): HeardRecord {
  const path = join(dataDir, HEARD_FILE);
  return {
    load() {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        onProblem(`cannot read ${path}: ${(err as Error).message}`);
        return null;
      }
      try {
        return HeardSchema.parse(JSON.parse(text));
      } catch (err) {
        onProblem(`${path} is garbled (${(err as Error).message.split('\n')[0]}); ignoring it`);
        return null;
      }
    },
    save(heard) {
      const temporary = `${path}.tmp`;
      const fd = openSync(temporary, 'w', 0o600);
      try {
        writeSync(fd, `${JSON.stringify({ epoch: heard.epoch, lsn: heard.lsn, ...(heard.primary ? { primary: heard.primary } : {}) })}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temporary, path);
      const dir = openSync(dataDir, 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    },
  };
}
