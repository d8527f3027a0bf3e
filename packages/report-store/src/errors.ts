/**
 * A tenant id, date or job id that cannot name a stored report: a tenant
 * outside the contract's alphabet, a date that is not `YYYY-MM-DD`, an empty
 * job id. Thrown before any path is built, so no such value reaches the
 * filesystem.
 */
export class InvalidReportKeyError extends Error {
  override name = 'InvalidReportKeyError';
  constructor(
    readonly field: 'tenant' | 'date' | 'jobId' | 'format',
    message: string,
  ) {
    super(`${field} ${message}`);
  }
}
