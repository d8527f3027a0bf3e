import { stringify } from 'yaml';
import type { Fleet, FleetApp, KubernetesScaling } from './manifest.js';
import { KIND_LABEL, OWNER_LABEL } from './prometheus.js';
import { GENERATED_MARK } from './yaml-document.js';

/** The directory `pnpm fleet:generate` owns: every file in it is generated, and no other file belongs there. */
export const KUBERNETES_DIR = 'deploy/k8s/base/apps';

/** Every app's SHUTDOWN_TIMEOUT_MS (the apps' own default); the grace period is derived from it. */
export const SHUTDOWN_TIMEOUT_MS = 30_000;
/** preStop delay: endpoints and the Service drop the pod before SIGTERM reaches the app. */
export const PRE_STOP_SECONDS = 5;
/** Margin after the shutdown deadline for closing connections and flushing logs. */
const GRACE_MARGIN_SECONDS = 5;
export const TERMINATION_GRACE_SECONDS =
  PRE_STOP_SECONDS + Math.ceil(SHUTDOWN_TIMEOUT_MS / 1000) + GRACE_MARGIN_SECONDS;

/** docker/Dockerfile's `node` user (node:20-bookworm-slim): numeric, so the kubelet can verify runAsNonRoot. */
const NODE_UID = 1000;
/** The container every Deployment runs; overlays patch it by this name. */
export const CONTAINER = 'app';
/** Where secretFiles are mounted (the same paths as compose's secrets). */
const SECRETS_DIR = '/run/secrets';

/**
 * The queue the DLQ processor works. The gateway exports no depth for it (it is not a catalog
 * queue), so its processor scales on the rate dead letters arrive at instead.
 */
export const DEAD_LETTER_QUEUE = 'dead-letters';

/** The Prometheus KEDA asks, in the base; overlays replace it (see deploy/k8s/overlays/production). */
export const PROMETHEUS_ADDRESS = 'http://prometheus-operated.monitoring.svc:9090';

const SCALING_DEFAULTS: Required<KubernetesScaling> = {
  minReplicas: 1,
  maxReplicas: 10,
  backlogPerReplica: 100,
  oldestWaitingSeconds: 60,
};

const DEFAULT_RESOURCES = {
  requests: { cpu: '100m', memory: '128Mi' },
  limits: { cpu: '1', memory: '512Mi' },
};

/** The port's name in the pod: probes, the Service and the PodMonitor refer to it. */
export const portName = (app: FleetApp): string => (app.kind === 'http' ? 'http' : 'metrics');

const labelsOf = (app: FleetApp) => ({
  'app.kubernetes.io/name': app.name,
  'app.kubernetes.io/component': app.kind,
  'jobfleet.dev/team': app.team,
});
const selectorOf = (app: FleetApp) => ({ 'app.kubernetes.io/name': app.name });

/** Selector of a worker's queues as one matcher. */
const queueMatcher = (queues: readonly string[]) =>
  queues.length === 1 ? `queue="${queues[0]}"` : `queue=~"${queues.join('|')}"`;

/** The PromQL of one KEDA trigger, and how KEDA reads its value. */
export interface BacklogQuery {
  readonly name: string;
  readonly query: string;
  readonly threshold: number;
  /** AverageValue: value ÷ threshold replicas; Value: replicas × value ÷ threshold. */
  readonly metricType: 'AverageValue' | 'Value';
}

/**
 * The backlog queries a worker scales on. Queue depth comes from the gateway
 * (every replica exports the same figure, hence `max by (queue, state)`), so the
 * gateway must be scraped. `or vector(0)` keeps an idle or unscraped queue at
 * 0 rather than no answer.
 */
export function backlogQueries(app: FleetApp): BacklogQuery[] {
  const scaling = { ...SCALING_DEFAULTS, ...app.kubernetes?.scaling };
  const work = app.queues.filter((queue) => queue !== DEAD_LETTER_QUEUE);
  const queries: BacklogQuery[] = [];
  if (work.length > 0) {
    const matcher = queueMatcher(work);
    queries.push(
      {
        name: 'waiting',
        // Jobs with a priority wait in BullMQ's `prioritized` state, not in `waiting`.
        query: `sum(max by (queue, state) (jobfleet_queue_jobs{${matcher},state=~"waiting|prioritized"})) or vector(0)`,
        threshold: scaling.backlogPerReplica,
        metricType: 'AverageValue',
      },
      {
        name: 'oldest-waiting',
        query: `max(jobfleet_queue_oldest_waiting_seconds{${matcher}}) or vector(0)`,
        threshold: scaling.oldestWaitingSeconds,
        metricType: 'Value',
      },
    );
  }
  if (app.queues.includes(DEAD_LETTER_QUEUE)) {
    queries.push({
      name: 'dead-letter-inflow',
      query: 'sum(rate(jobfleet_jobs_processed_total{outcome="dead_lettered"}[2m])) or vector(0)',
      threshold: scaling.backlogPerReplica,
      metricType: 'AverageValue',
    });
  }
  return queries;
}

