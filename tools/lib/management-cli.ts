// What the management tools (qpid-ha, qpid-config, qpid-stat) share: the -b broker address, the
// connection to the broker's $management node, and the exit-code convention: 0 done, 1 the
// broker refused or failed the operation, 2 bad usage (message names the option).

import { parseQpidUrl, QpidUrlError, type QpidAddress } from '../../src/core/qpid-url.js';
import { ManagementClient, ManagementError } from '../../src/management/client.js';
import { exitAfterOutput } from './exit.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function brokerAddress(text: string | undefined): QpidAddress {
  try {
    const url = parseQpidUrl(text ?? '127.0.0.1:5672');
    return url.addresses[0] as QpidAddress;
  } catch (err) {
    if (err instanceof QpidUrlError) throw new UsageError(`-b/--broker: ${err.message}`);
    throw err;
  }
}

/** Who the tool logs in as: `-b user[/password]@host`, the password from QPID_PASSWORD when
 * the URL has none (so that it need not be on the command line, where `ps` shows it). With no
 * user the tool connects anonymously. */
export function brokerLogin(text: string | undefined, env: NodeJS.ProcessEnv = process.env): { username?: string; password?: string } {
  let url;
  try {
    url = parseQpidUrl(text ?? '127.0.0.1:5672');
  } catch {
    return {};
  }
  if (url.user === undefined) return {};
  const password = url.password ?? env['QPID_PASSWORD'];
  return { username: url.user, ...(password !== undefined ? { password } : {}) };
}

export function parseTimeoutMs(text: string | undefined, fallbackMs: number): number {
  if (text === undefined) return fallbackMs;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout: "${text}" is not a positive number of seconds`);
  return seconds * 1000;
}

/** Runs a tool's main and exits with the convention above. */
export function runTool(tool: string, main: () => Promise<number>): void {
  main().then(
    (code) => exitAfterOutput(code),
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`${tool}: ${err.message}\n`);
        exitAfterOutput(2);
        return;
      }
      if (err instanceof ManagementError) {
        // The stable code last, in brackets, as qpidd prints its startup errors.
        process.stderr.write(`${tool}: ${err.message} [${err.code}]\n`);
        exitAfterOutput(1);
        return;
      }
      const code = (err as { code?: string })?.code;
      if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
        process.stderr.write(`${tool}: ${(err as Error).message}\n`);
        exitAfterOutput(2);
        return;
      }
      process.stderr.write(`${tool}: ${(err as Error)?.stack ?? String(err)}\n`);
      exitAfterOutput(1);
      return;
    },
  );
}

export async function withManagement<T>(address: QpidAddress, options: { admin: boolean; timeoutMs: number; username?: string; password?: string }, work: (client: ManagementClient) => Promise<T>): Promise<T> {
  const client = await ManagementClient.connect(address, options);
  try {
    return await work(client);
  } finally {
    client.close();
  }
}
