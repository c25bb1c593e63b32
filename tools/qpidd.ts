#!/usr/bin/env node
// qpidd: the broker's main. Parses the configuration (exit 2 on a bad option or config line),
// starts the broker (exit 2 if an option cannot be honoured on this machine, naming it; exit 1 if
// the data dir is locked, corrupt or of a newer format), and on SIGTERM/SIGINT stops accepting,
// finishes in-flight commits and settles what is durable, drops client sockets with no close
// frame (as qpidd does, so that clients reconnect) and exits 0.
import { homedir } from 'node:os';
import { isConfigError, loadConfig, redactConfig } from '../src/config/index.js';
import { formatCrashPoints } from '../src/core/crash-points.js';
import { startBroker } from '../src/runtime.js';

async function main(): Promise<number> {
  if (process.argv.includes('--list-crash-points')) {
    // What --crash-at accepts (with --enable-crash-points yes), one line each.
    process.stdout.write(`${formatCrashPoints()}\n`);
    return 0;
  }
  let loaded;
  try {
    loaded = loadConfig({ argv: process.argv.slice(2), env: process.env, cwd: process.cwd(), homeDir: homedir() });
  } catch (err) {
    if (isConfigError(err)) {
      process.stderr.write(`qpidd: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (loaded.kind !== 'config') {
    process.stdout.write(`${loaded.text}\n`);
    return 0;
  }
  for (const warning of loaded.warnings) process.stderr.write(`qpidd: warning: ${warning}\n`);
  const config = loaded.config;
  // Listen for the signals before starting: the 'listening' log line goes out while startBroker
  // is still returning, and a SIGTERM sent on seeing it found no handler yet and killed the
  // process (no clean stop, no exit 0). A signal during startup stops the broker once started.
  let signalled: ((signal: string) => void) | null = null;
  let early: string | null = null;
  const onSignal = (signal: string): void => {
    if (signalled) signalled(signal);
    else early ??= signal;
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  let broker;
  try {
    broker = await startBroker(config);
  } catch (err) {
    // An option the machine cannot honour (a data dir that cannot hold a store, an address not
    // on this machine, a map larger than the disk): the operator's to fix, like a bad value.
    if (isConfigError(err)) {
      process.stderr.write(`qpidd: ${err.message}\n`);
      return 2;
    }
    const code = (err as { code?: string })?.code;
    process.stderr.write(`qpidd: ${(err as Error)?.message ?? String(err)}${code ? ` [${code}]` : ''}\n`);
    return 1;
  }
  const running = broker;
  // qpidd's convention: SIGHUP reloads the users file and the ACL (a bad file keeps the old).
  process.on('SIGHUP', () => {
    running.logger.info({ signal: 'SIGHUP' }, 'signal received');
    running.reload();
  });
  running.logger.debug({ config: redactConfig(config) }, 'configuration');
  await new Promise<void>((resolve) => {
    let stopping = false;
    signalled = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      running.logger.info({ signal }, 'signal received');
      running.stop().then(resolve, (err: unknown) => {
        running.logger.error({ err }, 'error while stopping');
        resolve();
      });
    };
    if (early !== null) signalled(early);
  });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`qpidd: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(70);
  },
);
