import { ConfigError, type Logger } from '@jobfleet/service-kit';
import type { DashboardConfig } from './config.js';
import type { Role } from './users.js';
import { UserDirectory } from './users.js';

/** Who is making a request. */
export interface Principal {
  readonly username: string;
  readonly role: Role;
}

/** With `DASHBOARD_AUTH=disabled` every request acts as this admin. */
export const ANONYMOUS_ADMIN: Principal = Object.freeze({ username: 'anonymous', role: 'admin' });

export type AuthMode = { enabled: true; users: UserDirectory } | { enabled: false };

/**
 * Decides how people log in. Refuses (a {@link ConfigError}) to run without
 * users unless authentication is explicitly disabled, and to guess between two
 * user sources. Warns about every user whose password is given in plain text.
 */
export async function resolveAuth(
  config: Pick<DashboardConfig, 'dashboardAuth' | 'dashboardUsers' | 'dashboardUsersFile'>,
  logger: Logger,
): Promise<AuthMode> {
  if (config.dashboardAuth === 'disabled') {
    logger.warn(
      'DASHBOARD_AUTH=disabled: AUTHENTICATION IS OFF. Anyone who reaches this port is an admin and can retry, clean, pause or empty every queue. Never do this outside local development.',
    );
    return { enabled: false };
  }
  if (config.dashboardUsers && config.dashboardUsersFile) {
    throw new ConfigError(['DASHBOARD_USERS, DASHBOARD_USERS_FILE: both are set; set only one of them']);
  }
  const users = config.dashboardUsers ?? config.dashboardUsersFile ?? [];
  if (users.length === 0) {
    throw new ConfigError([
      'DASHBOARD_USERS: no dashboard users configured; set DASHBOARD_USERS or DASHBOARD_USERS_FILE (hash passwords with `pnpm --filter @jobfleet/dashboard hash-password`), or DASHBOARD_AUTH=disabled for local development',
    ]);
  }
  for (const user of users) {
    if (user.credential.kind === 'plain') {
      logger.warn(
        { username: user.username },
        'a dashboard user has a plain-text password; give a passwordHash instead (pnpm --filter @jobfleet/dashboard hash-password)',
      );
    }
  }
  return { enabled: true, users: await UserDirectory.create(users) };
}
