/**
 * Runs every built app against a test Redis, puts a few jobs through, scrapes
 * /metrics, and checks the scrapes (promtool check metrics) and every
 * expression of the dashboards and the rules against what was scraped: a
 * panel or alert that reads a series no service exposes could never show
 * anything. The Kubernetes autoscalers' queries (deploy/k8s, KEDA) are checked
 * the same way: a scaler on a series nobody exposes would never scale.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { backlogQueries, FLEET_FILE, readFleet } from '@jobfleet/fleet';
import { deleteKeys, promtoolCheckMetrics } from '@jobfleet/test-utils';
// Declares the `redisUrl` that the global setup provides.
import type {} from '@jobfleet/test-utils/global-setup';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { dashboardQueries, loadDashboards } from './support/dashboards.js';
import { parseExposition } from './support/exposition.js';
import { type Fleet, scrape, startFleet } from './support/fleet.js';
import {
  addDeclaredInSources,
  addScrape,
  type CheckedExpression,
  emptyExposed,
  expressionProblems,
} from './support/metric-check.js';
import { APPS_DIR, PROMETHEUS_CONFIG, REPO_ROOT } from './support/paths.js';
import { expandGrafanaVariables, metricNamesOf } from './support/promql.js';
import { loadRules, recordedNames } from './support/rule-files.js';
import { isBuilt, mainOf, SERVICES, type ServiceSpec } from './support/services.js';
import { type SmtpSink, startSmtpSink } from './support/smtp-sink.js';
import { runWorkload } from './support/workload.js';

const RETRY_ADDRESS = 'retry-once@example.com';
const built = SERVICES.filter(isBuilt);
const unbuilt = SERVICES.filter((spec) => !isBuilt(spec));
const missingNote = (spec: ServiceSpec) =>
  `skipped: ${relative(REPO_ROOT, mainOf(spec))} does not exist (build the app to check it)`;

for (const spec of unbuilt) console.warn(`[ops-tests] ${spec.app}: ${missingNote(spec)}`);

describe('the service list', () => {
  it('has one entry per app in apps/', () => {
    const apps = readdirSync(APPS_DIR).filter((name) => existsSync(join(APPS_DIR, name, 'package.json')));
    expect(SERVICES.map((spec) => spec.app).sort()).toEqual(apps.sort());
  });
});

describe('metrics of the running services', () => {
  const redisUrl = inject('redisUrl');
  const prefix = `ops-${randomUUID().slice(0, 8)}`;
  const scrapes = new Map<string, string>();
  let dataDir = '';
  let smtp: SmtpSink | undefined;
  let fleet: Fleet | undefined;

  beforeAll(async () => {
    if (built.length === 0) return;
    dataDir = mkdtempSync(join(tmpdir(), 'jobfleet-ops-'));
    smtp = await startSmtpSink({ failOnce: [RETRY_ADDRESS] });
    fleet = await startFleet(built, { redisUrl, prefix, dataDir, smtpUrl: smtp.url });
    await runWorkload({ fleet, redisUrl, prefix, retryAddress: RETRY_ADDRESS });
    for (const service of fleet.services) scrapes.set(service.spec.app, await scrape(service));
  }, 120_000);

  afterAll(async () => {
    await fleet?.stop();
    await smtp?.close();
    const admin = new Redis(redisUrl, { maxRetriesPerRequest: null });
    await deleteKeys(admin, prefix).finally(() => admin.quit());
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  for (const spec of SERVICES) {
    const title = `${spec.app}: /metrics passes promtool check metrics without a warning`;
    it.skipIf(!isBuilt(spec))(isBuilt(spec) ? title : `${title} (${missingNote(spec)})`, () => {
      const text = scrapes.get(spec.app) ?? '';
      expect(text).toContain('# TYPE ');
      expect(promtoolCheckMetrics(text)).toBe('');
    });
  }

  it.skipIf(built.length === 0)(
    'every series the dashboards, the rules and the Kubernetes autoscalers read is exposed by a service or recorded by a rule',
    () => {
      const exposed = emptyExposed();
      for (const [app, text] of scrapes) addScrape(exposed, app, parseExposition(text));
      for (const spec of unbuilt) {
        // Not scraped: the names its sources declare stand in, and the message says so.
        const names = addDeclaredInSources(exposed, spec.app, join(APPS_DIR, spec.app, 'src'));
        console.warn(
          `[ops-tests] ${spec.app} is not built: ${names.length} series names read from its sources instead`,
        );
      }
      const rules = loadRules();
      const config = parse(readFileSync(PROMETHEUS_CONFIG, 'utf8')) as {
        scrape_configs: Array<{ job_name: string }>;
      };
      const context = {
        exposed,
        recorded: recordedNames(rules),
        jobs: new Set(config.scrape_configs.map((job) => job.job_name)),
      };
      const expressions: CheckedExpression[] = [
        ...rules.map((rule) => ({ where: `${rule.file} ${rule.kind} ${rule.name}`, expr: rule.expr })),
        ...loadDashboards().flatMap(dashboardQueries),
        ...readFleet(FLEET_FILE).apps.flatMap((app) =>
          app.kind === 'worker'
            ? backlogQueries(app).map((query) => ({
                where: `deploy/k8s ScaledObject ${app.name} trigger ${query.name}`,
                expr: query.query,
              }))
            : [],
        ),
      ];
      const problems = expressions.flatMap((item) => expressionProblems(item, context));
      const read = new Set(expressions.flatMap((item) => metricNamesOf(expandGrafanaVariables(item.expr))));
      expect(problems).toEqual([]);

      const quiet = [...exposed.declaredOnly]
        .filter(([name]) => !exposed.series.has(name))
        .filter(([name]) => read.has(name))
        .map(([name, apps]) => `${name} (${[...apps].join(', ')})`);
      if (quiet.length > 0) {
        console.info(
          `[ops-tests] read by a panel or rule but without a series yet (declared only): ${quiet.join('; ')}`,
        );
      }
    },
  );
});
