// The image's HEALTHCHECK: exit 0 when the app answers GET /health/live, 1 otherwise.
// HTTP apps serve it on PORT, workers on METRICS_PORT; when the variable is unset, the app listens on
// its default port, read from the fleet manifest: the image has fleet.json next to this file (the
// Dockerfile copies it), a checkout at the repository root.
import { readFileSync } from 'node:fs';

function readManifest() {
  for (const candidate of ['./fleet.json', '../fleet.json']) {
    try {
      return JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8'));
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
    }
  }
  return { apps: [] };
}

const name = process.env.JOBFLEET_APP ?? '';
let entry;
try {
  entry = readManifest().apps?.find((app) => app.name === name);
} catch (error) {
  console.error(`healthcheck: cannot read fleet.json: ${error.message}`);
  process.exit(1);
}
const variable = entry?.kind === 'http' ? 'PORT' : 'METRICS_PORT';
const port = process.env[variable] || entry?.port || process.env.PORT;
// An app bound to one address answers only there; 0.0.0.0 and :: answer on loopback.
const bound = process.env.HOST;
const host = !bound || bound === '0.0.0.0' || bound === '::' ? '127.0.0.1' : bound;

if (!port) {
  console.error(`healthcheck: no port for app "${name}" (not in fleet.json; set PORT or METRICS_PORT)`);
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
