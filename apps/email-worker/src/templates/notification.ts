import type { emails, JobData } from '@jobfleet/queue-contracts';
import { paragraphs } from './html.js';
import { layout } from './layout.js';
import { singleLine } from './text.js';
import type { RenderedEmail } from './types.js';

/**
 * The caller's subject and text. The HTML part is the escaped text, not the
 * caller's `html`: sending caller markup needs a real sanitiser (script, event
 * attributes, `javascript:` links, CSS), which comes later.
 */
export function renderNotification(data: JobData<typeof emails, 'notification'>): RenderedEmail {
  const subject = singleLine(data.subject);
  const text = data.text.replace(/\r\n?/g, '\n');
  return { subject, html: layout(subject, paragraphs(text)), text: text.endsWith('\n') ? text : `${text}\n` };
}
