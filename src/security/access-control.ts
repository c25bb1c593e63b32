// The broker's ACL in force: read from --acl-file at startup (a bad file refuses to start, exit 2
// naming its lines), read again on SIGHUP (a bad new file keeps the rules in force and logs
// why). Every check goes through `authorize`, which turns a denial into UNAUTHORIZED naming the
// deciding rule's line, and logs allow-log / deny-log decisions. Without a file, all is allowed.

import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';
import { BrokerError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { AclParseError, decide, parseAcl, type Acl, type AclRequest } from './acl.js';

/** ACL files are short; this bounds what a reload reads and parses on the event loop. */
const ACL_FILE_BYTES_MAX = 4 * 1024 * 1024;

function readAcl(path: string): Acl {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AclParseError(path, [{ line: 0, message: `cannot read: ${(err as Error).message}` }]);
  }
  if (Buffer.byteLength(text) > ACL_FILE_BYTES_MAX) throw new AclParseError(path, [{ line: 0, message: `larger than ${ACL_FILE_BYTES_MAX} bytes` }]);
  return parseAcl(text, path);
}

export class AccessControl {
  private constructor(
    readonly path: string | null,
    private acl: Acl | null,
    private readonly logger: Logger,
  ) {}

  /** Throws ConfigError (exit 2) naming the file's bad lines. */
  static load(path: string | null, logger: Logger): AccessControl {
    if (path === null) return new AccessControl(null, null, logger);
    try {
      const acl = readAcl(path);
      logger.info({ aclFile: path, rules: acl.rules.length, defaultPermission: acl.defaultRule.permission }, 'ACL loaded');
      return new AccessControl(path, acl, logger);
    } catch (err) {
      if (!(err instanceof AclParseError)) throw err;
      throw new ConfigError('UNUSABLE_VALUE', `--acl-file ${path}: ${err.message}`, { option: 'acl-file', value: path, cause: err });
    }
  }

  get enabled(): boolean {
    return this.acl !== null;
  }

  /** Connection quotas of the ACL (`quota connections`), for the per-identity limit. */
  connectionQuota(user: string): number | undefined {
    return this.acl?.connectionQuotas.get(user) ?? this.acl?.connectionQuotas.get('all');
  }

  reload(): void {
    if (this.path === null) return;
    try {
      this.acl = readAcl(this.path);
      this.logger.info({ aclFile: this.path, rules: this.acl.rules.length }, 'ACL reloaded');
    } catch (err) {
      if (!(err instanceof AclParseError)) throw err;
      this.logger.error({ aclFile: this.path, err: err.message }, 'ACL not reloaded; the rules loaded before stay in force');
    }
  }

  /** Throws BrokerError UNAUTHORIZED when the ACL denies `request`. */
  authorize(request: AclRequest): void {
    const acl = this.acl;
    if (acl === null) return;
    const decision = decide(acl, request);
    const name = request.properties?.name;
    const what = `${request.action} ${request.object}${name !== undefined ? ` ${name}` : ''}`;
    const rule = decision.line === null ? `${this.path}: no rule matched and the file has no default` : `${this.path}:${decision.line}`;
    if (decision.log) this.logger.info({ user: request.user, action: request.action, object: request.object, properties: request.properties ?? {}, allowed: decision.allowed, rule }, 'ACL decision');
    if (decision.allowed) return;
    const explicit = request.explicit ? ' (this needs an explicit allow naming it)' : '';
    throw new BrokerError('UNAUTHORIZED', `${request.user} may not ${what}: denied by ${rule}${explicit}`);
  }
}
