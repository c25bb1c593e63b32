// The broker's security state, built from the configuration at startup and read again on SIGHUP:
// the SASL policy and users file, and the ACL (access-control.ts). A bad file at startup refuses to start
// (ConfigError, exit 2, naming the option); a bad file at reload keeps what was loaded and logs why.

import { randomBytes } from 'node:crypto';
import type { BrokerConfig } from '../config/broker-config.js';
import { ConfigError } from '../config/errors.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { SaslService } from '../amqp/rhea-sasl-server.js';
import { FailureLimiter, offeredMechanisms, type SaslPolicy } from './sasl.js';
import { UsersDirectory, UsersFileError } from './users-file.js';
import { AccessControl } from './access-control.js';
import { managementChecks, REPLICATION_CHECK } from './acl-requests.js';

export interface Security {
  readonly sasl: SaslService;
  readonly acl: AccessControl;
  /** The users file as loaded (SASL and the HTTP API's Basic and bearer logins). */
  readonly users: UsersDirectory;
  /** Checks a management command for the identity that sent it (null: over HTTP under --auth no,
   * which has no login: checked as anonymous, so an ACL is not bypassed through the HTTP API). */
  authorizeCommand(operation: string, input: unknown, user: string | null): void;
  /** null when `user` may have the replication stream (an explicit `access method
   * name=ha-replication`), else why not. */
  replicationDenied(user: string): string | null;
  /** SIGHUP: read the users file and the ACL again. */
  reload(): void;
}

export function createSecurity(config: BrokerConfig, clock: Clock, logger: Logger): Security {
  const policy: SaslPolicy = { auth: config.auth, realm: config.realm, allowAnonymous: config.allowAnonymous, allowPlainWithoutTls: config.allowPlainWithoutTls };
  let users: UsersDirectory;
  try {
    users = new UsersDirectory(config.saslUsersFile);
  } catch (err) {
    if (!(err instanceof UsersFileError)) throw err;
    throw new ConfigError('UNUSABLE_VALUE', `--sasl-users-file ${config.saslUsersFile ?? ''}: ${err.message}`, { option: 'sasl-users-file', value: config.saslUsersFile ?? '', cause: err });
  }
  const acl = AccessControl.load(config.aclFile, logger.child({ module: 'acl' }));
  const mechanisms = offeredMechanisms(policy);
  logger.info({ auth: config.auth, mechanisms, realm: config.realm, users: users.size, usersFile: config.saslUsersFile, aclFile: config.aclFile }, 'authentication');
  if (config.auth && users.size === 0 && !config.allowAnonymous) logger.warn({ usersFile: config.saslUsersFile }, 'no users: with --auth yes no client can log in (add users with qpid-users, or --allow-anonymous yes)');
  return {
    sasl: { policy, users, limiter: new FailureLimiter(), secret: randomBytes(32), clock, logger: logger.child({ module: 'sasl' }) },
    acl,
    users,
    replicationDenied(user) {
      try {
        acl.authorize({ user, ...REPLICATION_CHECK });
      } catch (err) {
        return (err as Error).message;
      }
      // The stream carries every message: with an HA identity configured, only it may take it,
      // even where no ACL says so (issue 19).
      const haUser = config.ha.username;
      if (config.auth && haUser !== null) {
        const haIdentity = haUser.includes('@') ? haUser : `${haUser}@${config.realm}`;
        if (user !== haIdentity) return `${user} is not the HA identity (${haIdentity}): only it may take the replication stream`;
      }
      return null;
    },
    authorizeCommand(operation, input, user) {
      if (!acl.enabled) return;
      for (const check of managementChecks(operation, input)) acl.authorize({ ...check, user: user ?? `anonymous@${config.realm}` });
    },
    reload() {
      try {
        const count = users.reload();
        if (users.path !== null) logger.info({ usersFile: users.path, users: count }, 'users file reloaded');
      } catch (err) {
        logger.error({ usersFile: users.path, err: (err as Error).message }, 'users file not reloaded; the users loaded before stay in force');
      }
      acl.reload();
    },
  };
}
