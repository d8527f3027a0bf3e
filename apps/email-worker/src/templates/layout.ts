import { html, type SafeHtml } from './html.js';

/**
 * The HTML document around a message body. Styles are inline because many
 * mail clients drop `<style>` blocks.
 */
export function layout(title: string, body: SafeHtml | readonly SafeHtml[]): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
</head>
<body style="margin:0;padding:24px;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#1f2328;background:#ffffff">
${body}</body>
</html>
`.value;
}

/** The signature under every product e-mail, as HTML and as text. */
export function signature(appName: string): { html: SafeHtml; text: string } {
  return {
    html: html`<p style="color:#59636e">— The ${appName} team</p>\n`,
    text: `— The ${appName} team`,
  };
}
