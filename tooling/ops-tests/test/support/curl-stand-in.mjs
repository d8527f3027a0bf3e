#!/usr/bin/env node
// `curl` for the README check, first on PATH while the README's shell lines run: it sends what
// curl would send for the options the README uses (-s, -X, -H, -d) to the fleet under test
// (README_GATEWAY_URL instead of the README's http://127.0.0.1:3000 or http://localhost:3000),
// prints the body as curl does, and writes {method, url, status} to README_CURL_LOG (one JSON
// line per request). Any other option or URL is an error, so an example is never run otherwise
// than curl would run it. Plain JavaScript: sh runs it as a program, without a build step.
import { appendFileSync } from 'node:fs';

const README_GATEWAY = /^http:\/\/(?:127\.0\.0\.1|localhost):3000(?=\/|$)/;

function fail(message) {
  process.stderr.write(`curl (README check): ${message}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const headers = {};
let method;
let url;
let body;
const value = (option) => {
  const next = args.shift();
  if (next === undefined) fail(`${option} needs a value`);
  return next;
};
while (args.length > 0) {
  const arg = args.shift();
  if (arg === '-s' || arg === '--silent') continue;
  if (arg === '-X' || arg === '--request') method = value(arg);
  else if (arg === '-H' || arg === '--header') {
    const header = value(arg);
    const colon = header.indexOf(':');
    if (colon < 1) fail(`${arg} "${header}" is not "name: value"`);
    headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
  } else if (arg === '-d' || arg === '--data' || arg === '--data-raw') body = value(arg);
  else if (arg.startsWith('-')) fail(`option ${arg} is not supported`);
  else if (url === undefined) url = arg;
  else fail(`a second URL (${arg})`);
}
if (url === undefined) fail('no URL');
if (!README_GATEWAY.test(url)) fail(`${url} is not the gateway's README address`);
const gateway = process.env.README_GATEWAY_URL;
if (!gateway) fail('README_GATEWAY_URL is not set');
// curl's defaults: -d sends a POST with a form content type.
if (body !== undefined && !('content-type' in headers)) {
  headers['content-type'] = 'application/x-www-form-urlencoded';
}
method ??= body === undefined ? 'GET' : 'POST';
const target = url.replace(README_GATEWAY, gateway);
const response = await fetch(target, { method, headers, body, signal: AbortSignal.timeout(10_000) });
const text = await response.text();
const log = process.env.README_CURL_LOG;
if (log) appendFileSync(log, `${JSON.stringify({ method, url: target, status: response.status })}\n`);
process.stdout.write(text);
