import { Format } from 'typebox/format';

/**
 * The string formats the contracts use, as plain predicates.
 *
 * TypeBox (worker side) and Fastify's ajv (gateway side) are both given exactly
 * these functions, so a payload that passes at one end passes at the other.
 */
export const formats = {
  email: Format.IsEmail,
  uri: Format.IsUri,
  date: Format.IsDate,
  'date-time': Format.IsDateTime,
} as const satisfies Record<string, (value: string) => boolean>;

export type FormatName = keyof typeof formats;

/** Installs {@link formats} into TypeBox's format registry (idempotent). */
export function registerFormats(): void {
  for (const [name, check] of Object.entries(formats)) Format.Set(name, check);
}

/** Adds {@link formats} to an ajv instance; pass it as an ajv plugin. */
export function addFormatsToAjv<
  A extends { addFormat(name: string, format: (value: string) => boolean): unknown },
>(ajv: A): A {
  for (const [name, check] of Object.entries(formats)) ajv.addFormat(name, check);
  return ajv;
}

/**
 * ajv options under which ajv judges payloads exactly as TypeBox does: no type
 * coercion, no silent removal of unknown properties, no defaults filled in.
 * Fastify's defaults coerce and strip, so the gateway must use these.
 */
export const ajvOptions = {
  allErrors: true,
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: false,
  discriminator: true,
} as const;
