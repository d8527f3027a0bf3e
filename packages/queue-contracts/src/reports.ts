import { Type } from 'typebox';
import { defineQueue } from './contract.js';
import { Email, TenantId } from './primitives.js';

export const DailyReportData = Type.Object(
  {
    tenantId: TenantId,
    date: Type.Optional(Type.String({ format: 'date', maxLength: 10 })),
    format: Type.Optional(Type.Union([Type.Literal('csv'), Type.Literal('pdf')])),
    notify: Type.Optional(Email),
  },
  { additionalProperties: false },
);

export const ReportResult = Type.Object(
  {
    path: Type.String({ maxLength: 1_024 }),
    bytes: Type.Integer({ minimum: 0 }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    contentType: Type.String({ maxLength: 128 }),
    rows: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const reports = defineQueue({
  name: 'reports',
  team: 'reporting',
  description: 'CPU-heavy reports rendered off the request path by the report worker.',
  jobs: {
    'daily-report': {
      description: "Renders one tenant's usage for one day as CSV or PDF.",
      data: DailyReportData,
      result: ReportResult,
      example: { tenantId: 'acme', date: '2026-11-27', format: 'csv', notify: 'ops@example.com' },
    },
  },
  defaultJobOptions: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 5_000 },
    removeOnComplete: { age: 7 * 24 * 3_600, count: 5_000 },
    removeOnFail: { age: 14 * 24 * 3_600, count: 5_000 },
  },
});
