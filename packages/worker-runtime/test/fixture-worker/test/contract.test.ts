import { workerContractSuite } from '@jobfleet/test-utils';
import { thumbnails } from '../contract.js';
import { worker } from '../src/worker.js';

workerContractSuite({
  contract: thumbnails,
  valid: { name: 'resize', data: { id: 'contract-suite' } },
  invalid: { name: 'resize', data: { id: '' } },
  start: ({ env, wrap }) => worker.start({ env, wrap }),
});
