import { validate } from '@jobfleet/queue-contracts';
import { parseSecretJson } from '@jobfleet/service-kit';
import { Type } from 'typebox';
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  type PasswordHash,
  PasswordHashFormatError,
  parsePasswordHash,
  verifyPassword,
} from './password.js';

/** `admin` may act on queues (retry, promote, clean, pause, add); `viewer` may only look. */
export type Role = 'admin' | 'viewer';

export const ROLES: readonly Role[] = ['admin', 'viewer'];

/**
 * One entry of `DASHBOARD_USERS` (or the file `DASHBOARD_USERS_FILE` names):
 * `{ username, passwordHash | password, role }`. `password` (plain text) is
 * accepted for development only and logged as a warning at start.
 */
export const UserEntry = Type.Object(
  {
    username: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]*$', minLength: 1, maxLength: 64 }),
    passwordHash: Type.Optional(Type.String({ maxLength: 512 })),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1_024 })),
    role: Type.Union([Type.Literal('admin'), Type.Literal('viewer')]),
  },
  { additionalProperties: false },
);

/** A configured user as the config holds it: its credential is checked, not yet usable. */
export interface ConfiguredUser {
  readonly username: string;
  readonly role: Role;
  /** `plain`: the password was given as text, which start-up warns about. */
  readonly credential: { kind: 'hash'; hash: PasswordHash } | { kind: 'plain'; password: string };
}

function entryLabel(index: number, entry: unknown): string {
  const name = (entry as { username?: unknown } | null)?.username;
  return typeof name === 'string' && /^[\x20-\x7E]{1,64}$/.test(name)
    ? `entry ${index} (user "${name}")`
    : `entry ${index}`;
}

/**
 * Reads the `DASHBOARD_USERS` JSON array; throws one Error listing every bad
 * entry. Messages name entries and fields, never a password or a hash.
 */
export function parseUsers(text: string): ConfiguredUser[] {
  const value = parseSecretJson(text);
  if (!Array.isArray(value)) throw new Error('must be a JSON array of { username, passwordHash, role }');
  const problems: string[] = [];
  const users: ConfiguredUser[] = [];
  const seen = new Set<string>();
  value.forEach((entry: unknown, index) => {
    const label = entryLabel(index, entry);
    const checked = validate(UserEntry, entry);
    if (!checked.ok) {
      // Paths and messages only: TypeBox messages describe the schema, not the value.
      for (const issue of checked.issues) problems.push(`${label}: ${issue.path || '/'} ${issue.message}`);
      return;
    }
    const { username, passwordHash, password, role } = entry as {
      username: string;
      passwordHash?: string;
      password?: string;
      role: Role;
    };
    if (seen.has(username.toLowerCase())) {
      problems.push(`${label}: the username is listed twice`);
      return;
    }
    seen.add(username.toLowerCase());
    if ((passwordHash === undefined) === (password === undefined)) {
      problems.push(`${label}: give exactly one of passwordHash and password`);
      return;
    }
    if (passwordHash !== undefined) {
      try {
        users.push({ username, role, credential: { kind: 'hash', hash: parsePasswordHash(passwordHash) } });
      } catch (error) {
        if (!(error instanceof PasswordHashFormatError)) throw error;
        problems.push(`${label}: passwordHash ${error.message}`);
      }
    } else if (password !== undefined) {
      users.push({ username, role, credential: { kind: 'plain', password } });
    }
  });
  if (problems.length > 0) throw new Error(problems.join('; '));
  return users;
}

/** A user who may log in. */
export interface DashboardUser {
  readonly username: string;
  readonly role: Role;
}

/**
 * The configured users, ready for logins. Plain-text passwords are hashed once
 * at start, so every check costs the same scrypt work.
 */
export class UserDirectory {
  readonly #users: Map<string, { user: DashboardUser; hash: PasswordHash }>;
  readonly #dummy: PasswordHash;

  private constructor(users: Map<string, { user: DashboardUser; hash: PasswordHash }>, dummy: PasswordHash) {
    this.#users = users;
    this.#dummy = dummy;
  }

  static async create(configured: readonly ConfiguredUser[]): Promise<UserDirectory> {
    const users = new Map<string, { user: DashboardUser; hash: PasswordHash }>();
    for (const { username, role, credential } of configured) {
      const hash = credential.kind === 'hash' ? credential.hash : await hashPassword(credential.password);
      users.set(username.toLowerCase(), { user: Object.freeze({ username, role }), hash });
    }
    // A user that does not exist costs a check against this hash, made with the configured users'
    // parameters, so timing does not tell names apart.
    const [first] = users.values();
    const dummy = await hashPassword('not a real password', first?.hash ?? DEFAULT_SCRYPT_PARAMS);
    return new UserDirectory(users, dummy);
  }

  get size(): number {
    return this.#users.size;
  }

  /** The user, by name (case-insensitive); `undefined` for unknown names. */
  find(username: string): DashboardUser | undefined {
    return this.#users.get(username.toLowerCase())?.user;
  }

  /** The user when the password is theirs; `undefined` otherwise. Always does one scrypt check. */
  async authenticate(username: string, password: string): Promise<DashboardUser | undefined> {
    const entry = this.#users.get(username.toLowerCase());
    const ok = await verifyPassword(entry?.hash ?? this.#dummy, password);
    return ok && entry ? entry.user : undefined;
  }
}
