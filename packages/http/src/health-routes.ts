import type { FastifyInstance } from 'fastify';

/**
 * `GET /health/live` (the process answers) and `GET /health/ready` (`ready` resolves), both
 * without authentication: they are registered outside any authenticated scope.
 */
export function registerHealthRoutes(app: Pick<FastifyInstance, 'get'>, ready: () => Promise<void>): void {
  app.get('/health/live', async () => ({ status: 'ok' }));
  app.get('/health/ready', async () => {
    await ready();
    return { status: 'ok' };
  });
}
