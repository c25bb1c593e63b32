// README.md's section for crash-suite authors cannot rot: its crash-point table is the registry
// (src/core/crash-points.ts), its worked example is examples/crash-primary-after-ship.sh word for
// word, and that script runs here (two real brokers, the primary killed at
// ha.primary.after-ship-before-confirm, qpid-check-history's verdict) and exits 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CRASH_POINTS } from '../../src/core/crash-points.js';
import { freePort } from '../helpers/broker-process.js';

// dist/test/crash -> the package root (the script runs from there, on dist/)
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const scriptPath = join(root, 'examples', 'crash-primary-after-ship.sh');

test("README's crash-point table lists every point with its description, and no other", () => {
  const table = readme.split('<!-- crash-points:start -->')[1]?.split('<!-- crash-points:end -->')[0];
  assert.ok(table, 'README has the crash-points markers');
  const rows = [...table.matchAll(/^\| `([a-z.-]+)` \| (.+) \|$/gm)].map((m) => [m[1], m[2]]);
  assert.deepEqual(Object.fromEntries(rows), CRASH_POINTS);
});

test("README's worked example is examples/crash-primary-after-ship.sh, and it proves nothing accepted was lost", { timeout: 240_000 }, async () => {
  const script = readFileSync(scriptPath, 'utf8');
  assert.ok(readme.includes(`\`\`\`sh\n${script.trimEnd()}\n\`\`\``), 'the README shows the script as it is');
  const [p0, p1] = [await freePort(), await freePort()];
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('bash', [scriptPath], { cwd: join(root, 'dist', '..'), env: { ...process.env, PORT0: String(p0), PORT1: String(p1) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /^orders: accepted 500, received 500 \(\d+ receipts\), lost 0, duplicates \d+, unmarked redeliveries \d+, phantoms 0/m);
  assert.match(result.stdout, /^ok: nothing accepted was lost/m);
});
