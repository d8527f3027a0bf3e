/**
 * Runs the curl examples of README.md and every apps/<app>/README.md against
 * the fleet, as a reader of the Quickstart would (`$KEY` the development key
 * `pnpm start` keeps in .data/dev-api-key, the e-mail worker on its file
 * outbox), one README after the other in document order on the same fleet,
 * and compares each answer with the `# → <status> <answer>` line the README
 * shows under it. Each line runs in sh, as the reader's shell would run it,
 * with a stand-in `curl` that sends to the fleet's gateway. An example without
 * an answer line, or whose answer shows no status, must succeed (2xx).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { DeadLetterStore } from '@jobfleet/dead-letter-store';
import { emails, toDeadLetter } from '@jobfleet/queue-contracts';
import { deleteKeys } from '@jobfleet/test-utils';
// Declares the `redisUrl` that the global setup provides.
import type {} from '@jobfleet/test-utils/global-setup';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Fleet, type RunningService, startFleet } from './support/fleet.js';
import { REPO_ROOT } from './support/paths.js';
import {
  answerDifferences,
  examplesOf,
  parseShownJson,
  ReadmeShell,
  readExamples,
  readmeFiles,
  type ShellResult,
  type Step,
  shownBodyDifferences,
} from './support/readme-examples.js';
import { isBuilt, SERVICES, type ServiceSpec } from './support/services.js';

/** How long a GET example may take to show what the README shows (a job a worker still runs). */
const SETTLE_TIMEOUT_MS = 20_000;

/** A README text that stands for something the test knows only at run time. */
type Substitution = readonly [pattern: RegExp, value: string];

/**
 * Answers that differ from the README because the code is wrong, not the
 * README: the example must differ in exactly these ways until the code is
 * fixed (then the test fails, asking for the entry to go).
 */
const KNOWN_CODE_DRIFTS: ReadonlyArray<{
  file: string;
  command: RegExp;
  differences: string[];
  why: string;
}> = [];

const DATA_DIR = '.data';
const files = readmeFiles(REPO_ROOT).map((file) => ({ file, steps: readExamples(REPO_ROOT, file) }));
const runnable = files.filter(({ steps }) => steps.length > 0);
const unbuilt = SERVICES.filter((spec) => !isBuilt(spec)).map((spec) => spec.app);

