import { PassThrough } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { authorizeQueue } from '../auth.js';
import { JobNotFoundError } from '../errors.js';
import { FINISHED_STATES } from '../job-state.js';
import { type JobSnapshot, watchJob } from '../job-wait.js';
import { errorResponses } from '../openapi.js';
import { usingRedis } from '../redis-availability.js';
import { JobParams } from '../schemas/jobs.js';
import { jobReader, toJobStatus, waitSignal } from './job-status.js';

/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

const EVENTS_DESCRIPTION = `Server-Sent Events: \`state\` with the job's status (as \`GET /v1/queues/{queue}/jobs/{id}\` shows it) at once and after every change of state, \`progress\` with \`{ progress }\` when the worker reports some, and finally one of \`completed\`, \`failed\` (for good, no retry left) or \`cancelled\` with the final status — or \`removed\` with \`{ id, queue }\` when the job was removed — after which the server closes the stream. Same scopes and tenant rules as getting the job.`;

/**
 * `GET /v1/queues/:queue/jobs/:id/events`: an SSE stream of one job's
 * progress and state, closed after its final state. Driven by the queue's
 * shared event stream; a client that goes away releases its subscription.
 */
export const jobEventRoutes: FastifyPluginAsync = async (app) => {
  const { auth, redis, checkRateLimit: rateLimit, jobEvents } = app;
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/v1/queues/:queue/jobs/:id/events',
    {
      schema: {
        tags: ['jobs'],
        summary: "Follow a job's progress and state",
        description: EVENTS_DESCRIPTION,
        params: JobParams,
        response: {
          200: {
            description: 'The event stream.',
            content: { 'text/event-stream': { schema: Type.String() } },
          },
          ...errorResponses(401, 403, 404, 429, 503),
        },
      },
      onRequest: [authorizeQueue(auth, 'read'), rateLimit],
    },
    async (request, reply) => {
      const { queue: name, id } = request.params;
      const read = jobReader(app, request, name, id);
      const wait = waitSignal(reply, jobEvents.closing);
      let stream: PassThrough | undefined;
      let first: (snapshot: JobSnapshot | undefined) => void = () => {};
      const opened = new Promise<JobSnapshot | undefined>((resolve) => {
        first = resolve;
      });

      const send = (text: string) => {
        if (stream && !stream.destroyed) stream.write(text);
      };
      const watching = usingRedis(redis, () =>
        watchJob({
          events: jobEvents,
          queue: name,
          id,
          read,
          signal: wait.signal,
          onUpdate: (update) => {
            if (!stream) {
              // The first snapshot decides between a 404 and a stream.
              if (update.kind !== 'state') return;
              first(update.snapshot);
              if (!update.snapshot) return;
              stream = new PassThrough();
            }
            if (update.kind === 'progress') {
              send(frame('progress', { progress: update.progress }));
            } else if (!update.snapshot) {
              send(frame('removed', { id, queue: name }));
            } else {
              const { job, state } = update.snapshot;
              send(frame(FINISHED_STATES.has(state) ? state : 'state', toJobStatus(job, name, state)));
            }
          },
        }),
      );
      // A failure before the first snapshot is the request's error (503); after it, the stream just ends.
      const settled = watching.then(
        () => undefined,
        (error: unknown) => error,
      );
      const snapshot = await Promise.race([opened, settled.then((error) => Promise.reject(error))]).catch(
        (error: unknown) => {
          wait.dispose();
          throw error;
        },
      );
      if (!snapshot || !stream) {
        wait.dispose();
        await settled;
        throw new JobNotFoundError(name, id);
      }
      const keepAlive = setInterval(() => send(': keep-alive\n\n'), KEEP_ALIVE_MS);
      void settled.then((error) => {
        clearInterval(keepAlive);
        wait.dispose();
        if (error) request.log.warn({ err: error, queue: name, job_id: id }, 'job event stream ended early');
        stream?.end();
      });
      reply.raw.once('close', () => stream?.destroy());
      // Typed as a plain reply: the stream is no body the response schema could describe.
      return (reply as FastifyReply)
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache')
        .header('x-accel-buffering', 'no')
        .send(stream);
    },
  );
};
