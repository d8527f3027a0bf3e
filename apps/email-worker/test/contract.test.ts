import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emails } from '@jobfleet/queue-contracts';
import { workerContractSuite } from '@jobfleet/test-utils';
import { afterAll, beforeAll, describe } from 'vitest';
import { startInProcessWorker } from './start-worker.js';
import { startTestSmtpServer, type TestSmtpServer } from './test-smtp-server.js';

const valid = { name: 'welcome', data: { userId: 1, to: 'ada@example.com', name: 'Ada' } };
const invalid = { name: 'welcome', data: { userId: 1, to: 'not an address', extra: true } };

describe('with the file outbox', () => {
  const outboxDir = mkdtempSync(join(tmpdir(), 'email-contract-'));
  afterAll(() => rmSync(outboxDir, { recursive: true, force: true }));

  workerContractSuite({
    contract: emails,
    valid,
    invalid,
    async start({ redisUrl, prefix, wrap }) {
      const worker = await startInProcessWorker({ redisUrl, prefix, outboxDir, wrap });
      return { close: async () => void (await worker.close()) };
    },
  });
});

describe('with SMTP', () => {
  let smtp: TestSmtpServer;
  beforeAll(async () => {
    smtp = await startTestSmtpServer();
  });
  afterAll(() => smtp.close());

  workerContractSuite({
    contract: emails,
    valid,
    invalid,
    async start({ redisUrl, prefix, wrap }) {
      const worker = await startInProcessWorker({ redisUrl, prefix, env: { SMTP_URL: smtp.url }, wrap });
      return { close: async () => void (await worker.close()) };
    },
  });
});
