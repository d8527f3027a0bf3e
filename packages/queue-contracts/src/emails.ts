import { Type } from 'typebox';
import { defineQueue } from './contract.js';
import { Email, HttpUrl, UserId } from './primitives.js';

export const WelcomeData = Type.Object(
  {
    userId: UserId,
    to: Email,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const PasswordResetData = Type.Object(
  {
    userId: UserId,
    to: Email,
    resetUrl: HttpUrl,
    expiresInMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_080 })),
  },
  { additionalProperties: false },
);

export const NotificationData = Type.Object(
  {
    to: Email,
    subject: Type.String({ minLength: 1, maxLength: 250 }),
    text: Type.String({ minLength: 1, maxLength: 100_000 }),
    html: Type.Optional(Type.String({ minLength: 1, maxLength: 200_000 })),
  },
  { additionalProperties: false },
);

export const EmailResult = Type.Object(
  {
    messageId: Type.String({ maxLength: 998 }),
    transport: Type.Union([Type.Literal('outbox'), Type.Literal('smtp')]),
  },
  { additionalProperties: false },
);

export const emails = defineQueue({
  name: 'emails',
  team: 'messaging',
  description: 'Transactional e-mail, rendered from templates and delivered by the email worker.',
  jobs: {
    welcome: {
      description: 'Greets a user who just signed up.',
      data: WelcomeData,
      result: EmailResult,
      example: { userId: 123, to: 'ada@example.com', name: 'Ada' },
    },
    'password-reset': {
      description: 'Sends a password-reset link.',
      data: PasswordResetData,
      result: EmailResult,
      example: {
        userId: 'u-1',
        to: 'ada@example.com',
        resetUrl: 'https://example.com/reset?t=1',
        expiresInMinutes: 30,
      },
    },
    notification: {
      description: "Sends the caller's subject and text (and optional HTML).",
      data: NotificationData,
      result: EmailResult,
      example: { to: 'ada@example.com', subject: 'Hi', text: 'Hello', html: '<p>Hello</p>' },
    },
  },
  defaultJobOptions: {
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 24 * 3_600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3_600, count: 10_000 },
  },
});
