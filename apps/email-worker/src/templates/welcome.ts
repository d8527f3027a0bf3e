import type { emails, JobData } from '@jobfleet/queue-contracts';
import { html, httpUrl } from './html.js';
import { layout, signature } from './layout.js';
import { singleLine } from './text.js';
import type { Brand, RenderedEmail } from './types.js';

/** Greets a new user; links to the product when `brand.appUrl` is set. */
export function renderWelcome(data: JobData<typeof emails, 'welcome'>, brand: Brand): RenderedEmail {
  const appName = singleLine(brand.appName);
  const name = data.name === undefined ? '' : singleLine(data.name);
  const greeting = name ? `Hi ${name},` : 'Hi,';
  const subject = singleLine(`Welcome to ${appName}`);
  const url = brand.appUrl === undefined ? undefined : httpUrl(brand.appUrl);
  const sign = signature(appName);

  const text = [
    greeting,
    `Welcome to ${appName}! Your account is ready.`,
    ...(url ? [`Get started: ${url}`] : []),
    sign.text,
  ].join('\n\n');

  const body = [
    html`<p>${greeting}</p>\n`,
    html`<p>Welcome to ${appName}! Your account is ready.</p>\n`,
    ...(url ? [html`<p><a href="${url}">Get started with ${appName}</a></p>\n`] : []),
    sign.html,
  ];
  return { subject, html: layout(subject, body), text: `${text}\n` };
}
