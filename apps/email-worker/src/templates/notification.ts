import type { emails, JobData } from '@jobfleet/queue-contracts';
import { paragraphs } from './html.js';
import { layout } from './layout.js';
import { sanitizeCallerHtml } from './sanitize.js';
import { singleLine } from './text.js';
import type { RenderedEmail } from './types.js';

/**
 * The caller's subject and text. The HTML part is the caller's `html` after
 * sanitising (see `sanitizeCallerHtml`), inside our layout; without `html`, or
 * when nothing of it survives, it is the escaped text.
 */
export function renderNotification(data: JobData<typeof emails, 'notification'>): RenderedEmail {
  const subject = singleLine(data.subject);
  const text = data.text.replace(/\r\n?/g, '\n');
  const sanitized = data.html === undefined ? undefined : sanitizeCallerHtml(data.html);
  const body = sanitized?.value ? [sanitized] : paragraphs(text);
  return { subject, html: layout(subject, body), text: text.endsWith('\n') ? text : `${text}\n` };
}
