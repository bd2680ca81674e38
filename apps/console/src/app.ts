import { readFileSync } from 'node:fs';
import helmet from '@fastify/helmet';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ConsoleConfig } from '@tenant-sync/config';
import { pingDatabase, type SourceDatabase } from '@tenant-sync/db';
import { createHttpsServer, registerHealthRoutes } from '@tenant-sync/http';
import type { Kafka } from '@tenant-sync/kafka';
import { cacheMemberships, tokenVerifierFromSettings } from '@tenant-sync/tenant-auth';
import { serverTlsOptions, type TlsMaterial } from '@tenant-sync/tls';
import { splitList } from '@tenant-sync/config';
import { createDeadLetterScan } from './dead-letter-scan.ts';
import { entityKinds } from './entity-types.ts';
import { parseInstances } from './operator/instances.ts';
import { operatorRoutes } from './operator/routes.ts';
import { errorPage, type ErrorBody } from './pages/error-page.ts';
import { requireSameOrigin } from './same-origin.ts';
import { membershipAsOperator } from './tenant/membership.ts';
import { tenantRoutes } from './tenant/routes.ts';
import { createTenantApis } from './tenant/tenant-apis.ts';

export interface ConsoleDependencies {
  config: ConsoleConfig;
  logger: Logger;
  tls: TlsMaterial;
  /** The source database as the operator's login (tenant_operator). */
  db: Kysely<SourceDatabase>;
  kafka: Kafka;
  /** Where request metrics go (the operations port serves it). */
  registry?: Registry;
}

const asset = (name: string) => readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8');

const wantsHtml = (accept: string | undefined) => (accept ?? '').includes('text/html');

/**
 * The console's listener (:8003): TLS that asks for a client certificate without demanding
 * one, so a tenant admin's browser connects with none and an operator's presents theirs. Pages
 * are rendered here; one stylesheet and one small script are the only assets.
 */
export async function buildConsoleServer({ config, logger, tls, db, kafka, registry }: ConsoleDependencies) {
  const app = await createHttpsServer({
    listener: 'console',
    logger,
    https: { ...serverTlsOptions(tls, { verifyClients: true }), requestCert: true, rejectUnauthorized: false },
    bodyLimit: 32_768,
    openapi: { title: 'tenant-sync console', description: 'Pages for tenant admins (their token) and operators (their client certificate).' },
    metrics: registry,
    timeouts: { requestMs: config.HTTP_REQUEST_TIMEOUT_MS, keepAliveMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS },
  });
  await app.register(helmet, {
    contentSecurityPolicy: { directives: { 'frame-ancestors': ["'none'"], 'style-src': ["'self'"], 'font-src': ["'self'"] } },
    // Not helmet's no-referrer: under it a browser sends `Origin: null` on the console's own
    // forms, and the same-origin check below could not tell them from a foreign page's.
    referrerPolicy: { policy: 'same-origin' },
  });
  // The forms post as browsers do; nothing else but JSON is accepted.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addHook('onRequest', requireSameOrigin);
  // An error reaches a person as a page, with the status, code and message of the one error handler.
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode < 400 || !wantsHtml(request.headers.accept) || typeof payload !== 'string') return payload;
    if (!String(reply.getHeader('content-type') ?? '').startsWith('application/json')) return payload;
    try {
      const body = JSON.parse(payload) as ErrorBody;
      reply.type('text/html; charset=utf-8');
      return errorPage(body, { operatorView: request.url.startsWith('/operator') });
    } catch {
      return payload;
    }
  });

  const css = asset('console.css');
  const script = asset('console.js');
  app.get('/assets/console.css', async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(css));
  app.get('/assets/console.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(script));
  registerHealthRoutes(app, () => pingDatabase(db));

  const kinds = entityKinds(config.CONSOLE_ENTITY_TYPES, config.KAFKA_TOPIC_TEMPLATE);
  const apis = createTenantApis({
    sourceUrl: config.SOURCE_PUBLIC_URL,
    copyUrl: config.CONSUMER_PUBLIC_URL,
    ca: tls.ca,
    timeoutMs: 10_000,
    scanLimit: config.CONSOLE_ENTITY_SCAN_LIMIT,
  });
  const deadLetters = createDeadLetterScan({ kafka, kinds, last: config.CONSOLE_DEAD_LETTER_SCAN_LIMIT, ttlMs: 2_000 });
  app.addHook('onClose', async () => apis.close());

  await app.register(tenantRoutes, {
    verifyToken: tokenVerifierFromSettings(config),
    lookupMembership: cacheMemberships(membershipAsOperator(db), config.AUTH_CACHE_TTL_MS),
    apis,
    kinds,
    deadLetters,
    refreshMs: config.CONSOLE_REFRESH_MS,
  });
  await app.register(operatorRoutes, {
    db,
    kafka,
    kinds,
    groupId: config.KAFKA_GROUP_ID,
    instances: parseInstances(config.CONSOLE_INSTANCES),
    deadLetters,
    operators: splitList(config.CONSOLE_OPERATORS),
  });
  return app;
}
