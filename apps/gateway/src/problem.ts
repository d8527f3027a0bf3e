import { toValidationIssues, type ValidationIssue } from '@jobfleet/queue-contracts';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { problemKindOf, problemTypeOf, RouteNotFoundError, retryAfterOf } from './errors.js';
import { RULE_MESSAGES } from './schemas/common.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The job names of the route's queue, so a problem can list the allowed ones. */
    jobNames?: readonly string[];
  }
}

import { PROBLEM_CONTENT_TYPE, type Problem } from '@jobfleet/service-kit';

// Issues point into the request part, or for an unfit stored payload into the record.
export { PROBLEM_CONTENT_TYPE, type Problem };

type SchemaError = Parameters<typeof toValidationIssues>[0] extends Iterable<infer E> ? E : never;

const pointerEscape = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * ajv errors as client-facing issues, normalised as the worker normalises
 * TypeBox's; ajv's discriminator errors (an unknown, missing or non-string job
 * name, reported at the root) become an issue at `/name` that lists the
 * allowed names.
 */
function validationIssues(
  errors: readonly SchemaError[],
  jobNames: readonly string[] | undefined,
  part: string,
) {
  const allowed = jobNames?.map((n) => `"${n}"`).join(', ');
  const tagIssues: ValidationIssue[] = [];
  const rest: SchemaError[] = [];
  for (const error of errors) {
    if (error.keyword === 'discriminator') {
      const { tag = 'name', tagValue } = error.params as { tag?: string; tagValue?: unknown };
      const path = `${error.instancePath}/${pointerEscape(tag)}`;
      const choices = allowed ? `one of ${allowed}` : 'a known job name';
      tagIssues.push({
        path,
        message: tagValue === undefined ? `is required: ${choices}` : `must be ${choices}`,
      });
    } else {
      // A pattern says nothing to a client; say the rule instead.
      const rule = RULE_MESSAGES.find(
        (r) => r.part === part && r.keyword === error.keyword && r.path.test(error.instancePath),
      );
      rest.push(rule ? { ...error, message: rule.message } : error);
    }
  }
  const tagPaths = new Set(tagIssues.map((issue) => issue.path));
  // The discriminator issue already says the name is missing.
  const others = toValidationIssues(rest).filter((issue) => !tagPaths.has(issue.path));
  return [...tagIssues, ...others];
}

/** The most issues one problem lists: a hostile body must not make an answer of megabytes. */
export const MAX_ISSUES = 2_000;

const PART_NAMES: Record<string, string> = {
  body: 'request body',
  params: 'path',
  querystring: 'query string',
  headers: 'request headers',
};

/** Builds the problem document for an error; server errors keep their details to themselves. */
export function toProblem(error: FastifyError, jobNames?: readonly string[]): Problem {
  const kind = problemKindOf(error);
  const status =
    error.validation !== undefined
      ? 400
      : error.statusCode && error.statusCode >= 400
        ? error.statusCode
        : 500;
  const base = { type: problemTypeOf(kind), title: kind.title, status };
  if (error.validation) {
    const context = error.validationContext ?? 'body';
    const part = PART_NAMES[context] ?? 'request';
    const all = validationIssues(error.validation as SchemaError[], jobNames, context);
    const first = all[0];
    const summary = first ? `: ${first.path || '/'} ${first.message}` : '';
    const more = all.length > MAX_ISSUES ? `; the first ${MAX_ISSUES} are listed` : '';
    return {
      ...base,
      detail: `invalid ${part}${summary}${all.length > 1 ? ` (and ${all.length - 1} more${more})` : ''}`,
      code: 'FST_ERR_VALIDATION',
      errors: all.slice(0, MAX_ISSUES),
    };
  }
  if (status >= 500 && retryAfterOf(error.code) === undefined) {
    // 5xx details stay in the log.
    return { ...base, detail: 'the server could not handle the request', code: 'JOBFLEET_INTERNAL' };
  }
  const problem: Problem = { ...base, detail: error.message, code: error.code ?? 'JOBFLEET_BAD_REQUEST' };
  // Issues that are not the request's (see `withIssues`), e.g. in a stored record.
  const { issues } = error as { issues?: unknown };
  if (Array.isArray(issues)) problem.errors = (issues as ValidationIssue[]).slice(0, MAX_ISSUES);
  return problem;
}

/**
 * Every error and every unknown route answers with `application/problem+json`.
 * Server errors are logged with their details and sent without them.
 */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const problem = toProblem(error, request.routeOptions.config.jobNames);
    const retryAfter = retryAfterOf(problem.code);
    if (retryAfter !== undefined) {
      // The Redis connection logs the outage itself; one line per refused request is enough here.
      request.log.warn(
        { code: problem.code, cause: (error.cause as Error | undefined)?.message },
        problem.detail,
      );
    } else if (problem.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    } else if (problem.status !== 404) {
      request.log.info({ code: problem.code, status: problem.status }, problem.detail);
    }
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
    // Sent as text: the route's response schemas are for its successes, and must not reshape a problem.
    return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    const problem = toProblem(new RouteNotFoundError(request.method, path.slice(0, 256)));
    return reply.code(404).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
  });
}

/**
 * For Fastify's `frameworkErrors` option: errors the router raises before any
 * route or hook runs (a malformed percent-encoding, an over-long path
 * parameter) are problems too.
 */
export function sendFrameworkProblem(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const problem = toProblem(error);
  request.log.info({ code: problem.code, status: problem.status }, problem.detail);
  void reply
    .code(problem.status)
    .header('x-request-id', request.id)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problem));
}
