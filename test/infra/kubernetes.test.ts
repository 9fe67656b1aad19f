import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import type { FastifyInstance } from 'fastify';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { buildApp } from '../../src/app.js';
import { loadConfig, SHUTDOWN_FORCE_MARGIN_MS } from '../../src/config.js';
import { keyLine, newToken } from '../../src/security/keys.js';
import { exampleLoan } from '../helpers/app.js';
import { tempDir } from '../helpers/temp.js';

/**
 * The Kubernetes manifests (deploy/kubernetes) against the Kubernetes API schemas and against the
 * service itself: the port is the service's, the probes and the metrics path are routes it serves, the
 * selectors select the Deployment's pods, the image is the one compose builds, and one process per pod.
 *
 * kubernetes-models' validate() checks types, enums and required fields but not unknown fields (a
 * misspelt `readinesProbe` passes it): the checks below read every field they rely on, so a misspelt one
 * fails them. `kubectl apply --dry-run=server -k deploy/kubernetes` against a cluster is the complete check.
 */

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const DIR = 'deploy/kubernetes/';

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML documents are validated by kubernetes-models below
type Doc = any;

/** The value, or a test failure naming what was missing. */
function must<T>(value: T | null | undefined, what: string): T {
  expect(value, what).toBeDefined();
  expect(value, what).not.toBeNull();
  return value as T;
}

// ---- the manifests ------------------------------------------------------------------------------

const yamlFiles = (readdirSync(new URL(DIR, root), { recursive: true }) as string[])
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const KUSTOMIZATION = 'kustomization.yaml';
const manifestFiles = yamlFiles.filter((f) => f !== KUSTOMIZATION);

interface Manifest {
  readonly where: string;
  readonly doc: Doc;
}
const manifests: Manifest[] = manifestFiles.flatMap((file) =>
  parseAllDocuments(read(DIR + file)).flatMap((document, i) => {
    if (document.errors.length > 0) throw new Error(`${DIR}${file} document ${i}: ${document.errors[0]?.message}`);
    const doc: Doc = document.toJS();
    return doc === null ? [] : [{ where: `${DIR}${file} document ${i} (${doc.kind} ${doc.metadata?.name})`, doc }];
  }),
);

interface ModelClass<T> {
  new (data: Doc): T;
  readonly apiVersion: string;
  readonly kind: string;
}
/** The model class for every kind of object the directory may hold. */
const MODELS: ModelClass<{ validate(): void }>[] = [
  Deployment,
  Service,
  HorizontalPodAutoscaler,
  PodDisruptionBudget,
  PodMonitor,
];
const modelOf = (doc: Doc) => MODELS.find((m) => m.apiVersion === doc?.apiVersion && m.kind === doc?.kind);

/** The one object of a kind, as its model. */
function one<T>(Model: ModelClass<T>): T {
  const found = manifests.filter((m) => m.doc.apiVersion === Model.apiVersion && m.doc.kind === Model.kind);
  expect(
    found.map((m) => m.where),
    `exactly one ${Model.apiVersion} ${Model.kind}`,
  ).toHaveLength(1);
  return new Model(found[0]?.doc);
}

/** Every `key: value` of `selector` is among `labels` (an empty selector selects nothing we want). */
function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

/** `loan-default-service` from `registry.example.com:5000/loan-default-service:1.2@sha256:...`. */
function repository(image: string): string {
  const name = image.split('@')[0] as string;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return (colon > slash ? name.slice(0, colon) : name).split('/').at(-1) as string;
}
const tag = (image: string): string | undefined => /:([\w][\w.-]*)$/.exec(image.split('@')[0] as string)?.[1];

const UNITS: Record<string, number> = {
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};
/** Kubernetes quantities, for comparing requests with limits: cores, or bytes. */
function quantity(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(q));
  expect(m, `quantity ${q}`).not.toBeNull();
  const unit = m?.[2];
  return Number(m?.[1]) * (unit ? (UNITS[unit] as number) : 1);
}

/** Prometheus durations used here: 15s, 1m, 500ms. */
function seconds(duration: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(duration);
  expect(m, `duration ${duration}`).not.toBeNull();
  return Number(m?.[1]) * { ms: 1e-3, s: 1, m: 60, h: 3600 }[m?.[2] as 'ms' | 's' | 'm' | 'h'];
}

