import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** A named readiness check: resolves when the dependency answers, throws when it does not. */
export type ReadinessCheck = () => Promise<void>;

export interface OpsServerOptions {
  logger: Logger;
  registry: Registry;
  readiness: Record<string, ReadinessCheck>;
}

/** A registry with the process and Node.js default metrics, labelled with the app name. */
export function createMetricsRegistry(app: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * The operations listener: plain HTTP, meant for 127.0.0.1 or a cluster-internal network.
 * `/metrics` (Prometheus text), `/health/live` (the process runs) and `/health/ready`
 * (every dependency answers; 503 naming the ones that do not). Each scrape runs the same
 * checks for `readiness_check_up{check}` (1 passing, 0 failing), so an alert sees an app that
 * is up but not ready.
 */
export function buildOpsServer({ logger, registry, readiness }: OpsServerOptions) {
  const app = Fastify({ loggerInstance: logger.child({ listener: 'ops' }) as FastifyBaseLogger });

  // Scrapes and probes come every few seconds: only their failures are worth a log line.
  const quiet = { logLevel: 'warn' as const };

  app.get('/metrics', quiet, async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });

  app.get('/health/live', quiet, async () => ({ status: 'ok' }));

  // A check that never passed yet is an app still starting (probes begin before it is ready):
  // worth a debug line only. A check that passed and then fails is a lost dependency: a warning.
  const passed = new Set<string>();
  const runChecks = () =>
    Promise.all(
      Object.entries(readiness).map(async ([name, check]) => {
        try {
          await check();
          passed.add(name);
          return [name, 'ok'] as const;
        } catch (error) {
          const level = passed.has(name) ? 'warn' : 'debug';
          logger[level]({ check: name, reason: (error as Error).message }, 'readiness check failed');
          return [name, 'failing'] as const;
        }
      }),
    );
  new Gauge({
    name: 'readiness_check_up',
    help: 'Whether each readiness check of /health/ready passes (1) or fails (0), run at each scrape',
    labelNames: ['check'],
    registers: [registry],
    async collect() {
      for (const [name, status] of await runChecks()) this.set({ check: name }, status === 'ok' ? 1 : 0);
    },
  });

  app.get('/health/ready', quiet, async (_request, reply) => {
    const results = await runChecks();
    const checks = Object.fromEntries(results);
    const ready = results.every(([, status]) => status === 'ok');
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ok' : 'unavailable', checks };
  });

  return app;
}