describe('reading examples out of a README', () => {
  it('finds the Quickstart’s requests and the answers it shows', () => {
    const quickstart = files[0]?.steps.filter((step) => step.kind === 'curl') ?? [];
    expect(files[0]?.file).toBe('README.md');
    expect(quickstart.length).toBeGreaterThanOrEqual(2);
    expect(quickstart[0]?.answer?.status).toBe(202);
  });

  it('reads continued commands and multi-line answers', () => {
    const steps = examplesOf(
      [
        '```sh',
        'KEY=$(cat .data/dev-api-key)',
        `curl -s -X PUT http://localhost:3000/v1/x \\`,
        `  -H "Authorization: Bearer $KEY" -d '{"a":"b c"}'`,
        '# → 201 {"a":1,',
        '#        "b":[…],…}',
        'ls .data/outbox',
        '```',
      ].join('\n'),
    );
    expect(steps.map((step) => [step.kind, step.line])).toEqual([
      ['assign', 2],
      ['curl', 3],
      ['ls', 7],
    ]);
    expect(steps[1]?.answer).toEqual({ line: 5, status: 201, body: '{"a":1,\n"b":[…],…}' });
  });

  it('runs a line as sh does, sending curl’s request to the fleet under test', async () => {
    const seen: Array<{ method?: string; url?: string; headers: object; body: string }> = [];
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        seen.push({ method: request.method, url: request.url, headers: request.headers, body });
        response.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const cwd = mkdtempSync(join(tmpdir(), 'jobfleet-readme-shell-'));
    const shell = new ReadmeShell(cwd, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      mkdirSync(join(cwd, '.data'));
      writeFileSync(join(cwd, '.data', 'dev-api-key'), 'dev_secret\n');
      const [assign, curl] = examplesOf(
        [
          '```sh',
          'KEY=$(cat .data/dev-api-key)',
          `curl -s -X PUT "http://localhost:3000/v1/x?day=$(echo 2026-12-06)" \\`,
          `  -H "Authorization: Bearer $KEY" -d '{"a":"b c"}'`,
          '```',
        ].join('\n'),
      ) as [Step, Step];
      expect((await shell.run(assign)).value).toBe('dev_secret');
      const result = await shell.run(curl);
      expect(result).toMatchObject({
        code: 0,
        stdout: '{"ok":true}',
        requests: [{ method: 'PUT', status: 201 }],
      });
      expect(seen).toEqual([
        {
          method: 'PUT',
          url: '/v1/x?day=2026-12-06',
          headers: expect.objectContaining({
            authorization: 'Bearer dev_secret',
            'content-type': 'application/x-www-form-urlencoded',
          }),
          body: '{"a":"b c"}',
        },
      ]);
      const refused = await shell.run({ kind: 'curl', command: 'curl -i http://localhost:3000/v1/x' });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('option -i is not supported');
    } finally {
      shell.close();
      rmSync(cwd, { recursive: true, force: true });
      server.close();
    }
  });

  it('refuses an answer written without the arrow', () => {
    expect(() => examplesOf('```sh\ncurl http://localhost:3000/v1/queues\n# 200 {"queues":[]}\n```')).toThrow(
      /line 3: write an answer as/,
    );
  });

  it('tells every way an answer can differ from the one shown', () => {
    const shown = parseShownJson(
      '{"id":"emails.2.1796523675572","state":"completed","next":"…T01:00:00.000Z","ids":[…],…}',
    );
    const answer = {
      id: 'emails.7.1796523999999',
      state: 'completed',
      next: 'xT01:00:00.000Z',
      ids: [1],
      x: 2,
    };
    expect(answerDifferences(shown, answer)).toEqual([]);
    expect(
      answerDifferences(shown, { id: 'reports.2.1796523675572', next: 'T02:00:00.000Z', ids: {} }),
    ).toEqual([
      '/id: "reports.2.1796523675572" does not match "emails.2.1796523675572"',
      '/state: missing',
      '/next: "T02:00:00.000Z" does not match "…T01:00:00.000Z"',
      '/ids: {} is not an array',
    ]);
    expect(
      answerDifferences(parseShownJson('{"id":"1","n":2}'), { id: '1', n: 3, duplicate: false }),
    ).toEqual(['/n: 3, shown 2', '/duplicate: not shown (false)']);
    expect(shownBodyDifferences('queue,job_name\nemails,welcome', 'queue,job_name\r\nreports,x')).toEqual([]);
    expect(shownBodyDifferences('queue,job_name', 'queue,name\n')).toEqual([
      'first line "queue,name", shown "queue,job_name"',
    ]);
  });
});

/** The app environment a reader of the Quickstart has: what `pnpm start` gives each app, on test ports. */
function quickstartSpecs(apiKey: string): ServiceSpec[] {
  const env: Readonly<Record<string, ServiceSpec['env']>> = {
    gateway: () => ({
      GATEWAY_API_KEYS: JSON.stringify([{ id: 'development', key: apiKey, scopes: ['admin'] }]),
      // Load shedding off: five apps starting at once on a small machine lag the event loop.
      PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0',
    }),
    // The file outbox (.data/outbox) and the report store (.data/reports) by default, as under pnpm start.
    'email-worker': () => ({}),
    'report-worker': () => ({}),
  };
  return SERVICES.map((spec) => {
    const own = env[spec.app];
    return own ? { ...spec, env: own } : spec;
  });
}

/**
 * For apps/gateway/README.md's dead-letter examples: a real dead letter of an
 * `emails` welcome job (an invalid payload added straight to BullMQ, which the
 * worker dead-letters without a retry), whose id stands in for the record id
 * the README names; and 101 records of `welcome` jobs that failed with
 * ETIMEDOUT, for the bulk redrive of 100 that leaves one behind. The second
 * kind is written the way the worker runtime writes records (the store's
 * `capture`), since the fleet's file outbox never times out.
 */
