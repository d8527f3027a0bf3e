import type { QueueContract } from '@jobfleet/queue-contracts';
import { type TSchema, Type } from 'typebox';

/**
 * BullMQ's rules for a custom job id, said so a client can act on them. BullMQ
 * builds its Redis keys from ids (so no `:`) and tells its own numeric ids from
 * custom ones by their form (so no integer).
 */
export const JOB_ID_RULE =
  'must be 1 to 256 printable ASCII characters, contain no ":" and not be an integer (BullMQ keeps those for its own ids); to make a retried request safe with any key, send an Idempotency-Key header instead';

/** The pattern behind {@link JOB_ID_RULE}: printable ASCII without `:`, and not `0` or `-?[1-9][0-9]*`. */
export const JOB_ID_PATTERN = '^(?!(?:0|-?[1-9][0-9]*)$)[\\x21-\\x39\\x3B-\\x7E]{1,256}$';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

export const IDEMPOTENCY_KEY_RULE = 'must be 1 to 255 printable ASCII characters';

/** Friendly messages for schema failures whose raw ajv message ("must match pattern …") would not help. */
export const RULE_MESSAGES: readonly { part: string; path: RegExp; keyword: string; message: string }[] = [
  { part: 'body', path: /\/options\/jobId$/, keyword: 'pattern', message: JOB_ID_RULE },
  { part: 'body', path: /\/options\/jobId$/, keyword: 'maxLength', message: JOB_ID_RULE },
  { part: 'headers', path: /^\/idempotency-key$/, keyword: 'pattern', message: IDEMPOTENCY_KEY_RULE },
  {
    part: 'params',
    path: /^\/scheduleId$/,
    keyword: 'pattern',
    message: 'must be 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit',
  },
];

export const QueueName = Type.String({ maxLength: 128, description: 'A catalog queue, e.g. `emails`.' });

export const QueueParams = Type.Object({ queue: QueueName });

/** A date and time, as JSON carries it. */
export const Timestamp = Type.String({ format: 'date-time' });

/**
 * `{ oneOf: [one branch per job of the contract] }`, discriminated by `name`:
 * each branch embeds the contract's own payload schema, so the gateway and the
 * worker check a payload against the same schema. The `discriminator` makes ajv
 * pick the branch by `name` and report only that branch's errors.
 */
export function byJobName<T>(contract: QueueContract, fields: (data: TSchema) => Record<string, TSchema>) {
  const branches = Object.entries(contract.jobs).map(([name, job]) =>
    Type.Object(
      { name: Type.Literal(name), ...fields(job.data) },
      { additionalProperties: false, title: `${contract.name}/${name}`, description: job.description },
    ),
  );
  return Type.Unsafe<T>({
    type: 'object',
    required: ['name'],
    discriminator: { propertyName: 'name' },
    oneOf: branches,
  });
}

/** An RFC 9457 problem, as every error is sent (for the OpenAPI document). */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ format: 'uri' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'A stable error code, e.g. `JOBFLEET_UNKNOWN_QUEUE`.' }),
    errors: Type.Optional(
      Type.Array(
        Type.Object(
          {
            path: Type.String({ description: 'JSON pointer into the request part that failed.' }),
            message: Type.String(),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false, title: 'Problem' },
);
