import type { TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import { findJob, type QueueContract } from './contract.js';
import { registerFormats } from './formats.js';

/** One reason a value does not fit its schema. `path` is a JSON pointer into the value. */
export interface ValidationIssue {
  path: string;
  message: string;
}

export type ValidationResult = { ok: true } | { ok: false; issues: ValidationIssue[] };

registerFormats();

const compiled = new WeakMap<TSchema, Validator>();

function validatorFor(schema: TSchema): Validator {
  let validator = compiled.get(schema);
  if (!validator) {
    validator = Compile(schema);
    compiled.set(schema, validator);
  }
  return validator;
}

/** Checks a value against a schema with TypeBox's compiled validator. */
export function validate(schema: TSchema, value: unknown): ValidationResult {
  const validator = validatorFor(schema);
  if (validator.Check(value)) return { ok: true };
  return { ok: false, issues: toValidationIssues(validator.Errors(value)) };
}

/** The shape shared by ajv's and TypeBox's error objects. */
export interface SchemaError {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: object;
  message?: string | undefined;
}

const pointerEscape = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * Turns ajv or TypeBox errors into the same issues, so the gateway and the
 * worker report a bad payload identically: an unknown or a missing property is
 * named by its own path, and duplicates are dropped.
 */
export function toValidationIssues(errors: Iterable<SchemaError>): ValidationIssue[] {
  const issues = new Map<string, ValidationIssue>();
  const add = (path: string, message: string) => issues.set(`${path}\u0000${message}`, { path, message });
  for (const error of errors) {
    if (error.keyword === 'additionalProperties') {
      const params = error.params as { additionalProperty?: string; additionalProperties?: string[] };
      const names =
        params.additionalProperties ?? (params.additionalProperty ? [params.additionalProperty] : []);
      for (const name of names)
        add(`${error.instancePath}/${pointerEscape(name)}`, 'is not an allowed property');
      continue;
    }
    if (error.keyword === 'required') {
      // ajv names one missing property per error, TypeBox all of them in one; both are reported at the property.
      const params = error.params as { missingProperty?: string; requiredProperties?: string[] };
      const names = params.requiredProperties ?? (params.missingProperty ? [params.missingProperty] : []);
      for (const name of names) add(`${error.instancePath}/${pointerEscape(name)}`, 'is required');
      continue;
    }
    // TypeBox reports each unknown property a second time as "schema is false".
    if (error.keyword === 'boolean' && error.schemaPath.endsWith('/additionalProperties')) continue;
    add(error.instancePath, error.message ?? error.keyword);
  }
  return [...issues.values()];
}

/** Checks a job's payload against its contract; an unknown job name is an issue at the root. */
export function validateJobData(contract: QueueContract, name: string, data: unknown): ValidationResult {
  const job = findJob(contract, name);
  if (!job) {
    return {
      ok: false,
      issues: [{ path: '', message: `queue "${contract.name}" has no job named "${name}"` }],
    };
  }
  return validate(job.data, data);
}
