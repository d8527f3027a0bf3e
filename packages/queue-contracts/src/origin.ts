/**
 * The job option under which the gateway records who posted a job.
 *
 * BullMQ stores a job's options verbatim as JSON (the `opts` field of the job
 * hash) and gives unknown keys back when it reads the job, so this travels
 * with the job (through retries, and into its dead-letter record's `options`)
 * without touching its payload, which stays exactly what the contract says.
 * Jobs added straight through BullMQ have none; they count as tenant
 * {@link DEFAULT_TENANT}.
 */
export const ORIGIN_OPTION = 'jobfleet';

/** The tenant of a job that records none. */
export const DEFAULT_TENANT = 'default';

/** Who posted a job: the API key's id and, when the key has one, its tenant. */
export interface JobOrigin {
  client: string;
  tenant?: string;
}

/** `options` with the origin recorded. */
export function withOrigin<O extends object>(
  options: O,
  origin: JobOrigin,
): O & { [ORIGIN_OPTION]: JobOrigin } {
  const record: JobOrigin = { client: origin.client };
  if (origin.tenant !== undefined) record.tenant = origin.tenant;
  return { ...options, [ORIGIN_OPTION]: record };
}

/** The origin recorded on a job, if the gateway posted it. */
export function originOf(job: { opts: object }): JobOrigin | undefined {
  const value = (job.opts as Record<string, unknown>)[ORIGIN_OPTION];
  if (!value || typeof value !== 'object') return undefined;
  const { client, tenant } = value as { client?: unknown; tenant?: unknown };
  if (typeof client !== 'string') return undefined;
  return typeof tenant === 'string' ? { client, tenant } : { client };
}

/** The tenant a job counts under. */
export function tenantOf(job: { opts: object }): string {
  return originOf(job)?.tenant ?? DEFAULT_TENANT;
}
