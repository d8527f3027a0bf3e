#!/usr/bin/env node
/**
 * Prints the scrypt hash of a password for `DASHBOARD_USERS`.
 *
 *   printf '%s' 'the password' | node dist/hash-password.js
 *   node dist/hash-password.js --username ops --role admin     (asks, without echo)
 *
 * The password comes from standard input, never from the command line (which
 * other users can read in the process list). With `--username` (and
 * `--role`, default `viewer`) it prints a whole `DASHBOARD_USERS` entry.
 */
import { parseArgs } from 'node:util';
import { formatPasswordHash, hashPassword } from './password.js';
import { ROLES, type Role } from './users.js';

/** Reads the password typed at a terminal, echoing nothing. */
function readHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  return new Promise((resolve, reject) => {
    process.stderr.write(prompt);
    let text = '';
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    const done = (result: Error | string) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (typeof result === 'string') resolve(result);
      else reject(result);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') return done(text);
        if (char === '\u0003') return done(new Error('cancelled'));
        if (char === '\u007f' || char === '\b') text = text.slice(0, -1);
        else text += char;
      }
    };
    input.on('data', onData);
  });
}

/** Reads all of a piped standard input; one trailing newline is not part of the password. */
async function readPiped(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      username: { type: 'string' },
      role: { type: 'string', default: 'viewer' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: hash-password [--username NAME [--role admin|viewer]]  (the password on standard input)\n',
    );
    return 0;
  }
  if (!ROLES.includes(values.role as Role)) {
    process.stderr.write(`--role must be one of ${ROLES.join(', ')}\n`);
    return 2;
  }
  let password: string;
  if (process.stdin.isTTY) {
    password = await readHidden('Password: ');
    if ((await readHidden('Again: ')) !== password) {
      process.stderr.write('the passwords differ\n');
      return 1;
    }
  } else {
    password = await readPiped();
  }
  if (password.length === 0) {
    process.stderr.write('the password is empty\n');
    return 1;
  }
  const hash = formatPasswordHash(await hashPassword(password));
  process.stdout.write(
    values.username
      ? `${JSON.stringify({ username: values.username, passwordHash: hash, role: values.role })}\n`
      : `${hash}\n`,
  );
  return 0;
}

process.exitCode = await main();