const IANA_SVC_NAME = /^(?=.{1,15}$)(?!.*--)(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const DNS_1123_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

// ---- the service --------------------------------------------------------------------------------

const config = loadConfig({ LOG_LEVEL: 'silent' });
const compose: Doc = parse(read('compose.yaml'));
const prometheus: Doc = parse(read('prometheus/prometheus.yml'));
/** The job the alerts and the dashboard select on (files.test.ts ties them to prometheus.yml). */
const JOB: string = prometheus.scrape_configs[0].job_name;
const IMAGE_REPOSITORY = repository(compose.services.service.image);

let app: FastifyInstance;
beforeAll(async () => {
  app = buildApp(config, { logger: false });
  await app.ready();
}, 60_000);
afterAll(async () => {
  await app?.close();
});

async function get(path: string): Promise<{ status: number; type: string }> {
  const res = await app.inject({ method: 'GET', url: path });
  return { status: res.statusCode, type: String(res.headers['content-type'] ?? '') };
}

// ---- the tests ----------------------------------------------------------------------------------

describe('deploy/kubernetes', () => {
  it('holds only objects of known kinds, each valid against its Kubernetes API schema', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(MODELS.length);
    for (const { where, doc } of manifests) {
      const Model = modelOf(doc);
      expect(Model, `${where}: unexpected apiVersion/kind ${doc?.apiVersion}/${doc?.kind}`).toBeDefined();
      if (!Model) continue;
      expect(() => new Model(doc).validate(), where).not.toThrow();
      expect(doc.metadata?.name, where).toMatch(DNS_1123_LABEL);
      expect(doc.metadata?.namespace, `${where}: leave the namespace to kubectl -n / kustomize`).toBeUndefined();
      expect(doc.metadata?.labels?.['app.kubernetes.io/name'], where).toBe(IMAGE_REPOSITORY);
    }
    for (const Model of MODELS) one(Model);
  });

  it('kustomization.yaml lists every manifest and sets the image', () => {
    const kustomization: Doc = parse(read(DIR + KUSTOMIZATION));
    expect(kustomization.apiVersion).toBe('kustomize.config.k8s.io/v1beta1');
    expect(kustomization.kind).toBe('Kustomization');
    expect([...kustomization.resources].sort()).toEqual(manifestFiles);
    const container = one(Deployment).spec?.template.spec?.containers[0];
    const image = must(container?.image, 'container image');
    expect(kustomization.images).toEqual([expect.objectContaining({ name: repository(image) })]);
    expect(kustomization.images[0].newTag ?? kustomization.images[0].digest, 'images[0].newTag').toBeTruthy();
  });
});

