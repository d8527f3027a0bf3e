import { DURATION_BUCKETS, perRegistry } from '@jobfleet/service-kit';
import { Counter, Gauge, Histogram } from 'prom-client';

export type Outcome = 'completed' | 'retried' | 'dead_lettered' | 'cancelled';

export interface WorkerMetrics {
  processed: Counter<'queue' | 'job_name' | 'outcome'>;
  duration: Histogram<'queue' | 'job_name' | 'outcome'>;
  wait: Histogram<'queue' | 'job_name'>;
  stalled: Counter<'queue'>;
  active: Gauge<'queue'>;
  /**
   * Run before `processed` and `active` are read: each runtime counts jobs in
   * plain numbers and hands them over here, since prom-client hashes the
   * labels on every `inc` (bound children too), which is on every job's path.
   */
  beforeCollect: Set<() => void>;
}

const WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600];

/** The core worker metrics of the architecture, registered once per registry. */
export const workerMetrics = perRegistry((registers): WorkerMetrics => {
  const beforeCollect = new Set<() => void>();
  const collect = () => {
    for (const flush of beforeCollect) flush();
  };
  return {
    beforeCollect,
    processed: new Counter({
      name: 'jobfleet_jobs_processed_total',
      help: 'Job attempts finished, by outcome.',
      labelNames: ['queue', 'job_name', 'outcome'],
      registers,
      collect,
    }),
    duration: new Histogram({
      name: 'jobfleet_job_duration_seconds',
      help: 'Run time of one job attempt.',
      labelNames: ['queue', 'job_name', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    wait: new Histogram({
      name: 'jobfleet_job_wait_seconds',
      help: "Time from a job's first becoming ready to run to the start of its first attempt.",
      labelNames: ['queue', 'job_name'],
      buckets: WAIT_BUCKETS,
      registers,
    }),
    stalled: new Counter({
      name: 'jobfleet_jobs_stalled_total',
      help: 'Jobs found stalled (their worker lost the lock) and moved back to wait.',
      labelNames: ['queue'],
      registers,
    }),
    active: new Gauge({
      name: 'jobfleet_worker_active_jobs',
      help: 'Jobs this worker process is running now.',
      labelNames: ['queue'],
      registers,
      collect,
    }),
  };
});
