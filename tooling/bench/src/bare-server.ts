/**
 * The floor the gateway is measured against: a bare Fastify server that takes
 * one job as a JSON body, adds it with `queue.add` and answers 202, or a batch
 * (`{ jobs: [{ name, data }] }`) and adds it with `queue.addBulk` — no auth,
 * no validation, no rate limit, no idempotency, no metrics, no log. Started by
 * the gateway bench as its own process, like the gateway, with the Redis
 * topology's keys (REDIS_URL, or REDIS_CLUSTER_NODES / REDIS_SENTINELS …),
 * JOBFLEET_PREFIX and PORT; `GET /health/ready` says when it is up.
 */
import { emails } from '@jobfleet/queue-contracts';
import { commonConfig, loadConfigOrExit } from '@jobfleet/service-kit';
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { redisTargetFromEnv } from './redis-target.js';

const { PORT = '0' } = process.env;
const { jobfleetPrefix } = loadConfigOrExit(commonConfig);
const target = redisTargetFromEnv();

// The producer flavour of connection the gateway opens and its queue's prefix. Without the gateway's
// write coalescing (one write per turn): that is the gateway's own work, so here each add is a write.
const connection = target.connect('producer', 'bench-bare');
const queue = new Queue(emails.name, {
  connection,
  prefix: target.prefix(connection, jobfleetPrefix, emails.name),
});
const app = Fastify();

app.get('/health/ready', async (_request, reply) =>
  connection.status === 'ready' ? { status: 'ok' } : reply.code(503).send({ status: connection.status }),
);

app.post('/v1/queues/emails/jobs', async (request, reply) => {
  const { name, data } = request.body as { name: string; data: unknown };
  const job = await queue.add(name, data, emails.defaultJobOptions);
  reply.code(202);
  return { id: String(job.id), queue: emails.name, name, duplicate: false };
});

app.post('/v1/queues/emails/jobs/batch', async (request, reply) => {
  const { jobs } = request.body as { jobs: { name: string; data: unknown }[] };
  const added = await queue.addBulk(
    jobs.map(({ name, data }) => ({ name, data, opts: emails.defaultJobOptions })),
  );
  reply.code(202);
  return { jobs: added.map((job) => ({ id: String(job.id), name: job.name, duplicate: false })) };
});

process.once('SIGTERM', () => {
  void app
    .close()
    .then(() => queue.close())
    .finally(() => connection.disconnect());
});

await app.listen({ port: Number(PORT), host: '127.0.0.1' });
