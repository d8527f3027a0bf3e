import type { Logger } from '@jobfleet/service-kit';
import fp from 'fastify-plugin';
import { JobEvents } from '../job-events.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The queues' event streams, shared by the requests waiting for a job. */
    jobEvents: JobEvents;
  }
}

/**
 * `app.jobEvents`, on duplicates of `app.redis`. Closed before the server
 * stops taking connections (`preClose`): waiting requests answer and event
 * streams end, instead of holding the close up.
 */
export const jobEventsPlugin = fp<{ prefix: string; logger: Logger }>(
  async (app, { prefix, logger }) => {
    const jobEvents = new JobEvents(app.redis, prefix, logger);
    app.decorate('jobEvents', jobEvents);
    app.addHook('preClose', () => jobEvents.close());
  },
  { name: 'jobfleet-job-events', dependencies: ['jobfleet-redis'] },
);
