import type { Principal } from './auth-mode.js';
import { html, type SafeHtml } from './html.js';
import { BOARD_PATH } from './paths.js';

export interface LayoutOptions {
  title: string;
  body: SafeHtml;
  /** Shown in the header with a log-out link; omitted on the login page. */
  principal?: Principal | undefined;
  /** When set, browsers without JavaScript reload the page this often. */
  refreshMs?: number | undefined;
  /** `DASHBOARD_AUTH=disabled`: a red strip says so on every page. */
  authDisabled?: boolean;
  scripts?: readonly string[];
}

/** A whole HTML document in the dashboard's look. */
export function layout(options: LayoutOptions): string {
  const { title, body, principal, refreshMs, authDisabled = false, scripts = [] } = options;
  const header = principal
    ? html`<header class="topbar">
        <a class="brand" href="/">jobfleet</a>
        <nav>
          <a href="/">Overview</a>
          <a href="${BOARD_PATH}">Queues</a>
        </nav>
        <span class="who">
          <span>${principal.username}</span>
          <span class="role role-${principal.role}">${principal.role === 'admin' ? 'admin' : 'viewer · read-only'}</span>
          ${authDisabled ? '' : html`<a href="/logout">Log out</a>`}
        </span>
      </header>`
    : html``;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title} · jobfleet</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/dashboard.css">
${refreshMs ? html`<noscript><meta http-equiv="refresh" content="${Math.ceil(refreshMs / 1_000)}"></noscript>` : ''}
${scripts.map((src) => html`<script src="${src}" defer></script>`)}
</head>
<body>
${authDisabled ? html`<div class="auth-off" role="alert">Authentication is disabled (DASHBOARD_AUTH=disabled): anyone who can reach this page is an admin.</div>` : ''}
${header}
${body}
</body>
</html>
`.value;
}

export interface LoginPageOptions {
  next: string;
  error?: string | undefined;
  username?: string | undefined;
}

/** The login form. */
export function loginPage({ next, error, username }: LoginPageOptions): string {
  return layout({
    title: 'Log in',
    body: html`<main class="login">
  <form class="card" method="post" action="/login">
    <h1>jobfleet dashboard</h1>
    ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
    <label>Username <input name="username" autocomplete="username" required autofocus value="${username ?? ''}"></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
    <input type="hidden" name="next" value="${next}">
    <button type="submit">Log in</button>
  </form>
</main>`,
  });
}

/** Confirms a logout; the form POSTs, so another site cannot log anyone out with a link. */
export function logoutPage(principal: Principal): string {
  return layout({
    title: 'Log out',
    principal,
    body: html`<main class="login">
  <form class="card" method="post" action="/logout">
    <h1>Log out ${principal.username}?</h1>
    <button type="submit">Log out</button>
    <p><a href="/">Back to the overview</a></p>
  </form>
</main>`,
  });
}

/** Where a login may send the browser afterwards: a path on this site, never another origin. */
export function safeNext(value: unknown): string {
  if (typeof value !== 'string' || value.length > 2_000) return '/';
  // `//host` and `/\host` are protocol-relative URLs to another site.
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  // Control characters (a tab or newline in `/\t/host` is dropped by browsers, making it `//host`).
  if ([...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return '/';
  return value;
}