describe('the Deployment', () => {
  const deployment = () => one(Deployment);
  const podSpec = () => must(deployment().spec?.template.spec, 'spec.template.spec');
  const container = () => {
    const containers = podSpec().containers;
    expect(containers, 'one container per pod').toHaveLength(1);
    return must(containers[0], 'the container');
  };
  const httpPort = () =>
    must(
      container().ports?.find((p) => p.name === 'http'),
      'container port named http',
    );

  it('selects its own pods', () => {
    const spec = must(deployment().spec, 'spec');
    expect(selects(spec.selector.matchLabels, spec.template.metadata?.labels)).toBe(true);
    expect(spec.template.metadata?.labels?.['app.kubernetes.io/name']).toBe(IMAGE_REPOSITORY);
  });

  it('runs the image compose builds, with an explicit tag', () => {
    const image = must(container().image, 'image');
    expect(repository(image)).toBe(IMAGE_REPOSITORY);
    expect(tag(image), image).toBeDefined();
    expect(tag(image), image).not.toBe('latest');
  });

  it('listens on the service port, as the Dockerfile exposes it', () => {
    const port = httpPort();
    expect(port.containerPort).toBe(config.port);
    expect(port.protocol ?? 'TCP').toBe('TCP');
    const exposed = [...read('Dockerfile').matchAll(/^EXPOSE\s+(\d+)/gm)].map((m) => Number(m[1]));
    expect(exposed).toEqual([port.containerPort]);
    for (const p of container().ports ?? []) expect(p.name, `port ${p.containerPort}`).toMatch(IANA_SVC_NAME);
  });

  it('configures one process per pod on every interface, with a valid configuration', () => {
    const env = Object.fromEntries((container().env ?? []).map((e) => [e.name, e.value]));
    expect(env.WORKERS).toBe('1');
    for (const name of ['HOST', 'PORT', 'WORKERS', 'LOG_LEVEL']) expect(env[name], name).toBeTypeOf('string');
    // The image sets NODE_ENV=production, where WORKERS would otherwise default to every CPU.
    const podConfig = loadConfig({ NODE_ENV: 'production', ...env });
    expect(podConfig.workers).toBe(1);
    expect(podConfig.host).toBe('0.0.0.0');
    expect(podConfig.port).toBe(httpPort().containerPort);
  });

  it('probes routes the service serves: liveness /health/live, readiness /health/ready', async () => {
    const c = container();
    const probes = {
      startup: c.startupProbe,
      liveness: c.livenessProbe,
      readiness: c.readinessProbe,
    };
    for (const [kind, probe] of Object.entries(probes)) {
      const httpGet = must(probe?.httpGet, `${kind}Probe.httpGet`);
      expect([httpPort().name, httpPort().containerPort], `${kind}Probe port`).toContain(httpGet.port);
      expect(httpGet.scheme ?? 'HTTP').toBe('HTTP');
      const path = must(httpGet.path, `${kind}Probe path`);
      expect((await get(path)).status, `${kind}Probe GET ${path}`).toBe(200);
    }
    // Liveness must not fail while the server drains (that would restart it mid-shutdown): the
    // readiness route answers 503 then, the liveness route does not.
    expect(probes.liveness?.httpGet?.path).toBe('/health/live');
    expect(probes.readiness?.httpGet?.path).toBe('/health/ready');
  });

  it('leaves time for the graceful shutdown, after endpoints are removed', () => {
    const preStop = must(container().lifecycle?.preStop?.exec?.command, 'lifecycle.preStop.exec.command');
    expect(preStop).toEqual(['sleep', expect.stringMatching(/^\d+$/)]);
    const sleep = Number(preStop[1]);
    expect(sleep).toBeGreaterThanOrEqual(2);
    // The latest the server exits after SIGTERM: DRAIN_TIMEOUT_MS (as the pod configures it), then the
    // forced exit's margin (src/server.ts).
    const env = Object.fromEntries((container().env ?? []).map((e) => [e.name, e.value]));
    const hardExit = (loadConfig({ NODE_ENV: 'production', ...env }).drainTimeoutMs + SHUTDOWN_FORCE_MARGIN_MS) / 1000;
    const grace = must(podSpec().terminationGracePeriodSeconds, 'terminationGracePeriodSeconds');
    expect(grace).toBeGreaterThanOrEqual(15);
    expect(grace, `preStop ${sleep} s + forced exit ${hardExit} s`).toBeGreaterThanOrEqual(sleep + hardExit);
  });

  it('reads API keys from a required Secret, mounted where API_KEYS_FILE points', () => {
    const env = Object.fromEntries((container().env ?? []).map((e) => [e.name, e.value]));
    const file = must(env.API_KEYS_FILE, 'env API_KEYS_FILE');
    expect(loadConfig({ NODE_ENV: 'production', ...env }).apiKeysFile).toBe(file);
    const mount = must(
      container().volumeMounts?.find((m) => m.mountPath === dirname(file)),
      `a volume mounted at ${dirname(file)}`,
    );
    expect(mount.readOnly).toBe(true);
    // A subPath mount is never updated by the kubelet: keys could not rotate without a restart.
    expect(mount.subPath, 'subPath').toBeUndefined();
    const volume = must(
      podSpec().volumes?.find((v) => v.name === mount.name),
      `volume ${mount.name}`,
    );
    const secret = must(volume.secret, `volume ${mount.name}: a Secret`);
    expect(secret.secretName).toMatch(DNS_1123_LABEL);
    // Required: without keys the pods wait for the Secret instead of serving every route openly.
    expect(secret.optional ?? false).toBe(false);
    const key = must(
      secret.items?.find((i) => i.path === basename(file)),
      `the Secret's item at ${basename(file)}`,
    ).key;
    // The README's `kubectl create secret` makes exactly this Secret and key.
    expect(read(`${DIR}README.md`)).toContain(
      `kubectl create secret generic ${secret.secretName} --from-file=${key}=./${key}`,
    );
  });

  it('rotates keys the way the kubelet updates a Secret volume, without a restart; probes need no key', async () => {
    // The kubelet writes a Secret volume atomically: the files live in a timestamped directory, `..data`
    // links to it, each key's path links into `..data`, and an update renames a new `..data` over the old.
    const env = Object.fromEntries((container().env ?? []).map((e) => [e.name, e.value]));
    const name = basename(must(env.API_KEYS_FILE, 'env API_KEYS_FILE'));
    const volume = tempDir('secret-volume-');
    const publish = (version: string, lines: string[]) => {
      mkdirSync(join(volume, version));
      writeFileSync(join(volume, version, name), `${lines.join('\n')}\n`);
      symlinkSync(version, join(volume, '..data_tmp'));
      renameSync(join(volume, '..data_tmp'), join(volume, '..data'));
    };
    const client = (label: string) => {
      const token = newToken();
      return { line: keyLine(label, token, ['predict']), authorization: `Bearer ${token}` };
    };
    // Lines of the same length: the change must be noticed by more than the file's size.
    const [old, rotated] = [client('pricing-2026'), client('pricing-2027')];
    publish('..2026_11_25_10_00_00.000000001', [old.line]);
    symlinkSync(join('..data', name), join(volume, name));
    const pod = buildApp(loadConfig({ ...env, LOG_LEVEL: 'silent', API_KEYS_FILE: join(volume, name) }), {
      logger: false,
    });
    try {
      await pod.ready();
      const score = async (authorization?: string) =>
        (
          await pod.inject({
            method: 'POST',
            url: '/predict',
            payload: exampleLoan,
            headers: authorization === undefined ? {} : { authorization },
          })
        ).statusCode;
      expect(await score()).toBe(401);
      expect(await score(old.authorization)).toBe(200);
      expect(await score(rotated.authorization)).toBe(401);
      // The kubelet's probes and the PodMonitor send no key (AUTH_OPS=open, the default).
      for (const probe of [container().livenessProbe, container().readinessProbe, container().startupProbe]) {
        const path = must(probe?.httpGet?.path, 'probe path');
        expect((await pod.inject({ method: 'GET', url: path })).statusCode, path).toBe(200);
      }
      expect((await pod.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);

      publish('..2026_11_25_11_00_00.000000002', [rotated.line]);
      await vi.waitFor(async () => expect(await score(rotated.authorization)).toBe(200), {
        timeout: 8000,
        interval: 200,
      });
      expect(await score(old.authorization)).toBe(401);
    } finally {
      await pod.close();
      rmSync(volume, { recursive: true });
    }
  }, 20_000);

  it('rolls out without losing a ready pod', () => {
    const strategy = must(deployment().spec?.strategy, 'spec.strategy');
    expect(strategy.type).toBe('RollingUpdate');
    expect([0, '0', '0%']).toContain(strategy.rollingUpdate?.maxUnavailable);
    expect(deployment().spec?.replicas).toBeGreaterThanOrEqual(2);
  });

  it('runs as non-root, read-only, without privileges', () => {
    const pod = podSpec().securityContext ?? {};
    const sc = container().securityContext ?? {};
    expect(sc.runAsNonRoot ?? pod.runAsNonRoot).toBe(true);
    // The image's USER is the name `node`: the kubelet needs a numeric uid to enforce runAsNonRoot.
    expect(read('Dockerfile')).toMatch(/^USER node$/m);
    expect(sc.runAsUser ?? pod.runAsUser).toBe(1000);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.privileged ?? false).toBe(false);
    expect(sc.capabilities?.drop).toContain('ALL');
    expect(sc.capabilities?.add ?? []).toEqual([]);
    expect((sc.seccompProfile ?? pod.seccompProfile)?.type).toBe('RuntimeDefault');
  });

  it('requests and limits CPU and memory, requests within limits', () => {
    const resources = must(container().resources, 'resources');
    for (const r of ['cpu', 'memory']) {
      const request = must(resources.requests?.[r], `requests.${r}`);
      const limit = must(resources.limits?.[r], `limits.${r}`);
      expect(quantity(request), `${r}: request ${request} <= limit ${limit}`).toBeLessThanOrEqual(quantity(limit));
    }
    // One process with four models loaded is 150-250 MB resident.
    expect(quantity(must(resources.limits?.memory, 'limits.memory'))).toBeGreaterThanOrEqual(256 * 2 ** 20);
  });
});

