export { createLogger, loggerOptions, redactedPaths, type LoggerSettings } from './logger.ts';
export { buildOpsServer, createMetricsRegistry, type OpsServerOptions, type ReadinessCheck } from './ops-server.ts';
export { onShutdownSignal } from './shutdown.ts';
