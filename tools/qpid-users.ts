#!/usr/bin/env node
// qpid-users: manages the broker's users file (--sasl-users-file): add, del, passwd, list. The
// password is read from the terminal without echo, or from stdin's first line when stdin is not a
// terminal; never from the command line, where `ps` and shell history would show it. The
// running broker reads the file again on SIGHUP.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runTool, UsageError } from './lib/management-cli.js';
import { checkUserName, emptyUsersDocument, makeToken, makeUserRecord, readUsersFile, tokenHash, writeUsersFile, type UsersDocument } from '../src/security/users-file.js';

const USAGE = `usage: qpid-users add|passwd USER --file FILE   (password from the terminal, or stdin's first line)
       qpid-users del USER --file FILE
       qpid-users list --file FILE [--json]
       qpid-users token USER --file FILE [--revoke]   (prints a new HTTP API bearer token once; --revoke drops all of USER's)
Then send the broker SIGHUP (kill -HUP <pid>) to read the file again.`;

/** Reads one line: from the terminal with echo off, or from piped stdin. */
async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let text = '';
    for await (const chunk of stdin) text += String(chunk);
    return text.split(/\r?\n/)[0] ?? '';
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  return await new Promise((resolve, reject) => {
    let typed = '';
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          done();
          return resolve(typed);
        }
        if (ch === '\u0003') {
          done();
          return reject(new UsageError('interrupted'));
        }
        if (ch === '\u007f') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    const done = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

async function newPassword(): Promise<string> {
  const password = await readPassword('Password: ');
  if (process.stdin.isTTY && (await readPassword('Again: ')) !== password) throw new UsageError('the passwords differ');
  if (password.length === 0) throw new UsageError('the password is empty');
  if (Buffer.byteLength(password, 'utf8') > 1024) throw new UsageError('the password is longer than 1024 bytes');
  return password;
}

function load(file: string, create: boolean): UsersDocument {
  if (!existsSync(file)) {
    if (create) return emptyUsersDocument();
    throw new UsageError(`--file: ${file} does not exist`);
  }
  try {
    return readUsersFile(file);
  } catch (err) {
    throw new UsageError(`--file: ${(err as Error).message}`);
  }
}

runTool('qpid-users', async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      file: { type: 'string', short: 'f' },
      json: { type: 'boolean', default: false },
      revoke: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [command, user, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])} (passwords are never taken from the command line)`);
  const file = values.file;
  if (!file) throw new UsageError('--file FILE is required');
  if (command === 'list') {
    const names = Object.keys(load(file, false).users).sort();
    process.stdout.write(values.json ? `${JSON.stringify(names)}\n` : names.map((n) => `${n}\n`).join(''));
    return 0;
  }
  if (command !== 'add' && command !== 'del' && command !== 'passwd' && command !== 'token') throw new UsageError(`unknown command ${JSON.stringify(command ?? '')}\n${USAGE}`);
  if (!user) throw new UsageError(`${command}: a USER is required`);
  const problem = checkUserName(user);
  if (problem) throw new UsageError(`USER: ${problem}`);
  const document = load(file, command === 'add');
  const exists = Object.hasOwn(document.users, user);
  if (command === 'add' && exists) throw new UsageError(`add: user ${user} exists (use passwd)`);
  if (command !== 'add' && !exists) throw new UsageError(`${command}: no user ${user} in ${file}`);
  const users = { ...document.users };
  const old = users[user];
  if (command === 'token') {
    if (!old) throw new UsageError(`token: no user ${user}`);
    if (values.revoke) {
      const { tokens: _dropped, ...rest } = old;
      users[user] = rest;
      writeUsersFile(file, { ...document, users });
      process.stderr.write(`qpid-users: revoked every token of ${user}; send the broker SIGHUP to reload ${file}\n`);
      return 0;
    }
    const token = makeToken();
    users[user] = { ...old, tokens: [...(old.tokens ?? []), { sha256: tokenHash(token), created: new Date().toISOString() }] };
    writeUsersFile(file, { ...document, users });
    // The only time the token exists outside the client: the file keeps its hash.
    process.stdout.write(`${token}\n`);
    process.stderr.write(`qpid-users: issued a token for ${user} (use it as "Authorization: Bearer TOKEN"); send the broker SIGHUP to reload ${file}\n`);
    return 0;
  }
  if (command === 'del') delete users[user];
  // A new password keeps the user's tokens (revoke them with token --revoke).
  else users[user] = { ...makeUserRecord(await newPassword()), ...(old?.tokens ? { tokens: old.tokens } : {}) };
  writeUsersFile(file, { ...document, users });
  process.stderr.write(`qpid-users: ${command === 'del' ? 'deleted' : command === 'add' ? 'added' : 'changed the password of'} ${user}; send the broker SIGHUP to reload ${file}\n`);
  return 0;
});
