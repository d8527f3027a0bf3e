import { webhooks } from '@jobfleet/queue-contracts';
import { workerContractSuite } from '@jobfleet/test-utils';
import { worker } from '../src/worker.js';

// What every jobfleet worker owes its queue, against a real Redis: see @jobfleet/test-utils.
workerContractSuite({
  contract: webhooks,
  valid: { name: 'deliver', data: { id: 'contract-suite' } },
  invalid: { name: 'deliver', data: { id: '' } },
  start: ({ env, wrap }) => worker.start({ env, wrap }),
});
