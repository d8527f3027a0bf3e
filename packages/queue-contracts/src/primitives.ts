import { Type } from 'typebox';

/** An e-mail address; 254 is the longest address SMTP can carry. */
export const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254 });

/** An absolute http(s) URL: other schemes (javascript:, data:) have no place in an e-mail link. */
export const HttpUrl = Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2_048 });

/** A user id as the producing service knows it: a non-negative integer or an opaque string. */
export const UserId = Type.Union([
  Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  Type.String({ minLength: 1, maxLength: 128 }),
]);

/** A tenant id: lower-case letters, digits, `-` and `_`. */
export const TenantId = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$', minLength: 1, maxLength: 64 });
