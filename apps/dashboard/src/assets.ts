import type { FastifyInstance } from 'fastify';

/** The dashboard's own pages' style sheet (bull-board brings its own). */
export const DASHBOARD_CSS = `
:root {
  --fg: #1c2430; --muted: #5d6b7e; --line: #dde3ea; --bg: #f5f7fa; --card: #fff;
  --good: #1f7a3a; --bad: #b3261e; --warn: #9a5b00; --accent: #1f5fbf;
  --completed: #2e8b57; --failed: #d23c32;
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
.topbar { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #18202b; color: #e8edf3; }
.topbar a { color: #e8edf3; text-decoration: none; }
.topbar a:hover { text-decoration: underline; }
.brand { font-weight: 700; font-size: 17px; letter-spacing: .02em; }
.topbar nav { display: flex; gap: 18px; }
.who { margin-left: auto; display: flex; gap: 12px; align-items: center; }
.role { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #34475e; }
.role-admin { background: #7a3b00; }
.auth-off { background: var(--bad); color: #fff; padding: 8px 24px; font-weight: 600; }
main { padding: 20px 24px 32px; max-width: 1500px; }
.heading { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
h1 { font-size: 22px; margin: 0 0 12px; }
.updated { color: var(--muted); margin: 0; }
.tiles { display: flex; gap: 12px; flex-wrap: wrap; margin: 4px 0 16px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 150px; }
.tile-value { display: block; font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
.tile-label { color: var(--muted); font-size: 13px; }
.tile.bad .tile-value { color: var(--bad); }
.tile.good .tile-value { color: var(--good); }
.tile.warn .tile-value { color: var(--warn); }
.banner { padding: 10px 14px; border-radius: 6px; margin: 0 0 14px; }
.banner.error { background: #fde8e7; border: 1px solid #f2b8b5; color: #7d1a14; font-weight: 500; }
.banner.warn { background: #fff4e0; border: 1px solid #f0cf94; color: #6b3f00; }
.table-wrap { overflow-x: auto; }
table.queues { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
table.queues.stale { opacity: .55; }
.queues th, .queues td { padding: 10px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: middle; }
.queues thead th { font-size: 13px; font-weight: 600; color: var(--muted); background: #f0f3f7; white-space: nowrap; }
.queues thead th small { font-weight: 400; }
.queues tbody th { font-size: 16px; white-space: nowrap; }
.queues tbody th a { text-decoration: none; font-weight: 600; }
.queues tbody tr:last-child th, .queues tbody tr:last-child td { border-bottom: 0; }
.num { text-align: right !important; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.num { font-size: 17px; }
td.num small { display: block; font-size: 12px; color: var(--muted); white-space: normal; }
td.num small .count { font-size: 12px; }
.zero { color: #98a3b1; }
.bad, a.bad { color: var(--bad); font-weight: 650; }
.warn { color: var(--warn); font-weight: 650; }
.badge { font-size: 11px; padding: 1px 7px; border-radius: 9px; margin-left: 6px; vertical-align: 2px; }
.badge.paused { background: #fff0cc; color: #6b3f00; border: 1px solid #f0cf94; }
td.chart { white-space: nowrap; }
td.chart svg { vertical-align: middle; }
.chart-total { display: inline-block; min-width: 4.6em; margin-left: 8px; vertical-align: middle; font-variant-numeric: tabular-nums; font-size: 16px; line-height: 1.2; }
.chart-total small { display: block; font-size: 12px; font-weight: 400; color: var(--muted); }
.spark .baseline { stroke: #c5ced8; stroke-width: 1; }
.spark-completed rect { fill: var(--completed); }
.spark-failed rect { fill: var(--failed); }
.spark rect:hover { opacity: .7; }
.note { color: var(--muted); font-size: 13px; margin: 10px 0 0; }
.login { display: flex; justify-content: center; padding-top: 12vh; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 28px 32px; width: 340px; }
.card h1 { font-size: 20px; }
.card label { display: block; margin: 12px 0; font-weight: 500; }
.card input { display: block; width: 100%; margin-top: 4px; padding: 8px 10px; font: inherit; border: 1px solid #b8c2ce; border-radius: 6px; }
.card button { margin-top: 8px; width: 100%; padding: 9px; font: inherit; font-weight: 600; color: #fff; background: var(--accent); border: 0; border-radius: 6px; cursor: pointer; }
.card .error { color: var(--bad); font-weight: 500; }
`;

/**
 * Keeps the overview current without a full reload: every `data-refresh-ms` it
 * fetches the page again and swaps in the new `#overview`. A 401 or a redirect
 * to the login page reloads (the session ended); a network failure keeps the
 * figures and says so. Times are shown in the browser's time zone.
 */
export const OVERVIEW_JS = `(() => {
  'use strict';
  const localTimes = (root) => {
    for (const el of root.querySelectorAll('time[datetime]')) {
      const d = new Date(el.getAttribute('datetime'));
      if (!Number.isNaN(d.getTime())) el.textContent = d.toLocaleTimeString();
    }
  };
  const current = () => document.getElementById('overview');
  const first = current();
  if (!first) return;
  localTimes(first);
  const every = Number(first.dataset.refreshMs) || 10000;
  const refresh = async () => {
    try {
      const res = await fetch(location.pathname + location.search, {
        headers: { accept: 'text/html' }, credentials: 'same-origin', cache: 'no-store',
      });
      if (res.status === 401 || new URL(res.url).pathname === '/login') {
        location.reload();
        return;
      }
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      const next = doc.getElementById('overview');
      const here = current();
      if (next && here) {
        localTimes(next);
        here.replaceWith(document.adoptNode(next));
      }
    } catch (error) {
      const here = current();
      if (here && !here.querySelector('.offline')) {
        const p = document.createElement('p');
        p.className = 'banner error offline';
        p.setAttribute('role', 'alert');
        p.textContent = 'The dashboard cannot be reached; the figures are not current. Retrying…';
        here.prepend(p);
      }
    }
    setTimeout(refresh, every);
  };
  setTimeout(refresh, every);
})();
`;

/** Serves the style sheet and the overview script, which need no login (they hold no data). */
export async function assetRoutes(app: FastifyInstance): Promise<void> {
  app.get('/assets/dashboard.css', { config: { public: true } }, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=300').send(DASHBOARD_CSS),
  );
  app.get('/assets/overview.js', { config: { public: true } }, async (_request, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .send(OVERVIEW_JS),
  );
}
