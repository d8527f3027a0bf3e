/**
 * deploy/k8s rendered as `kubectl kustomize` renders it, each overlay: every
 * object against the Kubernetes, KEDA and Prometheus Operator schemas, and
 * what every app must have (probes, grace period, security, resources, a
 * disruption budget, monitoring, secrets by reference, a scaler per worker
 * whose PromQL passes promtool and names metrics the apps declare).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promtool } from '@jobfleet/test-utils';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PodMonitor, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import {
  backlogQueries,
  CONTAINER,
  FLEET_FILE,
  type Fleet,
  generateKubernetes,
  KUBERNETES_DIR,
  kubernetesApps,
  PRE_STOP_SECONDS,
  REPO_ROOT,
  readFleet,
} from '../src/index.js';

const manifest = readFleet(FLEET_FILE);
/** What the base deploys: fleet.json without the apps an environment variable switches on. */
const fleet: Fleet = { ...manifest, apps: kubernetesApps(manifest) };
const OVERLAYS_DIR = join(REPO_ROOT, 'deploy/k8s/overlays');
const overlays = readdirSync(OVERLAYS_DIR).filter((name) => statSync(join(OVERLAYS_DIR, name)).isDirectory());
const scratch = mkdtempSync(join(tmpdir(), 'jobfleet-k8s-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// biome-ignore lint/suspicious/noExplicitAny: rendered YAML, checked field by field below.
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: any };

/** `kubectl kustomize <dir>`; kubectl (with kustomize v5) is a requirement of this suite, not optional. */
function kustomize(dir: string): K8sObject[] {
  const kubectl = process.env.KUBECTL_BIN ?? 'kubectl';
  const run = spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (run.error) {
    throw new Error(
      `could not run "${kubectl}" (${run.error.message}): rendering deploy/k8s needs kubectl with kustomize v5 (kubectl 1.27 or later; Debian bookworm's kubernetes-client is too old), or set KUBECTL_BIN`,
    );
  }
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${run.stderr}`);
  return parseAllDocuments(run.stdout).map((doc) => doc.toJS() as K8sObject);
}

/** The schema class of each kind the tree may hold: an object of any other kind fails the suite. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/** Variables whose value is a secret: only ever from a Secret (secretKeyRef) or a mounted file (`_FILE`). */
const SECRET_VARIABLES =
  /^(REDIS_URL|REDIS_PASSWORD|GATEWAY_API_KEYS|DASHBOARD_USERS|DASHBOARD_SESSION_SECRET|METRICS_TOKEN|SMTP_URL|DLQ_ALERT_WEBHOOK_URL)$|PASSWORD|SECRET|TOKEN/;

/** Metrics the apps and packages declare with prom-client, each with its label names. */
function declaredMetrics(): Map<string, Set<string>> {
  const declared = new Map<string, Set<string>>();
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return walk(path);
      return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
    });
  const roots = ['apps', 'packages'].flatMap((top) =>
    readdirSync(join(REPO_ROOT, top))
      .map((name) => join(REPO_ROOT, top, name, 'src'))
      .filter((src) => statSync(src, { throwIfNoEntry: false })?.isDirectory()),
  );
  const declaration =
    /new\s+(Counter|Gauge|Histogram|Summary)\s*(?:<[^>]*>)?\s*\(\s*\{\s*name:\s*['"]([a-z_:][a-z0-9_:]*)['"][^}]*?labelNames:\s*\[([^\]]*)\]/g;
  for (const file of roots.flatMap(walk)) {
    for (const [, , name, labels] of readFileSync(file, 'utf8').matchAll(declaration)) {
      if (!name) continue;
      declared.set(name, new Set([...(labels ?? '').matchAll(/['"]([a-z_]+)['"]/g)].map((m) => m[1] ?? '')));
    }
  }
  return declared;
}

/** Each `metric{label="…",…}` selector of a query. */
function selectorsOf(query: string): Array<{ metric: string; labels: string[] }> {
  return [...query.matchAll(/\b(jobfleet_[a-z0-9_]+)\s*\{([^}]*)\}/g)].map(([, metric, body]) => ({
    metric: metric ?? '',
    labels: [...(body ?? '').matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1] ?? ''),
  }));
}

const rendered = new Map(overlays.map((overlay) => [overlay, kustomize(join(OVERLAYS_DIR, overlay))]));
const ofKind = (objects: K8sObject[], kind: string) => objects.filter((object) => object.kind === kind);
const workers = fleet.apps.filter((app) => app.kind === 'worker');

describe('deploy/k8s', () => {
  it('has a dev and a production overlay', () => {
    expect(overlays).toEqual(expect.arrayContaining(['dev', 'production']));
  });

  it('base/apps is what fleet.json generates (run pnpm fleet:generate)', () => {
    const dir = join(REPO_ROOT, KUBERNETES_DIR);
    const expected = generateKubernetes(manifest);
    expect(
      readdirSync(dir)
        .map((name) => `${KUBERNETES_DIR}/${name}`)
        .sort(),
    ).toEqual([...expected.keys()].sort());
    for (const [path, text] of expected) expect(readFileSync(join(REPO_ROOT, path), 'utf8'), path).toBe(text);
  });
});

describe.each(overlays)('overlay %s', (overlay) => {
  const objects = rendered.get(overlay) ?? [];
  const deployments = ofKind(objects, 'Deployment');
  const appDeployment = (name: string) => deployments.find((d) => d.metadata.name === name);

  it('renders, and every object passes its schema (Kubernetes, KEDA, Prometheus Operator)', () => {
    expect(objects.length).toBeGreaterThan(0);
    const problems = objects.flatMap((object) => {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      if (!Model)
        return [`${object.apiVersion} ${object.kind} ${object.metadata.name}: no schema known for it`];
      try {
        new Model(object as never).validate();
        return [];
      } catch (error) {
        return [`${object.kind} ${object.metadata.name}: ${(error as Error).message}`];
      }
    });
    expect(problems).toEqual([]);
  });

  it('gives every app of fleet.json a Deployment, a PodDisruptionBudget and a PodMonitor', () => {
    for (const kind of ['Deployment', 'PodDisruptionBudget', 'PodMonitor']) {
      const names = ofKind(objects, kind)
        .map((object) => object.metadata.name)
        .filter((name) => fleet.apps.some((app) => app.name === name));
      expect(names.sort(), kind).toEqual(fleet.apps.map((app) => app.name).sort());
    }
    for (const app of fleet.apps) {
      const pdb = ofKind(objects, 'PodDisruptionBudget').find((p) => p.metadata.name === app.name);
      expect(pdb?.spec.selector.matchLabels).toEqual(appDeployment(app.name)?.spec.selector.matchLabels);
      const monitor = ofKind(objects, 'PodMonitor').find((p) => p.metadata.name === app.name);
      const port = appDeployment(app.name)?.spec.template.spec.containers[0].ports[0];
      expect(port?.containerPort).toBe(app.port);
      expect(monitor?.spec.podMetricsEndpoints).toEqual([
        expect.objectContaining({ port: port?.name, path: '/metrics' }),
      ]);
    }
  });

  it.each(fleet.apps.map((app) => [app.name]))(
    '%s: probes on its port, a grace period beyond SHUTDOWN_TIMEOUT_MS plus preStop, limits, non-root and read-only',
    (name) => {
      const app = fleet.apps.find((a) => a.name === name);
      const pod = appDeployment(name)?.spec.template.spec;
      const container = pod?.containers.find((c: { name: string }) => c.name === CONTAINER);
      expect(container, `${name} has no container "${CONTAINER}"`).toBeDefined();
      const env = new Map<string, { value?: string }>(
        container.env.map((e: { name: string }) => [e.name, e]),
      );
      // The port that serves /health: PORT (http) or METRICS_PORT (worker), as the apps read it.
      const portVariable = app?.kind === 'http' ? 'PORT' : 'METRICS_PORT';
      expect(env.get(portVariable)?.value).toBe(String(app?.port));
      // fleet.json's nodeOptions, as Node reads them from the environment.
      expect(env.get('NODE_OPTIONS')?.value).toBe(app?.nodeOptions?.join(' '));
      const portName = container.ports.find(
        (p: { containerPort: number }) => p.containerPort === app?.port,
      )?.name;
      expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: portName });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: portName });

      const shutdownMs = Number(env.get('SHUTDOWN_TIMEOUT_MS')?.value);
      expect(shutdownMs).toBeGreaterThan(0);
      const preStop = container.lifecycle.preStop;
      const preStopSeconds = Number(preStop.sleep?.seconds ?? preStop.exec.command.at(-1));
      expect(preStop.exec?.command.slice(0, -1) ?? ['sleep']).toEqual(['sleep']);
      expect(preStopSeconds).toBe(PRE_STOP_SECONDS);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(shutdownMs / 1000 + preStopSeconds);

      for (const side of ['requests', 'limits']) {
        expect(Object.keys(container.resources[side] ?? {}).sort(), side).toEqual(['cpu', 'memory']);
      }
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      // Node and the apps write to /tmp and to relative data paths under /app: writable volumes there.
      const mounts = container.volumeMounts.map((m: { mountPath: string }) => m.mountPath);
      expect(mounts).toEqual(expect.arrayContaining(['/tmp', '/app/.data']));
    },
  );

  it('takes secrets only from Secrets: no inline value of a secret variable, _FILE keys from mounted Secrets', () => {
    const problems: string[] = [];
    for (const deployment of deployments) {
      const pod = deployment.spec.template.spec;
      for (const container of pod.containers) {
        const mounts: Array<{ name: string; mountPath: string }> = container.volumeMounts ?? [];
        for (const variable of container.env ?? []) {
          const where = `${deployment.metadata.name} ${variable.name}`;
          if (variable.name.endsWith('_FILE')) {
            // The file must lie in a volume made of Secrets.
            const mount = mounts.find((m) => variable.value?.startsWith(`${m.mountPath}/`));
            const volume = pod.volumes.find((v: { name: string }) => v.name === mount?.name);
            const fromSecrets =
              volume?.secret !== undefined ||
              (volume?.projected?.sources ?? []).every((s: { secret?: unknown }) => s.secret !== undefined);
            if (!mount || !volume || !fromSecrets)
              problems.push(`${where}: ${variable.value} is not in a mounted Secret`);
          } else if (SECRET_VARIABLES.test(variable.name) && variable.valueFrom?.secretKeyRef === undefined) {
            problems.push(`${where}: a secret must come from secretKeyRef`);
          }
        }
      }
    }
    for (const map of ofKind(objects, 'ConfigMap')) {
      for (const [key, value] of Object.entries<string>(map.data ?? {})) {
        // A URL without user info (the dev overlay's redis://redis:6379) carries no secret.
        const bareUrl = /^[a-z]+:\/\/[^@/]+(\/[^@]*)?$/.test(value);
        if (SECRET_VARIABLES.test(key) && !bareUrl)
          problems.push(`ConfigMap ${map.metadata.name} holds ${key}`);
      }
    }
    expect(problems).toEqual([]);
    // The secret-ish settings fleet.json declares are there, by reference.
    const gateway = appDeployment('gateway')?.spec.template.spec.containers[0];
    expect(gateway.env).toContainEqual({
      name: 'GATEWAY_API_KEYS_FILE',
      value: '/run/secrets/gateway-api-keys',
    });
  });

  it('gives the gateway and the dashboard a Service on their port, and the gateway a CPU HPA', () => {
    for (const app of fleet.apps.filter((a) => a.kind === 'http')) {
      const service = ofKind(objects, 'Service').find((s) => s.metadata.name === app.name);
      expect(service?.spec.ports[0].port, app.name).toBe(app.port);
      expect(service?.spec.selector).toEqual(appDeployment(app.name)?.spec.selector.matchLabels);
    }
    const hpa = ofKind(objects, 'HorizontalPodAutoscaler').find((h) => h.metadata.name === 'gateway');
    expect(hpa?.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'gateway' });
    expect(hpa?.spec.metrics[0].resource.name).toBe('cpu');
    expect(hpa?.spec.maxReplicas).toBeGreaterThanOrEqual(hpa?.spec.minReplicas);
    // The HPA owns the gateway's replica count.
    expect(appDeployment('gateway')?.spec.replicas).toBeUndefined();
  });

  it('gives every worker one ScaledObject on its queue backlog, with replica bounds', () => {
    const scaled = ofKind(objects, 'ScaledObject');
    expect(scaled.map((s) => s.metadata.name).sort()).toEqual(workers.map((w) => w.name).sort());
    for (const worker of workers) {
      const spec = scaled.find((s) => s.metadata.name === worker.name)?.spec;
      expect(spec.scaleTargetRef.name).toBe(worker.name);
      expect(spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(spec.maxReplicaCount).toBeGreaterThanOrEqual(spec.minReplicaCount);
      expect(spec.triggers.length).toBeGreaterThan(0);
      for (const trigger of spec.triggers) {
        expect(trigger.type).toBe('prometheus');
        expect(trigger.metadata.serverAddress).toMatch(/^https?:\/\//);
        expect(Number(trigger.metadata.threshold)).toBeGreaterThan(0);
        // The worker's own queues: every queue matcher names only them.
        for (const [, queues] of trigger.metadata.query.matchAll(/queue=~?"([^"]*)"/g)) {
          for (const queue of queues.split('|'))
            expect(worker.queues, trigger.metadata.query).toContain(queue);
        }
      }
    }
  });
});

describe('the autoscaling queries', () => {
  const queries = overlays.flatMap((overlay) =>
    ofKind(rendered.get(overlay) ?? [], 'ScaledObject').flatMap((scaled) =>
      scaled.spec.triggers.map((trigger: { name?: string; metadata: { query: string } }) => ({
        where: `${overlay} ${scaled.metadata.name} ${trigger.name}`,
        query: trigger.metadata.query,
      })),
    ),
  );

  it('pass promtool', () => {
    const file = join(scratch, 'scaledobjects.rules.yml');
    writeFileSync(
      file,
      stringify({
        groups: [
          {
            name: 'keda',
            rules: queries.map((q, i) => ({ record: `keda:query_${i}`, expr: q.query })),
          },
        ],
      }),
    );
    const result = promtool(['check', 'rules', file]);
    expect(result.ok, result.output).toBe(true);
  });

  it('name only metrics the fleet declares, with labels it has', () => {
    const declared = declaredMetrics();
    // The gateway's queue gauges: the autoscaling signal (ARCHITECTURE.md).
    expect(declared.get('jobfleet_queue_jobs')).toEqual(new Set(['queue', 'state']));
    const problems = queries.flatMap(({ where, query }) => {
      const selectors = selectorsOf(query);
      if (selectors.length === 0) return [`${where}: reads no jobfleet metric: ${query}`];
      return selectors.flatMap(({ metric, labels }) => {
        const known = declared.get(metric);
        if (!known) return [`${where}: ${metric} is declared by no app or package`];
        return labels.filter((l) => !known.has(l)).map((l) => `${where}: ${metric} has no label ${l}`);
      });
    });
    expect(problems).toEqual([]);
  });
});

describe('a worker added to fleet.json', () => {
  it('gets its Deployment and ScaledObject in the base with no other edit', () => {
    const grown: Fleet = {
      apps: [
        ...fleet.apps,
        { name: 'invoices-worker', kind: 'worker', port: 9199, team: 'billing', queues: ['invoices'] },
      ],
    };
    const files = generateKubernetes(grown);
    const kustomization = files.get(`${KUBERNETES_DIR}/kustomization.yaml`) ?? '';
    expect(kustomization).toContain('- invoices-worker.yaml');
    const objects = parseAllDocuments(files.get(`${KUBERNETES_DIR}/invoices-worker.yaml`) ?? '').map(
      (doc) => doc.toJS() as K8sObject,
    );
    expect(objects.map((o) => o.kind)).toEqual([
      'Deployment',
      'PodDisruptionBudget',
      'PodMonitor',
      'ScaledObject',
    ]);
    const scaled = objects.find((o) => o.kind === 'ScaledObject');
    expect(scaled?.spec.triggers.map((t: { metadata: { query: string } }) => t.metadata.query)).toEqual(
      backlogQueries(grown.apps.at(-1) as never).map((q) => q.query),
    );
    expect(scaled?.spec.triggers[0].metadata.query).toContain('queue="invoices"');
  });
});

describe('an app switched on by an environment variable', () => {
  it('is left out of the base (its queues and endpoint are the deployer’s own)', () => {
    const optional = manifest.apps.filter((app) => app.enabledBy !== undefined);
    expect(optional.length).toBeGreaterThan(0);
    const files = generateKubernetes(manifest);
    for (const app of optional) {
      expect(files.has(`${KUBERNETES_DIR}/${app.name}.yaml`)).toBe(false);
      expect(files.get(`${KUBERNETES_DIR}/kustomization.yaml`)).not.toContain(`${app.name}.yaml`);
    }
  });
});
