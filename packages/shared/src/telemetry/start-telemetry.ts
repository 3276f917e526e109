import { NodeSDK } from '@opentelemetry/sdk-node';
import { volleyIdGenerator } from './span-ids.ts';
import { markTracingEnabled } from './tracing.ts';

export interface Telemetry {
  enabled: boolean;
  /** Flushes what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * The only place that touches the OpenTelemetry SDK. Tracing is on when an OTLP endpoint (or
 * another exporter) is configured through the standard `OTEL_*` variables, which the SDK reads
 * itself (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`, …);
 * otherwise every span is a no-op and nothing is exported.
 */
export function startTelemetry(options: { serviceName: string; env: NodeJS.ProcessEnv }): Telemetry {
  const { env } = options;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim();
  const configured =
    Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()) ||
    (exporter !== undefined && exporter !== '' && exporter !== 'none');
  if (!configured || env.OTEL_SDK_DISABLED === 'true') return { enabled: false, shutdown: async () => undefined };
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME?.trim() || options.serviceName,
    idGenerator: volleyIdGenerator,
    instrumentations: [],
  });
  sdk.start();
  markTracingEnabled();
  let stopped: Promise<void> | undefined;
  return { enabled: true, shutdown: () => (stopped ??= sdk.shutdown().catch(() => undefined)) };
}