async function deadLetterFixtures(redisUrl: string, prefix: string): Promise<Substitution[]> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const store = new DeadLetterStore({ connection, prefix });
  const queue = new Queue(emails.name, { connection, prefix });
  const events = new QueueEvents(emails.name, { connection: { url: redisUrl }, prefix });
  try {
    await events.waitUntilReady();
    // Jobs of earlier examples (a delivery retried until it fails) would add newer records: let them finish.
    const idleBy = Date.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
      if (Object.values(counts).every((count) => count === 0)) break;
      if (Date.now() > idleBy) throw new Error(`the emails queue did not empty: ${JSON.stringify(counts)}`);
      await delay(100);
    }
    const invalid = await queue.add(
      'welcome',
      { userId: 123, to: 'not-an-address' },
      emails.defaultJobOptions,
    );
    const outcome = await invalid.waitUntilFinished(events, SETTLE_TIMEOUT_MS).then(
      () => 'completed',
      (error: Error) => `failed: ${error.message}`,
    );
    if (!outcome.startsWith('failed')) throw new Error(`the invalid e-mail job ended ${outcome}`);
    // Newer than that failure, so the newest records all match the bulk redrive, as the README assumes.
    const after = (await queue.getJob(invalid.id as string))?.finishedOn ?? Date.now();
    for (let index = 0; index < 101; index += 1) {
      await store.capture(
        toDeadLetter({
          queueName: emails.name,
          id: `timeout-${index}`,
          name: 'welcome',
          data: { userId: 1000 + index, to: `user${index}@example.com` },
          opts: { attempts: 5 },
          failedReason: 'connect ETIMEDOUT 192.0.2.1:587',
          stacktrace: ['Error: connect ETIMEDOUT 192.0.2.1:587'],
          attemptsMade: 5,
          timestamp: after - 600_000,
          finishedOn: after + 1 + index,
        }),
      );
    }
    // The DLQ processor indexes records as they arrive; the API lists only indexed ones.
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      const { items } = await store.list({ queue: emails.name, limit: 1000 });
      const real = items.find((item) => item.record.jobId === invalid.id);
      if (real && items.length >= 102) return [[/\bemails\.\d+\.\d{13}\b/g, real.id]];
      if (Date.now() > deadline) {
        throw new Error(`the DLQ processor indexed ${items.length} of 102 e-mail dead letters`);
      }
      await delay(100);
    }
  } finally {
    await Promise.all([events.close(), queue.close(), store.close()]);
    await connection.quit();
  }
}

/** What a README's examples need beyond the Quickstart's state, by README. */
const FIXTURES: Readonly<
  Record<string, (context: { redisUrl: string; prefix: string }) => Promise<Substitution[]>>
> = {
  'apps/gateway/README.md': ({ redisUrl, prefix }) => deadLetterFixtures(redisUrl, prefix),
};

const substitute = (text: string, substitutions: readonly Substitution[]) =>
  substitutions.reduce((result, [pattern, value]) => result.replace(pattern, value), text);

/** How an answer differs from what the step shows (or, with no status shown, from a success). */
function differencesOf(step: Step, status: number, text: string): string[] {
  const shown = step.answer;
  const problems =
    shown?.status === undefined
      ? status >= 200 && status < 300
        ? []
        : [`status ${status}, not a success`]
      : status === shown.status
        ? []
        : [`status ${status}, shown ${shown.status}`];
  return shown?.body === undefined ? problems : [...problems, ...shownBodyDifferences(shown.body, text)];
}

const oneLine = (command: string) => command.replace(/\\\n\s*/g, ' ');

