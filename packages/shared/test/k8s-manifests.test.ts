import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadToolModules } from '../../../apps/tool-worker/src/load-tool-modules.ts';
import { createToolSet } from '../../../apps/tool-worker/src/tool-set.ts';
import { POOL_NAME_PATTERN } from '../src/queue/names.ts';
import { parseAppEnv, unknownVariables } from './support/app-env.ts';
import {
  appOf,
  containerEnv,
  declaredPort,
  httpProbe,
  K8S_DIR,
  modelClass,
  mountedSecretFiles,
  ofKind,
  readManifests,
  type EnvSources,
} from './support/k8s-manifests.ts';

// Offline checks of infra/k8s: every document against the Kubernetes (and KEDA) API schemas, then
// what the schemas cannot see: that the pieces fit each other and the apps.

interface Kustomization {
  namespace?: string;
  resources?: string[];
  configMapGenerator?: Array<{ name: string; files?: string[] }>;
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
}

const kustomization = parse(readFileSync(`${K8S_DIR}kustomization.yaml`, 'utf8')) as Kustomization;
const SECRETS_EXAMPLE = 'secret.example.yaml';
const manifestFiles = readdirSync(K8S_DIR)
  .filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml')
  .sort();
const applied = manifestFiles.filter((file) => file !== SECRETS_EXAMPLE);
const manifests = manifestFiles.flatMap(readManifests);
const deployed = manifests.filter((manifest) => manifest.file !== SECRETS_EXAMPLE);

const deployments = ofKind(deployed, Deployment);
const scaledObjects = ofKind(deployed, ScaledObject);
const generated = new Map((kustomization.configMapGenerator ?? []).map((generator) => [generator.name, generator.files ?? []]));
const sources: EnvSources = {
  configMaps: new Map(ofKind(deployed, ConfigMap).map(({ model }) => [model.metadata?.name ?? '', model.data ?? {}])),
  // The Secrets users create; the example documents each key the manifests reference.
  secrets: new Map(ofKind(manifests, Secret).map(({ model }) => [model.metadata?.name ?? '', model.stringData ?? {}])),
};

const containersOf = (deployment: Deployment): IContainer[] => deployment.spec?.template.spec?.containers ?? [];
const nameOf = (deployment: Deployment) => deployment.metadata?.name ?? '';
const orchestrator = deployments.find(({ model }) => containersOf(model).some((container) => appOf(container) === 'orchestrator'))?.model;
/** Each worker pool's Deployment with its pool (VOLLEY_POOL) and main container. */
const pools = deployments.flatMap(({ model }) => {
  const container = containersOf(model).find((candidate) => appOf(candidate) === 'tool-worker');
  if (!container) return [];
  const { env } = containerEnv(container, sources);
  return [{ deployment: model, container, env, pool: env.VOLLEY_POOL ?? 'default' }];
});

