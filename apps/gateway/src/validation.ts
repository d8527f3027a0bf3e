import { addFormatsToAjv, ajvOptions } from '@jobfleet/queue-contracts';
import { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';

/**
 * The ajv of each request part. Bodies, paths and headers are judged as the
 * worker's TypeBox checks judge payloads: no coercion, no stripping, the
 * contract's formats. A query string is text by nature, so its numbers and
 * booleans are coerced: the schema (and the OpenAPI document) can then say
 * `integer`, which a generated client sends as a number.
 */
function createValidators() {
  // Compiled schemas are kept by the route, not in ajv's registry (as Fastify's own compiler does).
  const strict = addFormatsToAjv(new Ajv({ ...ajvOptions, addUsedSchema: false }));
  const query = addFormatsToAjv(new Ajv({ ...ajvOptions, coerceTypes: true, addUsedSchema: false }));
  return (httpPart: string | undefined) => (httpPart === 'querystring' ? query : strict);
}

/** Installs the per-part validators on `app` and everything registered in it. */
export function installValidators(app: FastifyInstance): void {
  const ajvFor = createValidators();
  app.setValidatorCompiler(({ schema, httpPart }) => ajvFor(httpPart).compile(schema));
}
