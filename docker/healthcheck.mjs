// The image's HEALTHCHECK: exit 0 when the app answers GET /health/live, 1 otherwise.
// The gateway and the dashboard serve it on PORT, the workers on METRICS_PORT; when the variable is
// unset, the app listens on its default port (ARCHITECTURE.md), which is used here too.
const HTTP_APPS = { gateway: 3000, dashboard: 3001 };
const WORKERS = { 'email-worker': 9101, 'report-worker': 9102, 'dlq-processor': 9103 };

const app = process.env.JOBFLEET_APP ?? '';
const port =
  app in HTTP_APPS
    ? process.env.PORT || HTTP_APPS[app]
    : process.env.METRICS_PORT || WORKERS[app] || process.env.PORT;
// An app bound to one address answers only there; 0.0.0.0 and :: answer on loopback.
const bound = process.env.HOST;
const host = !bound || bound === '0.0.0.0' || bound === '::' ? '127.0.0.1' : bound;

if (!port) {
  console.error(`healthcheck: no port for app "${app}" (set PORT or METRICS_PORT)`);
  process.exit(1);
}
const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/health/live`;
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_500) });
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.error(`healthcheck: ${url}: ${error.message}`);
  process.exit(1);
}
