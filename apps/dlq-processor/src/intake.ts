import { DEAD_LETTER_JOB, deadLetters, defineQueue } from '@jobfleet/queue-contracts';
import { Type } from 'typebox';

/**
 * The `dead-letters` contract as this processor consumes it: the same queue,
 * job name, result, default options and so the same metric labels, except that
 * the worker runtime does not validate the payload against `DeadLetterRecord`.
 *
 * Why: a record that breaks the schema is still a final failure somebody has to
 * see. A producer that bypasses the gateway may use a job name or id longer
 * than the schema allows, and during a rolling upgrade a newer writer may add a
 * field that `additionalProperties: false` refuses. The runtime would fail such
 * a record before the handler runs, and — since its job exists — reconciliation
 * would never write it again: it would be lost from every list. The indexer
 * checks only what indexing needs and logs the rest (see `createIndexer`).
 */
export const deadLetterIntake = defineQueue({
  ...deadLetters,
  jobs: {
    [DEAD_LETTER_JOB]: { ...deadLetters.jobs[DEAD_LETTER_JOB], data: Type.Unknown() },
  },
});