function env(app: FleetApp): Record<string, unknown>[] {
  const k8s = app.kubernetes;
  const port = app.kind === 'http' ? 'PORT' : 'METRICS_PORT';
  return [
    { name: port, value: String(app.port) },
    { name: 'SHUTDOWN_TIMEOUT_MS', value: String(SHUTDOWN_TIMEOUT_MS) },
    ...(app.nodeOptions?.length ? [{ name: 'NODE_OPTIONS', value: app.nodeOptions.join(' ') }] : []),
    ...Object.entries(k8s?.env ?? {}).map(([name, value]) => ({ name, value })),
    ...Object.entries(k8s?.secretFiles ?? {}).map(([name, secret]) => ({
      name,
      value: `${SECRETS_DIR}/${secret}`,
    })),
    ...Object.entries(k8s?.secretEnv ?? {}).map(([name, ref]) => ({
      name,
      valueFrom: {
        secretKeyRef: { name: ref.secret, key: name, ...(ref.optional ? { optional: true } : {}) },
      },
    })),
  ];
}

function deployment(app: FleetApp): Record<string, unknown> {
  const k8s = app.kubernetes;
  const secretFiles = Object.values(k8s?.secretFiles ?? {});
  const claims = Object.entries(k8s?.volumes ?? {});
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: portName(app) },
    periodSeconds,
    timeoutSeconds: 3,
    failureThreshold,
  });
  const container = {
    name: CONTAINER,
    image: `jobfleet/${app.name}:latest`,
    ports: [{ name: portName(app), containerPort: app.port }],
    envFrom: [
      // Fleet-wide settings (Redis, prefix, log level), then the app's own, which overlays may add.
      { configMapRef: { name: 'jobfleet-config' } },
      { configMapRef: { name: `${app.name}-config`, optional: true } },
    ],
    env: env(app),
    resources: {
      requests: { ...DEFAULT_RESOURCES.requests, ...k8s?.resources?.requests },
      limits: { ...DEFAULT_RESOURCES.limits, ...k8s?.resources?.limits },
    },
    startupProbe: probe('/health/live', 2, 30),
    livenessProbe: probe('/health/live', 10, 3),
    readinessProbe: probe('/health/ready', 5, 2),
    // The image (node:20-bookworm-slim) has /bin/sleep.
    lifecycle: { preStop: { exec: { command: ['sleep', String(PRE_STOP_SECONDS)] } } },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: 'tmp', mountPath: '/tmp' },
      // The default of relative data paths (e.g. EMAIL_OUTBOX_DIR) under the image's WORKDIR.
      { name: 'data', mountPath: '/app/.data' },
      ...(secretFiles.length > 0 ? [{ name: 'secrets', mountPath: SECRETS_DIR, readOnly: true }] : []),
      ...claims.map(([claim, mountPath]) => ({ name: claim, mountPath })),
    ],
  };
  const volumes = [
    { name: 'tmp', emptyDir: {} },
    { name: 'data', emptyDir: {} },
    ...(secretFiles.length > 0
      ? [
          {
            name: 'secrets',
            projected: {
              sources: secretFiles.map((secret) => ({
                secret: { name: secret, items: [{ key: secret, path: secret }] },
              })),
            },
          },
        ]
      : []),
    ...claims.map(([claim]) => ({ name: claim, persistentVolumeClaim: { claimName: claim } })),
  ];
  const spec: Record<string, unknown> = {
    // The gateway's HPA and the workers' ScaledObjects own the replica count of the others.
    ...(app.kind === 'http' && app.name !== 'gateway' ? { replicas: 1 } : {}),
    selector: { matchLabels: selectorOf(app) },
    template: {
      metadata: { labels: labelsOf(app) },
      spec: {
        terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
        automountServiceAccountToken: false,
        securityContext: {
          runAsNonRoot: true,
          runAsUser: NODE_UID,
          runAsGroup: NODE_UID,
          fsGroup: NODE_UID,
          seccompProfile: { type: 'RuntimeDefault' },
        },
        containers: [container],
        volumes,
      },
    },
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: app.name, labels: labelsOf(app) },
    spec,
  };
}

