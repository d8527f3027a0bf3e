import { reports } from '@jobfleet/queue-contracts';
import { workerContractSuite } from '@jobfleet/test-utils';
import { startInProcessWorker } from './start-worker.js';

workerContractSuite({
  contract: reports,
  valid: { name: 'daily-report', data: { tenantId: 'acme', date: '2026-11-01' } },
  invalid: { name: 'daily-report', data: { tenantId: 'Not A Tenant', format: 'xlsx' } },
  async start({ redisUrl, prefix, wrap }) {
    const worker = await startInProcessWorker({ redisUrl, prefix, wrap });
    return { close: async () => void (await worker.close()) };
  },
});
