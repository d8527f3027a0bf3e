#!/usr/bin/env node
// pnpm new-worker <queue> --job <name> [--job <name> …] [--team <team>]
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import nodePlop from 'node-plop';
import { generateWorker, NewWorkerError, problemsWith } from './generate.js';

const USAGE = 'usage: pnpm new-worker <queue> --job <name> [--job <name> …] [--team <team>]';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const say = (line: string) => process.stdout.write(`${line}\n`);

function fail(message: string): never {
  process.stderr.write(`new-worker: ${message.split('\n').join('\nnew-worker: ')}\n`);
  process.exit(1);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      job: { type: 'string', short: 'j', multiple: true },
      team: { type: 'string', short: 't' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
try {
  // pnpm passes a `--` through when the user writes one.
  parsed = parse();
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`);
}
if (parsed.values.help) {
  say(USAGE);
  process.exit(0);
}
const positionals = parsed.positionals.filter((arg) => arg !== '--');
if (positionals.length > 1) fail(`one queue at a time (got ${positionals.join(', ')})\n${USAGE}`);
let queue = positionals[0];
let jobs = (parsed.values.job ?? [])
  .flatMap((job) => job.split(','))
  .map((job) => job.trim())
  .filter(Boolean);
let team = parsed.values.team;

// Missing arguments are asked for on a terminal; a script gets the usage instead of a hung prompt.
if (queue === undefined || jobs.length === 0) {
  if (!process.stdin.isTTY) fail(`name the queue and at least one job\n${USAGE}`);
  const plop = await nodePlop();
  plop.setGenerator('ask', {
    description: 'the new queue',
    prompts: [
      { type: 'input', name: 'queue', message: 'queue name (kebab-case, e.g. thumbnails)' },
      { type: 'input', name: 'jobs', message: 'job names, comma-separated (e.g. resize,crop)' },
      {
        type: 'input',
        name: 'team',
        message: 'owning team',
        default: (answers: { queue: string }) => answers.queue,
      },
    ],
    actions: [],
  });
  const answers = (await plop
    .getGenerator('ask')
    .runPrompts([queue ?? '_', jobs.length > 0 ? jobs.join(',') : '_', team ?? '_'])) as Record<
    string,
    string
  >;
  queue = answers.queue?.trim() ?? '';
  jobs = (answers.jobs ?? '')
    .split(',')
    .map((job) => job.trim())
    .filter(Boolean);
  team = answers.team?.trim() || queue;
}
// A team named after its queue until the owner says otherwise (--team).
const request = { queue, jobs, team: team ?? queue };
const problems = problemsWith(root, request);
if (problems.length > 0) fail(problems.join('\n'));

say(`new-worker: queue "${request.queue}" (jobs ${request.jobs.join(', ')}; team ${request.team})`);
try {
  const generated = await generateWorker(request, { root, finish: true, log: say });
  say('');
  say(
    `Done. ${generated.app} works the "${request.queue}" queue; metrics and health on port ${generated.port}.`,
  );
  say('Next:');
  say(`  1. edit the payload and result schemas in packages/queue-contracts/src/${request.queue}.ts`);
  say(`  2. write the handlers in apps/${generated.app}/src/handlers.ts`);
  say(`  3. pnpm build && pnpm --filter @jobfleet/${generated.app} test`);
  say(`  4. pnpm start runs it with the fleet; POST /v1/queues/${request.queue}/jobs posts to it`);
} catch (error) {
  if (error instanceof NewWorkerError) fail(error.message);
  throw error;
}