describe.skipIf(unbuilt.length > 0)(
  `README examples against a running fleet${unbuilt.length > 0 ? ` (skipped: build ${unbuilt.join(', ')})` : ''}`,
  () => {
    const redisUrl = inject('redisUrl');
    const prefix = `readme-${randomUUID().slice(0, 8)}`;
    // As pnpm start makes it (tooling/local-fleet/src/dev-key.ts): `dev_` and 24 random bytes.
    const apiKey = `dev_${randomBytes(24).toString('base64url')}`;
    let dataDir = '';
    let fleet: Fleet | undefined;
    let gateway: RunningService | undefined;

    beforeAll(async () => {
      // The apps' working directory stands for the checkout: relative paths (.data/…) land in it.
      dataDir = mkdtempSync(join(tmpdir(), 'jobfleet-readme-'));
      mkdirSync(join(dataDir, DATA_DIR));
      writeFileSync(join(dataDir, DATA_DIR, 'dev-api-key'), `${apiKey}\n`, { mode: 0o600 });
      fleet = await startFleet(quickstartSpecs(apiKey), { redisUrl, prefix, dataDir, smtpUrl: '' });
      gateway = fleet.find('gateway');
    }, 120_000);

    afterAll(async () => {
      await fleet?.stop();
      const admin = new Redis(redisUrl, { maxRetriesPerRequest: null });
      await deleteKeys(admin, prefix).finally(() => admin.quit());
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    for (const { file, steps } of runnable) {
      describe(file, () => {
        // The reader's shell: $KEY as the Quickstart sets it, kept across the README's blocks.
        let shell: ReadmeShell | undefined;
        let substitutions: Substitution[] = [];
        beforeAll(async () => {
          shell = new ReadmeShell(dataDir, gateway?.url ?? '');
          shell.vars.KEY = apiKey;
          substitutions = (await FIXTURES[file]?.({ redisUrl, prefix })) ?? [];
        }, 60_000);
        afterAll(() => shell?.close());

        for (const step of steps) {
          const where = `${file}:${step.line}`;
          const known = KNOWN_CODE_DRIFTS.find(
            (drift) => drift.file === file && drift.command.test(oneLine(step.command)),
          );
          const title = `${where} ${oneLine(step.command).slice(0, 90)}${known ? ' (known code drift)' : ''}`;
          it(title, async () => {
            if (!shell) throw new Error('no shell');
            if (step.kind === 'other') {
              throw new Error(
                `${where}: the README check runs curl, ls and assignments only: ${step.command}`,
              );
            }
            const run = () => (shell as ReadmeShell).run(step, substitute(step.command, substitutions));
            const failed = (result: ShellResult) =>
              `${where}: sh exited ${result.code}: ${result.stderr.trim() || result.stdout.slice(0, 500)}`;
            if (step.kind !== 'curl') {
              const result = await run();
              expect(result.code, failed(result)).toBe(0);
              if (step.kind === 'ls') {
                // `ls .data/outbox   # … an .eml file …`: the directory lists such a file.
                const type = /\s(\.\w+) files?\b/.exec(step.command)?.[1] ?? '';
                const listed = result.stdout.split('\n').filter((name) => name !== '' && name.endsWith(type));
                expect(listed, `${where}: ${step.command} lists no ${type} file`).not.toEqual([]);
              }
              return;
            }
            // A GET may show a state a worker reaches a moment later (a job completed): ask again until then.
            const settleBy = Date.now() + SETTLE_TIMEOUT_MS;
            let result: ShellResult;
            let differences: string[];
            for (;;) {
              result = await run();
              const request = result.requests.at(-1);
              if (result.code !== 0 || !request) throw new Error(failed(result));
              differences = differencesOf(step, request.status, result.stdout);
              if (differences.length === 0 || request.method !== 'GET' || Date.now() >= settleBy) break;
              await delay(200);
            }
            const request = result.requests.at(-1) as ShellResult['requests'][number];
            const answerAt = step.answer ? `${file}:${step.answer.line}` : where;
            const report = [
              `${answerAt}: the answer to ${request.method} ${new URL(request.url).pathname} differs from the README:`,
              ...differences.map((difference) => `  ${difference}`),
              `  got ${request.status} ${result.stdout.slice(0, 2000)}`,
            ].join('\n');
            if (known) {
              expect(
                differences,
                `${report}\n  expected only the known drift (${known.why}); if the code is fixed, remove it from KNOWN_CODE_DRIFTS`,
              ).toEqual(known.differences);
            } else {
              expect(differences, report).toEqual([]);
            }
          });
        }
      });
    }
  },
);
