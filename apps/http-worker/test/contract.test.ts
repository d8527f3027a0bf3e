import { emails } from '@jobfleet/queue-contracts';
import { workerContractSuite } from '@jobfleet/test-utils';
import { afterAll, beforeAll } from 'vitest';
import { startInProcessWorker } from './start-worker.js';
import { answer, startTestEndpoint, type TestEndpoint } from './test-endpoint.js';

// The behaviour every worker owes its queue, with an endpoint that completes every job it gets.
let endpoint: TestEndpoint;
beforeAll(async () => {
  endpoint = await startTestEndpoint((request, res) =>
    answer(res, 200, { messageId: `<${request.body.id}@example.com>`, transport: 'smtp' }),
  );
});
afterAll(() => endpoint.close());

workerContractSuite({
  contract: emails,
  valid: { name: 'welcome', data: { userId: 1, to: 'ada@example.com', name: 'Ada' } },
  invalid: { name: 'welcome', data: { userId: 1, to: 'not an address', extra: true } },
  async start({ redisUrl, prefix, wrap }) {
    const worker = await startInProcessWorker({
      redisUrl,
      prefix,
      env: { HTTP_WORKER_QUEUES: 'emails', HTTP_WORKER_URL: endpoint.url },
      wrap,
    });
    return { close: () => worker.close() };
  },
});