describe('Service, HorizontalPodAutoscaler, PodDisruptionBudget and PodMonitor', () => {
  const deployment = () => one(Deployment);
  const podLabels = () => deployment().spec?.template.metadata?.labels;
  const container = () => must(deployment().spec?.template.spec?.containers[0], 'the container');
  const portNames = () => (container().ports ?? []).map((p) => p.name);

  it('the Service sends port 80 to the pods’ http port', () => {
    const spec = must(one(Service).spec, 'Service spec');
    expect(spec.type ?? 'ClusterIP').toBe('ClusterIP');
    expect(selects(spec.selector, podLabels()), 'Service selector').toBe(true);
    const [port, ...more] = spec.ports ?? [];
    expect(more).toEqual([]);
    expect(port?.name).toBe('http');
    expect(port?.port).toBe(80);
    expect(portNames()).toContain(port?.targetPort);
  });

  it('the HorizontalPodAutoscaler scales the Deployment on CPU, 2 to 10 pods', () => {
    const spec = must(one(HorizontalPodAutoscaler).spec, 'HPA spec');
    expect(spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment().metadata?.name,
    });
    expect(spec.minReplicas).toBe(2);
    expect(spec.maxReplicas).toBe(10);
    const replicas = must(deployment().spec?.replicas, 'Deployment replicas');
    expect(replicas).toBeGreaterThanOrEqual(spec.minReplicas ?? 1);
    expect(replicas).toBeLessThanOrEqual(spec.maxReplicas);
    const cpu = (spec.metrics ?? []).find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
    expect(cpu?.resource?.target.type).toBe('Utilization');
    expect(cpu?.resource?.target.averageUtilization).toBeGreaterThan(0);
    // Utilisation is relative to the request: without one the HPA cannot compute it.
    expect(container().resources?.requests?.cpu).toBeDefined();
  });

  it('the PodDisruptionBudget keeps a pod of the Deployment available and lets drains progress', () => {
    const spec = must(one(PodDisruptionBudget).spec, 'PDB spec');
    expect(selects(spec.selector?.matchLabels, podLabels()), 'PDB selector').toBe(true);
    expect(spec.minAvailable).toBe(1);
    const minReplicas = must(one(HorizontalPodAutoscaler).spec?.minReplicas, 'HPA minReplicas');
    expect(spec.minAvailable, 'below the smallest replica count, or no pod could ever be evicted').toBeLessThan(
      minReplicas,
    );
  });

  it('the PodMonitor scrapes /metrics on the http port, as the alerts’ and dashboard’s job', async () => {
    const spec = must(one(PodMonitor).spec, 'PodMonitor spec');
    expect(selects(spec.selector.matchLabels, podLabels()), 'PodMonitor selector').toBe(true);
    const [endpoint, ...more] = spec.podMetricsEndpoints ?? [];
    expect(more).toEqual([]);
    expect(portNames()).toContain(endpoint?.port);
    expect(endpoint?.path).toBe('/metrics');
    const metrics = await get(must(endpoint?.path, 'path'));
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain/);
    const interval = must(endpoint?.interval, 'interval');
    expect(interval).toBe('15s');
    if (endpoint?.scrapeTimeout) expect(seconds(endpoint.scrapeTimeout)).toBeLessThanOrEqual(seconds(interval));
    // job = the value of the pod label named by jobLabel: the job prometheus/alerts.yml and the dashboard use.
    expect(podLabels()?.[must(spec.jobLabel, 'jobLabel')]).toBe(JOB);
  });
});