describe('infra/k8s', () => {
  describe('kustomization.yaml', () => {
    it('applies every manifest but the example Secrets, and only files that exist', () => {
      expect([...(kustomization.resources ?? [])].sort()).toEqual(applied);
      expect(kustomization.resources).not.toContain(SECRETS_EXAMPLE);
    });

    it('puts everything in the namespace it defines', () => {
      const namespaces = ofKind(deployed, Namespace).map(({ model }) => model.metadata?.name);
      expect(namespaces).toEqual([kustomization.namespace]);
    });

    it('generates its ConfigMaps from files that exist', () => {
      for (const files of generated.values()) {
        for (const file of files) expect(existsSync(`${K8S_DIR}${file}`), file).toBe(true);
      }
    });

    it('sets the image every container runs', () => {
      const images = new Set(deployments.flatMap(({ model }) => containersOf(model).map((container) => container.image)));
      expect([...images]).toEqual(['volley:dev']);
      expect(kustomization.images?.map((image) => image.name)).toEqual(['volley']);
    });
  });

  describe('every document', () => {
    it('is a kind these checks know', () => {
      expect(manifests.filter((manifest) => !modelClass(manifest)).map((manifest) => `${manifest.file}#${manifest.index} ${manifest.type}`)).toEqual([]);
    });

    it.each(manifests.map((manifest) => [`${manifest.file}#${manifest.index} ${manifest.type} ${manifest.name}`, manifest] as const))(
      '%s is valid against its API schema',
      (_label, manifest) => {
        const Model = modelClass(manifest)!;
        expect(() => new (Model as new (data: unknown) => { validate(): void })(manifest.raw).validate()).not.toThrow();
        expect(manifest.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      },
    );

    it('has a name unique for its kind', () => {
      const keys = manifests.map((manifest) => `${manifest.type}/${manifest.name}`);
      expect(keys.filter((key, index) => keys.indexOf(key) !== index)).toEqual([]);
    });
  });

  describe('every Deployment', () => {
    it.each(deployments.map(({ model }) => [nameOf(model), model] as const))('%s selects its own pods', (_name, deployment) => {
      const labels = deployment.spec?.template.metadata?.labels ?? {};
      expect(deployment.spec?.selector.matchLabels).toBeDefined();
      expect(labels).toMatchObject(deployment.spec?.selector.matchLabels ?? {});
    });

    it.each(deployments.map(({ model }) => [nameOf(model), model] as const))(
      '%s runs Volley as non-root, with requests and a memory limit, and probes on declared ports',
      (_name, deployment) => {
        // What a PodMonitor (or a NetworkPolicy) selects Volley's pods by.
        expect(deployment.spec?.template.metadata?.labels?.['app.kubernetes.io/part-of']).toBe('volley');
        const pod = deployment.spec?.template.spec;
        expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: expect.any(Number) });
        for (const container of containersOf(deployment)) {
          const app = appOf(container);
          expect(app, `${container.name} runs a Volley app`).toBeDefined();
          const script = app === 'tool-worker' ? 'apps/tool-worker/src/main.ts' : 'apps/orchestrator/src/main.ts';
          expect(existsSync(`${K8S_DIR}../../${script}`)).toBe(true);
          expect(container.resources?.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
          expect(container.resources?.limits?.memory).toBeDefined();
          for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
            const get = httpProbe(probe);
            expect(get, `${container.name}: an HTTP probe`).toBeDefined();
            expect(declaredPort(container, get?.port), `${container.name}: probe port ${String(get?.port)} is declared`).toBeDefined();
          }
          expect(httpProbe(container.livenessProbe)?.path).toBe('/healthz');
          expect(httpProbe(container.readinessProbe)?.path).toBe('/readyz');
          const scrapePort = Number(deployment.spec?.template.metadata?.annotations?.['prometheus.io/port']);
          expect(declaredPort(container, scrapePort), 'Prometheus scrapes a declared port').toBeDefined();
        }
      },
    );

    it.each(deployments.map(({ model }) => [nameOf(model), model] as const))(
      '%s sets only variables its app reads, with values it accepts, from ConfigMaps and Secrets that exist',
      (_name, deployment) => {
        for (const container of containersOf(deployment)) {
          const app = appOf(container)!;
          const { env, problems } = containerEnv(container, sources);
          const mounted = mountedSecretFiles(deployment.spec!.template.spec!, container, sources);
          expect([...problems, ...mounted.problems]).toEqual([]);
          expect(unknownVariables(app, Object.keys(env))).toEqual([]);
          expect(() => parseAppEnv(app, env, mounted.files)).not.toThrow();
        }
        for (const volume of deployment.spec?.template.spec?.volumes ?? []) {
          if (volume.configMap) expect(sources.configMaps.has(volume.configMap.name ?? '') || generated.has(volume.configMap.name ?? '')).toBe(true);
        }
      },
    );

    it.each(deployments.map(({ model }) => [nameOf(model), model] as const))(
      '%s gives running work its VOLLEY_SHUTDOWN_TIMEOUT_MS, and the preStop pause, before SIGKILL',
      (_name, deployment) => {
        const graceMs = (deployment.spec?.template.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
        for (const container of containersOf(deployment)) {
          const config = parseAppEnv(
            appOf(container)!,
            containerEnv(container, sources).env,
            mountedSecretFiles(deployment.spec!.template.spec!, container, sources).files,
          );
          const sleep = container.lifecycle?.preStop?.exec?.command;
          const preStopMs = sleep?.[0] === 'sleep' ? Number(sleep[1]) * 1000 : 0;
          // At least 5 s more for closing connections and flushing traces after the drain.
          expect(graceMs).toBeGreaterThanOrEqual(preStopMs + Number(config.VOLLEY_SHUTDOWN_TIMEOUT_MS) + 5_000);
          // A worker's /healthz fails while it drains: liveness must not give up before the drain ends.
          const liveness = container.livenessProbe;
          const livenessGivesUpMs = (liveness?.periodSeconds ?? 10) * (liveness?.failureThreshold ?? 3) * 1000;
          expect(livenessGivesUpMs).toBeGreaterThan(Number(config.VOLLEY_SHUTDOWN_TIMEOUT_MS));
        }
      },
    );
  });

  describe('the orchestrator', () => {
    it('runs 2 replicas behind a Service that reaches its HTTP port', () => {
      expect(orchestrator?.spec?.replicas).toBe(2);
      const container = containersOf(orchestrator!)[0]!;
      const port = Number(containerEnv(container, sources).env.PORT);
      const services = ofKind(deployed, Service).filter(({ model }) =>
        Object.entries(model.spec?.selector ?? {}).every(([key, value]) => orchestrator?.spec?.template.metadata?.labels?.[key] === value),
      );
      expect(services).toHaveLength(1);
      const servicePorts = services[0]!.model.spec?.ports ?? [];
      expect(servicePorts.map((servicePort) => declaredPort(container, servicePort.targetPort))).toEqual([port]);
      expect(declaredPort(container, 'http')).toBe(port);
    });

    it('reads its API keys from a file mounted from a Secret, so authentication is on and keys rotate', () => {
      const container = containersOf(orchestrator!)[0]!;
      const { env } = containerEnv(container, sources);
      const { files } = mountedSecretFiles(orchestrator!.spec!.template.spec!, container, sources);
      expect(env.VOLLEY_API_KEYS).toBeUndefined();
      expect(files.get(env.VOLLEY_API_KEYS_FILE ?? '')).toBe(sources.secrets.get('volley-orchestrator')?.VOLLEY_API_KEYS);
      const config = parseAppEnv('orchestrator', env, files);
      expect(config.VOLLEY_API_KEYS_FILE).toEqual([{ key: expect.any(String), tenant: 'ops' }]);
      // A subPath mount would never see the Secret change.
      const mount = container.volumeMounts?.find((candidate) => env.VOLLEY_API_KEYS_FILE?.startsWith(`${candidate.mountPath}/`));
      expect(mount?.subPath).toBeUndefined();
      const volume = orchestrator!.spec!.template.spec!.volumes?.find((candidate) => candidate.name === mount?.name);
      expect(volume?.secret?.optional ?? false).toBe(false);
    });
  });

  describe('worker pools', () => {
    it('has the default pool and the io example', () => {
      expect(pools.map(({ pool }) => pool).sort()).toEqual(['default', 'io']);
    });

    it.each(pools.map((entry) => [entry.pool, entry] as const))(
      'pool %s: one Deployment named after it, replicas left to KEDA, probes on its metrics port',
      (pool, { deployment, container, env }) => {
        expect(pool).toMatch(POOL_NAME_PATTERN);
        expect(nameOf(deployment)).toBe(`volley-tool-worker-${pool}`);
        expect(pools.filter((entry) => entry.pool === pool)).toHaveLength(1);
        // A replica count here would reset the autoscaler's on every apply.
        expect(deployment.spec?.replicas).toBeUndefined();
        const metricsPort = Number(env.VOLLEY_METRICS_PORT);
        expect(metricsPort).toBeGreaterThan(0);
        for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
          expect(declaredPort(container, httpProbe(probe)?.port)).toBe(metricsPort);
        }
        expect(Number(deployment.spec?.template.metadata?.annotations?.['prometheus.io/port'])).toBe(metricsPort);
      },
    );

    it.each(pools.map((entry) => [entry.pool, entry] as const))('pool %s scales with one ScaledObject on its own slot demand', (pool, { deployment, env }) => {
      const targeting = scaledObjects.filter(({ model }) => model.spec.scaleTargetRef.name === nameOf(deployment));
      expect(targeting).toHaveLength(1);
      const spec = targeting[0]!.model.spec;
      expect(spec.scaleTargetRef.kind ?? 'Deployment').toBe('Deployment');
      expect(spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(spec.maxReplicaCount).toBeGreaterThan(spec.minReplicaCount!);
      expect(spec.cooldownPeriod).toBeGreaterThan(0);
      expect(spec.fallback?.replicas).toBeGreaterThanOrEqual(spec.minReplicaCount!);
      expect(spec.triggers).toHaveLength(1);
      const trigger = spec.triggers[0]!;
      expect(trigger.type).toBe('prometheus');
      expect(trigger.metricType ?? 'AverageValue').toBe('AverageValue');
      const { query, threshold, activationThreshold, serverAddress, ignoreNullValues } = trigger.metadata;
      expect(new URL(serverAddress ?? '').protocol).toMatch(/^https?:$/);
      // Demand: the deficit plus the slots the pool has, both for this pool and no other.
      expect(query).toBe(`max(volley_pool_slot_deficit{pool="${pool}"} + volley_pool_slots{pool="${pool}"})`);
      // One replica's worth of demand: at most the slots a replica has.
      expect(Number(threshold)).toBeGreaterThan(0);
      expect(Number(threshold)).toBeLessThanOrEqual(Number(env.VOLLEY_WORKER_CONCURRENCY));
      expect(Number(activationThreshold)).toBeGreaterThanOrEqual(0);
      expect(ignoreNullValues).toBe('false');
    });

    it('has no ScaledObject aimed at anything but a pool', () => {
      const targets = scaledObjects.map(({ model }) => model.spec.scaleTargetRef.name).sort();
      expect(targets).toEqual(pools.map(({ deployment }) => nameOf(deployment)).sort());
    });

    it('mounts the io pool the tool module that VOLLEY_TOOL_MODULES names, and the module loads', async () => {
      const io = pools.find((entry) => entry.pool === 'io')!;
      expect(io.env.VOLLEY_BUILTIN_TOOLS).toBe('false');
      const modulePath = `/app/${io.env.VOLLEY_TOOL_MODULES}`;
      const mount = io.container.volumeMounts?.find((candidate) => modulePath.startsWith(`${candidate.mountPath}/`));
      const volume = io.deployment.spec?.template.spec?.volumes?.find((candidate) => candidate.name === mount?.name);
      const file = modulePath.slice(`${mount?.mountPath}/`.length);
      expect(generated.get(volume?.configMap?.name ?? '')?.map((path) => path.split('/').at(-1))).toContain(file);
      const source = generated.get(volume!.configMap!.name!)!.find((path) => path.endsWith(file))!;
      const tools = createToolSet(await loadToolModules([source], K8S_DIR));
      expect([...tools.keys()]).toEqual(['resolve_host']);
    });

    it('keeps the io example tool away from cluster-internal names', async () => {
      const tools = createToolSet(await loadToolModules(['tools/io-tools.ts'], K8S_DIR));
      const resolveHost = tools.get('resolve_host')!.tool;
      const ctx = { signal: new AbortController().signal } as Parameters<typeof resolveHost.execute>[1];
      for (const host of ['localhost', 'redis', 'redis.volley.svc', 'redis.volley.svc.cluster.local', 'printer.local', '10.0.0.1', '::1']) {
        await expect(
          Promise.resolve().then(() => resolveHost.execute({ host }, ctx)),
          host,
        ).rejects.toThrow(/not a public host name/);
      }
    });
  });
});
