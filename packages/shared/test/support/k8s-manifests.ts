import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';
import type { App } from './app-env.ts';

// Loading and reading infra/k8s offline: every document becomes its kubernetes-models (or
// @kubernetes-models/keda) class, whose `validate()` checks it against the API's JSON schema.

export const K8S_DIR = fileURLToPath(new URL('../../../../infra/k8s/', import.meta.url));

/** The kinds infra/k8s may hold, by `apiVersion/kind`; any other is a test failure. */
export const MODELS = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
} as const;

type ModelClass = (typeof MODELS)[keyof typeof MODELS];

export interface Manifest {
  file: string;
  /** Position of the document in its file. */
  index: number;
  type: string;
  name: string;
  raw: Record<string, unknown>;
}

/** Every YAML document of `file` (relative to infra/k8s); YAML errors and empty documents throw. */
export function readManifests(file: string): Manifest[] {
  const documents = parseAllDocuments(readFileSync(`${K8S_DIR}${file}`, 'utf8'));
  if (!Array.isArray(documents)) throw new Error(`${file}: not a YAML stream`);
  return documents.map((document, index) => {
    const problems = [...document.errors, ...document.warnings];
    if (problems.length > 0) throw new Error(`${file}#${index}: ${problems.map((problem) => problem.message).join('; ')}`);
    const raw = document.toJS() as Record<string, unknown> | null;
    if (!raw || typeof raw !== 'object') throw new Error(`${file}#${index}: empty document`);
    const metadata = raw.metadata as { name?: string } | undefined;
    return { file, index, type: `${String(raw.apiVersion)}/${String(raw.kind)}`, name: metadata?.name ?? '', raw };
  });
}

/** The model class of a manifest's kind, or undefined for a kind infra/k8s should not hold. */
export function modelClass(manifest: Manifest): ModelClass | undefined {
  return (MODELS as Record<string, ModelClass>)[manifest.type];
}

/** Builds the typed model of each manifest of one kind. */
export function ofKind<C extends ModelClass>(manifests: readonly Manifest[], model: C): Array<{ file: string; model: InstanceType<C> }> {
  return manifests
    .filter((manifest) => manifest.type === `${model.apiVersion}/${model.kind}`)
    .map((manifest) => ({ file: manifest.file, model: new (model as unknown as new (data: unknown) => InstanceType<C>)(manifest.raw) }));
}

/** Which Volley process a container runs: the image's default command is the orchestrator. */
export function appOf(container: IContainer): App | undefined {
  const command = [...(container.command ?? []), ...(container.args ?? [])];
  if (command.length === 0 || command.includes('apps/orchestrator/src/main.ts')) return 'orchestrator';
  if (command.includes('apps/tool-worker/src/main.ts')) return 'tool-worker';
  return undefined;
}

/** The container port a probe (or a Service's targetPort) names, by name or number. */
export function declaredPort(container: IContainer, port: string | number | undefined): number | undefined {
  const found = (container.ports ?? []).find((candidate) => (typeof port === 'number' ? candidate.containerPort === port : candidate.name === port));
  return found?.containerPort;
}

export function httpProbe(probe: IProbe | undefined): { path: string; port: string | number } | undefined {
  const get = probe?.httpGet;
  return get ? { path: get.path ?? '/', port: get.port } : undefined;
}

export interface EnvSources {
  configMaps: ReadonlyMap<string, Readonly<Record<string, string>>>;
  secrets: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

/**
 * The environment a container starts with: `envFrom` ConfigMaps and Secrets, then `env` values
 * and key references. Every reference must resolve (an optional one too: the example Secrets
 * document every key), else it is listed in `problems`.
 */
export function containerEnv(container: IContainer, sources: EnvSources): { env: Record<string, string>; problems: string[] } {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    const pool = from.configMapRef ? sources.configMaps : sources.secrets;
    const data = ref?.name === undefined ? undefined : pool.get(ref.name);
    if (!data) problems.push(`envFrom ${JSON.stringify(from)} names nothing defined`);
    else Object.assign(env, Object.fromEntries(Object.entries(data).map(([key, value]) => [`${from.prefix ?? ''}${key}`, value])));
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) {
      env[variable.name] = variable.value ?? '';
      continue;
    }
    const ref = from.configMapKeyRef ?? from.secretKeyRef;
    const pool = from.configMapKeyRef ? sources.configMaps : sources.secrets;
    const value = ref ? pool.get(ref.name ?? '')?.[ref.key] : undefined;
    if (value === undefined) problems.push(`${variable.name}: ${JSON.stringify(from)} resolves to nothing`);
    else env[variable.name] = value;
  }
  return { env, problems };
}

/**
 * The files a container sees from its pod's Secret volumes, path → content: each mounted item
 * (or every key, without `items`) resolved against `sources`. A volume or key that resolves to
 * nothing is listed in `problems`.
 */
export function mountedSecretFiles(pod: IPodSpec, container: IContainer, sources: EnvSources): { files: Map<string, string>; problems: string[] } {
  const files = new Map<string, string>();
  const problems: string[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const secret = pod.volumes?.find((volume) => volume.name === mount.name)?.secret;
    if (!secret) continue;
    const data = sources.secrets.get(secret.secretName ?? '');
    if (!data) {
      problems.push(`volume ${mount.name}: Secret ${secret.secretName} is not defined`);
      continue;
    }
    const items = secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const { key, path } of items) {
      const content = data[key];
      if (content === undefined) problems.push(`volume ${mount.name}: Secret ${secret.secretName} has no key ${key}`);
      else files.set(`${mount.mountPath.replace(/\/$/, '')}/${path}`, content);
    }
  }
  return { files, problems };
}
