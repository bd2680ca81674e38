import { setTimeout as sleep } from 'node:timers/promises';
import { context, diag, DiagLogLevel, propagation, trace, type DiagLogger, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Logger } from 'pino';

/** The OpenTelemetry SDK of this process, when it runs. */
export interface Tracing {
  /** True when spans are recorded and exported over OTLP. */
  enabled: boolean;
  /** Exports the spans still buffered and stops the SDK; part of the app's `stop()`. Never throws. */
  shutdown(): Promise<void>;
}

/** How long a shutdown waits for the last spans to be exported. */
const SHUTDOWN_MS = 5_000;

let running: Tracing | undefined;
let tracer: Tracer | undefined;

/** True while the OpenTelemetry SDK records spans: code that would make a span per row asks first. */
export function isTracing(): boolean {
  return tracer !== undefined;
}

/** The SDK's tracer while it runs. */
export function sdkTracer(): Tracer | undefined {
  return tracer;
}

/**
 * True when the standard variables ask for traces: an OTLP endpoint is set, and neither
 * `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none` turns them off.
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return Boolean(endpoint) && env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== 'true' && env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() !== 'none';
}

/**
 * Starts the OpenTelemetry Node SDK when the standard OTel variables ask for traces (see
 * `tracingRequested`); the SDK reads every other `OTEL_*` variable itself (protocol, headers,
 * sampler, resource attributes, batch delays). `service.name` is `service` unless
 * `OTEL_SERVICE_NAME` says otherwise. Traces only: metrics stay on the Prometheus port and logs
 * on stdout. Otherwise nothing is loaded or started and `@opentelemetry/api` stays a no-op.
 *
 * One SDK per process: a second call while one runs shares it and leaves its shutdown to the first.
 */
export async function startTracing(service: string, logger?: Logger): Promise<Tracing> {
  if (running) return { enabled: running.enabled, shutdown: async () => {} };
  if (!tracingRequested()) return { enabled: false, shutdown: async () => {} };
  if (logger && !process.env.OTEL_LOG_LEVEL) diag.setLogger(diagnosticsTo(logger), DiagLogLevel.WARN);
  // Loaded only when asked for: a process without traces never loads the SDK and its exporters.
  const [{ NodeSDK }, { defaultResource, resourceFromAttributes }] = await Promise.all([import('@opentelemetry/sdk-node'), import('@opentelemetry/resources')]);
  const sdk = new NodeSDK({
    // The base resource: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, read by the SDK's detectors, win over it.
    resource: defaultResource().merge(resourceFromAttributes({ 'service.name': service })),
    textMapPropagator: new W3CTraceContextPropagator(),
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  tracer = trace.getTracer('tenant-sync');
  logger?.info({ protocol: process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf' }, 'exporting traces over OTLP');
  const tracing: Tracing = {
    enabled: true,
    async shutdown() {
      if (running !== tracing) return;
      running = undefined;
      tracer = undefined;
      // A refused export is lost and said so; a collector away costs at most a few seconds of the app's shutdown.
      const settled = sdk.shutdown().then(
        () => true,
        (error: unknown) => {
          logger?.warn({ err: error }, 'spans not exported at shutdown');
          return true;
        },
      );
      if (!(await Promise.race([settled, sleep(SHUTDOWN_MS, false, { ref: false })]))) {
        logger?.warn({ waitedMs: SHUTDOWN_MS }, 'spans not exported at shutdown: the collector did not take them in time');
      }
      trace.disable();
      context.disable();
      propagation.disable();
      diag.disable();
    },
  };
  running = tracing;
  return tracing;
}

/** The SDK's own warnings (an unreachable collector, a bad variable) as the app's log lines. */
function diagnosticsTo(logger: Logger): DiagLogger {
  const log = logger.child({ component: 'opentelemetry' });
  return {
    error: (message, ...args) => log.warn({ args }, message),
    warn: (message, ...args) => log.warn({ args }, message),
    info: (message) => log.info(message),
    debug: (message) => log.debug(message),
    verbose: (message) => log.trace(message),
  };
}
