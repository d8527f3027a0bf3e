import { type Document, isMap, isSeq, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Fleet, FleetApp } from './manifest.js';
import {
  parseYaml,
  replaceOwned,
  scalarValue,
  seqAt,
  setGeneratedHeader,
  stringifyYaml,
} from './yaml-document.js';

export const PROMETHEUS_FILE = 'docker/prometheus/prometheus.yml';

/**
 * Target labels every app's series carry. `kind` (http, worker) lets rules
 * and panels select the fleet's apps without naming them; `owner` is the
 * app's team (not `team`, which jobfleet_queue_info sets per queue and a
 * target label would rename to exported_team).
 */
export const KIND_LABEL = 'kind';
export const OWNER_LABEL = 'owner';

/** A scrape job whose relabelling sets `kind` to http or worker is an app job: the generator owns those. */
function isAppJob(node: unknown): boolean {
  if (!isMap(node)) return false;
  const relabel = node.get('relabel_configs', true);
  if (!isSeq(relabel)) return false;
  return relabel.items.some(
    (rule) =>
      isMap(rule) &&
      scalarValue(rule.get('target_label', true)) === KIND_LABEL &&
      ['http', 'worker'].includes(String(scalarValue(rule.get('replacement', true)))),
  );
}

function appJob(doc: Document, app: FleetApp): YAMLMap {
  const job = doc.createNode({
    job_name: app.name,
    // One target per replica of the compose service (Docker's DNS answers with each container).
    dns_sd_configs: [{ names: [app.name], type: 'A', port: app.port, refresh_interval: '15s' }],
    relabel_configs: [
      { target_label: KIND_LABEL, replacement: app.kind },
      { target_label: OWNER_LABEL, replacement: app.team },
    ],
  }) as YAMLMap;
  const names = job.getIn(['dns_sd_configs', 0, 'names'], true) as YAMLSeq;
  names.flow = true;
  return job;
}

/**
 * docker/prometheus/prometheus.yml with one scrape job per fleet.json app,
 * where the app jobs were; every other job and setting is kept as written.
 */
export function generatePrometheus(current: string, fleet: Fleet): string {
  const doc = parseYaml(current, PROMETHEUS_FILE);
  const jobs = seqAt(doc, ['scrape_configs'], PROMETHEUS_FILE);
  const generated = fleet.apps.map((app, i) => {
    const job = appJob(doc, app);
    if (i === 0) {
      job.commentBefore =
        ' The apps: generated from fleet.json (pnpm fleet:generate). /metrics on PORT (http) or METRICS_PORT (worker).';
      job.spaceBefore = true;
    }
    return job;
  });
  jobs.items = replaceOwned(jobs.items, isAppJob, generated, 1);
  setGeneratedHeader(doc, 'the app scrape jobs (one per app); the rest is hand-written.');
  return stringifyYaml(doc);
}