function objectsOf(app: FleetApp): Record<string, unknown>[] {
  const metadata = { name: app.name, labels: labelsOf(app) };
  const objects: Record<string, unknown>[] = [deployment(app)];
  if (app.kind === 'http') {
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata,
      spec: {
        selector: selectorOf(app),
        ports: [{ name: portName(app), port: app.port, targetPort: portName(app) }],
      },
    });
  }
  objects.push({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata,
    // One pod at a time: a drain proceeds even at one replica, and never takes several at once.
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorOf(app) } },
  });
  objects.push({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata,
    spec: {
      // job="<app>", as with docker/prometheus: the rules and dashboards work unchanged.
      jobLabel: 'app.kubernetes.io/name',
      selector: { matchLabels: selectorOf(app) },
      podMetricsEndpoints: [
        {
          port: portName(app),
          path: '/metrics',
          interval: '15s',
          relabelings: [
            { targetLabel: KIND_LABEL, replacement: app.kind, action: 'replace' },
            { targetLabel: OWNER_LABEL, replacement: app.team, action: 'replace' },
          ],
        },
      ],
    },
  });
  if (app.name === 'gateway') {
    objects.push({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata,
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: app.name },
        minReplicas: 2,
        maxReplicas: 10,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
          },
        ],
      },
    });
  }
  if (app.kind === 'worker') {
    const scaling = { ...SCALING_DEFAULTS, ...app.kubernetes?.scaling };
    objects.push({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata,
      spec: {
        scaleTargetRef: { name: app.name },
        // At least one: BullMQ workers also promote delayed and repeatable jobs, which show no backlog until then.
        minReplicaCount: scaling.minReplicas,
        maxReplicaCount: scaling.maxReplicas,
        pollingInterval: 15,
        cooldownPeriod: 300,
        triggers: backlogQueries(app).map((query) => ({
          type: 'prometheus',
          name: query.name,
          metricType: query.metricType,
          metadata: {
            serverAddress: PROMETHEUS_ADDRESS,
            query: query.query,
            threshold: String(query.threshold),
          },
        })),
      },
    });
  }
  return objects;
}

const header = (what: string) =>
  `#${GENERATED_MARK}${what}; edit fleet.json (or the overlays), not this file.\n`;

const toYaml = (objects: readonly unknown[]) =>
  objects.map((object) => stringify(object, { lineWidth: 0 })).join('---\n');

/**
 * The apps the base deploys: not those switched on by an environment variable
 * (`enabledBy`, e.g. the http-worker, whose queues and endpoint are the
 * deployer's own): a Deployment of one would crash-loop, and its scaler
 * would have no queue to watch.
 */
export const kubernetesApps = (fleet: Fleet) => fleet.apps.filter((app) => app.enabledBy === undefined);

/** Every shared volume claim the apps mount. */
export const claimsOf = (fleet: Fleet): string[] =>
  [...new Set(fleet.apps.flatMap((app) => Object.keys(app.kubernetes?.volumes ?? {})))].sort();

/**
 * The files of deploy/k8s/base/apps: one per app (its Deployment, Service,
 * PodDisruptionBudget, PodMonitor, and HPA or ScaledObject), the shared volume
 * claims, and the kustomization listing them. Path (from the repository root) → text.
 */
export function generateKubernetes(fleet: Fleet): Map<string, string> {
  const files = new Map<string, string>();
  const resources: string[] = [];
  for (const app of kubernetesApps(fleet)) {
    resources.push(`${app.name}.yaml`);
    files.set(`${KUBERNETES_DIR}/${app.name}.yaml`, header(`${app.name}'s objects`) + toYaml(objectsOf(app)));
  }
  const claims = claimsOf(fleet);
  if (claims.length > 0) {
    resources.push('volumes.yaml');
    const pvcs = claims.map((claim) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: claim },
      // Shared by every pod that mounts it, on any node (overlays may change class and size).
      spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '10Gi' } } },
    }));
    files.set(`${KUBERNETES_DIR}/volumes.yaml`, header('the shared volume claims') + toYaml(pvcs));
  }
  files.set(
    `${KUBERNETES_DIR}/kustomization.yaml`,
    header('the list of app files') +
      stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources }),
  );
  return files;
}
