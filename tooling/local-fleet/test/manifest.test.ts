import { describe, expect, it } from 'vitest';
import {
  describeEmailTransport,
  fleetServices,
  isEnabled,
  parseFleetManifest,
  readFleetManifest,
  restartDelay,
  servicePort,
} from '../src/index.js';
import { root } from './support/launch.js';

describe('the fleet manifest', () => {
  it('runs every app of fleet.json under the port variables the README names', () => {
    const services = fleetServices(readFleetManifest(root));
    // The five apps jobfleet ships, first and in this order; generated workers may follow.
    expect(services[0]?.nodeOptions).toEqual(['--max-semi-space-size=32']);
    expect(
      services.slice(0, 5).map((s) => [s.name, s.main, s.portKey, s.overrideKey, s.defaultPort]),
    ).toEqual([
      ['gateway', 'apps/gateway/dist/main.js', 'PORT', 'GATEWAY_PORT', 3000],
      ['dashboard', 'apps/dashboard/dist/main.js', 'PORT', 'DASHBOARD_PORT', 3001],
      ['email-worker', 'apps/email-worker/dist/main.js', 'METRICS_PORT', 'EMAIL_WORKER_METRICS_PORT', 9101],
      [
        'report-worker',
        'apps/report-worker/dist/main.js',
        'METRICS_PORT',
        'REPORT_WORKER_METRICS_PORT',
        9102,
      ],
      [
        'dlq-processor',
        'apps/dlq-processor/dist/main.js',
        'METRICS_PORT',
        'DLQ_PROCESSOR_METRICS_PORT',
        9103,
      ],
    ]);
  });

  it('picks up a worker appended by the generator, with no other edit, and keeps HTTP apps first', () => {
    const services = fleetServices(
      parseFleetManifest({
        apps: [
          { name: 'email-worker', kind: 'worker', port: 9101, team: 'messaging', queues: ['emails'] },
          { name: 'gateway', kind: 'http', port: 3000, team: 'platform', queues: [] },
          // A field another tool reads is ignored here.
          {
            name: 'invoices-worker',
            kind: 'worker',
            port: 9104,
            team: 'billing',
            queues: ['invoices'],
            x: 1,
          },
        ],
      }),
    );
    expect(services.map((s) => s.name)).toEqual(['gateway', 'email-worker', 'invoices-worker']);
    const invoices = services[2];
    if (!invoices) throw new Error('no third service');
    expect(invoices).toMatchObject({
      main: 'apps/invoices-worker/dist/main.js',
      portKey: 'METRICS_PORT',
      overrideKey: 'INVOICES_WORKER_METRICS_PORT',
      defaultPort: 9104,
    });
    expect(invoices.describe('http://127.0.0.1:9104')).toBe(
      'metrics http://127.0.0.1:9104/metrics, health http://127.0.0.1:9104/health/ready',
    );
    expect(servicePort(invoices, {})).toBe(9104);
    expect(servicePort(invoices, { INVOICES_WORKER_METRICS_PORT: '19104' })).toBe(19104);
    expect(() => servicePort(invoices, { INVOICES_WORKER_METRICS_PORT: '9104x' })).toThrow(
      'INVOICES_WORKER_METRICS_PORT must be a port number from 1 to 65535, not "9104x"',
    );
  });

  it('leaves an app with enabledBy off unless its variable is set', () => {
    const apps = parseFleetManifest({
      apps: [
        { name: 'email-worker', kind: 'worker', port: 9101 },
        { name: 'http-worker', kind: 'worker', port: 9104, enabledBy: 'HTTP_WORKER_QUEUES' },
      ],
    });
    const http = apps[1];
    if (!http) throw new Error('no second app');
    expect(http.enabledBy).toBe('HTTP_WORKER_QUEUES');
    expect(isEnabled(http, {})).toBe(false);
    expect(isEnabled(http, { HTTP_WORKER_QUEUES: ' ' })).toBe(false);
    expect(isEnabled(http, { HTTP_WORKER_QUEUES: 'emails' })).toBe(true);
    expect(apps.filter((app) => isEnabled(app, {})).map((app) => app.name)).toEqual(['email-worker']);
    expect(() =>
      parseFleetManifest({ apps: [{ name: 'x-worker', kind: 'worker', port: 9105, enabledBy: 'x' }] }),
    ).toThrow('apps[0] (x-worker): "enabledBy" must be an environment variable name');
  });

  it('refuses a manifest it cannot run, naming every bad entry', () => {
    expect(() => parseFleetManifest({})).toThrow('"apps" must be an array');
    expect(() =>
      parseFleetManifest({
        apps: [
          { name: 'Gateway', kind: 'http', port: 3000 },
          { name: 'a-worker', kind: 'cron', port: 0 },
          { name: 'b-worker', kind: 'worker', port: 9105 },
          { name: 'b-worker', kind: 'worker', port: 9106 },
          { name: 'c-worker', kind: 'worker', port: 9107, nodeOptions: '--max-semi-space-size=32' },
        ],
      }),
    ).toThrow(
      'fleet.json: apps[0] (Gateway): "name" must be kebab-case; apps[1] (a-worker): "kind" must be "http" or "worker"; apps[1] (a-worker): "port" must be an integer from 1 to 65535; apps[3] (b-worker): "name" is listed twice; apps[4] (c-worker): "nodeOptions" must be an array of Node options ("--name" or "--name=value")',
    );
  });
});

describe('restarts', () => {
  it('wait 1 s, doubling with each crash in a row, up to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => restartDelay(n))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });
});

describe('the banner', () => {
  it('shows the SMTP server when SMTP_URL is set, without its password', () => {
    expect(describeEmailTransport({ SMTP_URL: 'smtp://mailer:s3cr%40t@mail.example.com:2525' }, '/o')).toBe(
      'SMTP smtp://mailer:***@mail.example.com:2525',
    );
    expect(describeEmailTransport({ SMTP_URL: 'smtps://mail.example.com' }, '/o')).toBe(
      'SMTP smtps://mail.example.com',
    );
    expect(describeEmailTransport({ SMTP_URL: 'not a url with p4ssword' }, '/o')).not.toContain('p4ssword');
  });

  it('shows the outbox directory otherwise', () => {
    expect(describeEmailTransport({}, '/data/outbox')).toBe(
      'outbox /data/outbox  (one .eml file per message)',
    );
  });
});
