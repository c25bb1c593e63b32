// Builds Debian's Proton C and C++ examples, unmodified, from /usr/share/proton/examples into a
// cache under the OS temp dir, the way the issue says a user builds them; a binary is rebuilt only
// when it is missing (its name carries a hash of the source and the command line).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROTON_EXAMPLES } from './programs.js';

export type ExampleLanguage = 'c' | 'cpp';

// Per user: another user's cache directory under /tmp would not be writable.
const CACHE = join(tmpdir(), `qpidd-interop-proton-examples-${process.getuid?.() ?? 'user'}`);
const BUILD_TIMEOUT_MS = 120_000;

/** What a missing piece is called in Debian, so that the error says what to install. */
const PACKAGES = {
  examples: 'libqpid-proton11-dev-examples',
  c: 'libqpid-proton11-dev',
  cpp: 'libqpid-proton-cpp12-dev',
  gcc: 'gcc',
  gxx: 'g++',
  pkgConfig: 'pkg-config',
} as const;

function exec(command: string, args: readonly string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ ok: !err, stdout: String(stdout), stderr: `${String(stderr)}${err && !stderr ? String(err.message) : ''}` });
    });
  });
}

async function requireTool(command: string, args: readonly string[], pkg: string): Promise<string> {
  const result = await exec(command, args);
  if (!result.ok) throw new Error(`cannot run \`${command} ${args.join(' ')}\` (${result.stderr.trim()}): install Debian's ${pkg} (.ci/run does)`);
  return result.stdout.trim();
}

function requireFile(path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: install Debian's ${pkg} (.ci/run does)`);
}

/** The compile command of one example, without its output path. */
async function commandFor(language: ExampleLanguage, source: string): Promise<{ compiler: string; args: string[] }> {
  if (language === 'c') {
    await requireTool('gcc', ['--version'], PACKAGES.gcc);
    const flags = await requireTool('pkg-config', ['--cflags', '--libs', 'libqpid-proton'], `${PACKAGES.pkgConfig} and ${PACKAGES.c}`);
    requireFile('/usr/include/proton/proactor.h', PACKAGES.c);
    // Exactly as the issue gives it: gcc -O2 x.c $(pkg-config --cflags --libs libqpid-proton)
    // -lpthread. send, receive, direct and send-abort include nothing from the examples
    // directory: only broker.c and raw_echo.c include thread.h.
    return { compiler: 'gcc', args: ['-O2', source, ...flags.split(/\s+/).filter(Boolean), '-lpthread'] };
  }
  await requireTool('g++', ['--version'], PACKAGES.gxx);
  requireFile('/usr/include/proton/container.hpp', PACKAGES.cpp);
  // Debian's libqpid-proton-cpp.pc requires libqpid-proton-core.pc, which no package ships:
  // link by hand. options.hpp (the examples' argument parser) sits beside the sources.
  return { compiler: 'g++', args: ['-O2', source, '-I', join(PROTON_EXAMPLES, 'cpp'), '-lqpid-proton-cpp', '-lqpid-proton'] };
}

const building = new Map<string, Promise<string>>();

/** The path of a built example (e.g. `buildExample('c', 'send')`), building it if needed. */
export function buildExample(language: ExampleLanguage, name: string): Promise<string> {
  const key = `${language}/${name}`;
  let pending = building.get(key);
  if (!pending) {
    pending = build(language, name);
    building.set(key, pending);
    pending.catch(() => building.delete(key));
  }
  return pending;
}

async function build(language: ExampleLanguage, name: string): Promise<string> {
  const source = join(PROTON_EXAMPLES, language, `${name}.${language}`);
  requireFile(source, PACKAGES.examples);
  const { compiler, args } = await commandFor(language, source);
  const hash = createHash('sha256').update(readFileSync(source)).update(JSON.stringify([compiler, args])).digest('hex').slice(0, 12);
  mkdirSync(CACHE, { recursive: true });
  const binary = join(CACHE, `${language}-${name}-${hash}`);
  if (existsSync(binary)) return binary;
  // Build beside, then rename: another test file may be building the same example right now,
  // and a rename never leaves a half-written binary under the final name.
  const partial = `${binary}.${process.pid}.partial`;
  const result = await exec(compiler, [...args, '-o', partial]);
  if (!result.ok) {
    rmSync(partial, { force: true });
    throw new Error(`building ${source} failed: ${compiler} ${args.join(' ')}\n${result.stderr.slice(-3000)}`);
  }
  renameSync(partial, binary);
  return binary;
}

/** Builds several, one at a time: two cores are shared with the brokers and other test files. */
export async function buildExamples(language: ExampleLanguage, names: readonly string[]): Promise<Record<string, string>> {
  const built: Record<string, string> = {};
  for (const name of names) built[name] = await buildExample(language, name);
  return built;
}
