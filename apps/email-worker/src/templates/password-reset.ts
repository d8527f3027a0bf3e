import type { emails, JobData } from '@jobfleet/queue-contracts';
import { html, httpUrl } from './html.js';
import { layout, signature } from './layout.js';
import { formatMinutes, singleLine } from './text.js';
import type { Brand, RenderedEmail } from './types.js';

/**
 * The reset link, as a button-like link and as plain text to copy. Without
 * `expiresInMinutes` the message says the link expires, not when: the worker
 * does not know the producer's policy.
 */
export function renderPasswordReset(
  data: JobData<typeof emails, 'password-reset'>,
  brand: Brand,
): RenderedEmail {
  const appName = singleLine(brand.appName);
  const subject = singleLine(`Reset your ${appName} password`);
  const url = httpUrl(data.resetUrl);
  const expiry =
    data.expiresInMinutes === undefined
      ? 'The link works for a limited time only.'
      : `The link expires in ${formatMinutes(data.expiresInMinutes)}.`;
  const intro = `Someone asked to reset the password of your ${appName} account. To choose a new password, open this link:`;
  const ignore = 'If you did not ask for this, ignore this e-mail: your password stays as it is.';
  const sign = signature(appName);

  const text = ['Hi,', intro, url, expiry, ignore, sign.text].join('\n\n');

  const body = [
    html`<p>Hi,</p>\n`,
    html`<p>${intro}</p>\n`,
    html`<p><a href="${url}" style="display:inline-block;padding:10px 16px;border-radius:6px;background:#1f6feb;color:#ffffff;text-decoration:none">Choose a new password</a></p>\n`,
    html`<p style="font-size:14px;color:#59636e">Or copy this address into your browser: ${url}</p>\n`,
    html`<p>${expiry}</p>\n`,
    html`<p>${ignore}</p>\n`,
    sign.html,
  ];
  return { subject, html: layout(subject, body), text: `${text}\n` };
}
