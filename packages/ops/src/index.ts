export { createLogger, loggerOptions, redactedPaths, type LogFormat, type LoggerSettings } from './logger.ts';
export { buildOpsServer, createMetricsRegistry, type OpsServerOptions, type ReadinessCheck } from './ops-server.ts';
export { backoffDelay, withRetry, type BackoffPolicy, type RetryHooks } from './backoff.ts';
export { onShutdownSignal } from './shutdown.ts';
export { DependencyTimeoutError } from './errors.ts';
export { portAnswers, waitForDependencies, type WaitOptions } from './wait-for-dependencies.ts';
export { keepShortLivedObjectsYoung } from './heap.ts';
