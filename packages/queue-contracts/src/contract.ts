import type { Static, TSchema } from 'typebox';

/** Retention for finished jobs: BullMQ's `KeepJobs`, restated so contracts need no BullMQ. */
export interface KeepJobs {
  /** Seconds a finished job is kept. */
  age: number;
  /** How many finished jobs are kept at most. */
  count: number;
}

/** The job options a contract may default; a subset of BullMQ's `DefaultJobOptions`. */
export interface ContractJobOptions {
  attempts: number;
  backoff: { type: 'fixed' | 'exponential'; delay: number; jitter?: number };
  removeOnComplete: KeepJobs;
  removeOnFail: KeepJobs;
}

/** One job type: the schema of its payload and of its result. */
export interface JobDefinition<Data extends TSchema = TSchema, Result extends TSchema = TSchema> {
  readonly description: string;
  readonly data: Data;
  readonly result: Result;
  /**
   * A valid payload: the tests check both ends accept it, and docs show it.
   * Every catalog job has one.
   */
  readonly example?: Static<Data>;
}

/** One queue: its name, its job types, and the options every job gets unless told otherwise. */
export interface QueueContract<
  Name extends string = string,
  Jobs extends Record<string, JobDefinition> = Record<string, JobDefinition>,
> {
  readonly name: Name;
  readonly description: string;
  /**
   * The team that owns the queue and its worker: the `team` label of
   * `jobfleet_queue_info`, which routes the queue's alerts to that team.
   */
  readonly team: string;
  readonly jobs: Jobs;
  readonly defaultJobOptions: ContractJobOptions;
}

/** Declares a queue contract, keeping its literal names for the derived types. */
export function defineQueue<const Name extends string, const Jobs extends Record<string, JobDefinition>>(
  contract: QueueContract<Name, Jobs>,
): QueueContract<Name, Jobs> {
  return Object.freeze(contract);
}

/** The job names of a queue. */
export type JobName<Q extends QueueContract> = Extract<keyof Q['jobs'], string>;

/** The payload type of one job, derived from its schema. */
export type JobData<Q extends QueueContract, N extends JobName<Q>> = Static<Q['jobs'][N]['data']>;

/** The result type of one job, derived from its schema. */
export type JobResult<Q extends QueueContract, N extends JobName<Q>> = Static<Q['jobs'][N]['result']>;

/** Looks a job definition up by name; `undefined` for names the contract does not know. */
export function findJob(contract: QueueContract, name: string): JobDefinition | undefined {
  return Object.hasOwn(contract.jobs, name) ? contract.jobs[name] : undefined;
}
