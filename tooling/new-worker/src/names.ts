/** Queue and job names: lowercase kebab-case, starting with a letter (ARCHITECTURE.md). */
export const KEBAB_CASE = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** Longest queue name: BullMQ keys and Prometheus labels carry it; `-worker` is added for the app. */
export const MAX_QUEUE_NAME = 40;
export const MAX_JOB_NAME = 60;

/** Queue names jobfleet itself uses. */
export const RESERVED_QUEUES: ReadonlySet<string> = new Set(['dead-letters']);

/** `image-resize` → `imageResize`. */
export function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, char: string) => char.toUpperCase());
}

/** `image-resize` → `ImageResize`. */
export function pascalCase(name: string): string {
  const camel = camelCase(name);
  return camel.charAt(0).toUpperCase() + camel.slice(1);
}

/** What already exists in the workspace, for refusing clashes. */
export interface Existing {
  queues: ReadonlySet<string>;
  apps: ReadonlySet<string>;
  /** Names `@jobfleet/queue-contracts` exports today. */
  exports: ReadonlySet<string>;
}

/** The identifiers a new contract module adds to `@jobfleet/queue-contracts`. */
export function contractIdentifiers(queue: string, jobs: readonly string[]): string[] {
  const prefix = pascalCase(queue);
  return [
    camelCase(queue),
    ...jobs.flatMap((job) => [`${prefix}${pascalCase(job)}Data`, `${prefix}${pascalCase(job)}Result`]),
  ];
}

/** Why `queue` cannot be a new queue, or `undefined` when it can. */
export function queueNameProblem(queue: string, existing: Existing): string | undefined {
  if (!KEBAB_CASE.test(queue)) {
    return `queue name "${queue}" is not kebab-case: lowercase letters, digits and single hyphens, starting with a letter (e.g. "thumbnails", "image-resize")`;
  }
  if (queue.length > MAX_QUEUE_NAME)
    return `queue name "${queue}" is longer than ${MAX_QUEUE_NAME} characters`;
  if (RESERVED_QUEUES.has(queue)) return `queue name "${queue}" is reserved by jobfleet`;
  if (existing.queues.has(queue)) return `queue "${queue}" already exists in the catalog`;
  if (existing.apps.has(`${queue}-worker`))
    return `an app named "${queue}-worker" already exists under apps/`;
  return undefined;
}

/** Why `jobs` cannot be the jobs of a new queue, or `undefined` when they can. */
export function jobNamesProblem(jobs: readonly string[]): string | undefined {
  if (jobs.length === 0) return 'name at least one job: --job <name>';
  const seen = new Set<string>();
  for (const job of jobs) {
    if (!KEBAB_CASE.test(job)) {
      return `job name "${job}" is not kebab-case: lowercase letters, digits and single hyphens, starting with a letter (e.g. "resize", "daily-report")`;
    }
    if (job.length > MAX_JOB_NAME) return `job name "${job}" is longer than ${MAX_JOB_NAME} characters`;
    if (seen.has(job)) return `job name "${job}" is given twice`;
    seen.add(job);
  }
  return undefined;
}

/** Why the contract's identifiers would clash with what the contracts package exports, or `undefined`. */
export function identifierProblem(
  queue: string,
  jobs: readonly string[],
  existing: Existing,
): string | undefined {
  const clash = contractIdentifiers(queue, jobs).find((name) => existing.exports.has(name));
  return clash
    ? `"${clash}" is already exported by @jobfleet/queue-contracts; choose another queue name`
    : undefined;
}

/** A team name is a label value routed on by Alertmanager: kebab-case keeps it simple to match. */
export function teamNameProblem(team: string): string | undefined {
  return KEBAB_CASE.test(team) && team.length <= 60
    ? undefined
    : `team name "${team}" is not kebab-case (e.g. "media", "growth-tools")`;
}
