import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { SecureServerOptions } from 'node:http2';
import type { ServerOptions } from 'node:https';
import { AjvCompiler, type BuildCompilerFromPool } from '@fastify/ajv-compiler';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import underPressure from '@fastify/under-pressure';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Histogram, type Registry } from 'prom-client';
import { context as contexts, SpanKind, SpanStatusCode, type Context, type Span } from '@opentelemetry/api';
import { contextOf, contextWith, startSpan } from '@tenant-sync/tracing';
import { errorHandler, notFoundHandler } from './error-handler.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The trace context of this request's server span, a child of the caller's `traceparent`
     * when it sent one: the parent of the spans of the work done for it.
     */
    trace: Context;
  }
}

export interface HttpsServerOptions {
  /** Name of the listener in every log line: `public`, `internal`. */
  listener: string;
  logger: Logger;
  https: ServerOptions | SecureServerOptions;
  bodyLimit?: number;
  /** Title and summary of the OpenAPI document served at `/docs/json` and shown at `/docs`. */
  openapi: { title: string; description: string };
  /** When to shed load with `503` + `Retry-After` rather than queue more work. */
  pressure?: LoadShedding;
  /** Where `http_request_duration_seconds` is registered; none when omitted (tests). */
  metrics?: Registry | undefined;
  timeouts?: HttpTimeouts;
}

export interface HttpTimeouts {
  /** The whole request, headers and body, must arrive within this; a trickled body is cut off. */
  requestMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveMs: number;
}

/** A slow client may hold a socket this long at most; headers get a third of it (at most 10 s). */
const defaultTimeouts: HttpTimeouts = { requestMs: 30_000, keepAliveMs: 5_000 };

export interface LoadShedding {
  /** Event-loop delay beyond which requests are refused. */
  maxEventLoopDelayMs: number;
  /** Event-loop utilisation (0–1) beyond which requests are refused. */
  maxEventLoopUtilization: number;
  /** How often the event loop is sampled. */
  sampleIntervalMs: number;
}

/**
 * A loop that lags a second behind, or runs flat out, answers every request late: refusing
 * some at once with a 503 lets clients and load balancers go elsewhere or retry later.
 */
const defaultPressure: LoadShedding = { maxEventLoopDelayMs: 1_000, maxEventLoopUtilization: 0.98, sampleIntervalMs: 1_000 };

/**
 * The policy of the `/docs` routes only (the API routes keep whatever the app's helmet sets):
 * every asset comes from this listener, out of the npm package, and nothing from elsewhere —
 * no CDN, no validator badge. Inline styles are the one allowance, as in helmet's default.
 */
const docsContentSecurityPolicy = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self' 'unsafe-inline'",
  'upgrade-insecure-requests',
].join('; ');

/**
 * Fastify's own Ajv compiler, twice: query strings, params and headers arrive as text and are
 * coerced to their schema types, but a JSON body already has types, so `{"name": 123}` or
 * `{"name": ["x"]}` is refused rather than quietly turned into the string the schema wants.
 */
const buildValidator: BuildCompilerFromPool = (externalSchemas, options) => {
  const build = AjvCompiler();
  // Fastify calls the compiler with its route definition, which the published types do not say.
  type Compile = (route: { httpPart?: string }) => ReturnType<ReturnType<BuildCompilerFromPool>>;
  const compilerWith = (coerceTypes: 'array' | false) =>
    build(externalSchemas, { plugins: options?.plugins ?? [], customOptions: { removeAdditional: false, useDefaults: true, coerceTypes } }) as unknown as Compile;
  const coercing = compilerWith('array');
  const strict = compilerWith(false);
  const compile: Compile = (route) => (route.httpPart === 'body' ? strict : coercing)(route);
  return compile as unknown as ReturnType<BuildCompilerFromPool>;
};

/**
 * A Fastify HTTPS listener as every API of the system runs it: TypeBox schemas (unknown
 * properties refused, not silently dropped), a request id and a server span per request
 * (`reqId` and `traceId` on every log line of it, the id taken from a well-formed
 * `X-Request-ID`, the trace continued from `traceparent`), one JSON error shape, its OpenAPI document at
 * `/docs/json` and Swagger UI at `/docs`, and 503 while closing or while the event loop is overloaded.
 */
export async function createHttpsServer({
  listener,
  logger,
  https,
  bodyLimit = 65_536,
  openapi,
  pressure = defaultPressure,
  metrics,
  timeouts = defaultTimeouts,
}: HttpsServerOptions) {
  const spans = new WeakMap<IncomingMessage, Span>();
  const app = Fastify({
    loggerInstance: logger.child({ listener }) as FastifyBaseLogger,
    // Node checks request timeouts on this interval (30 s by default), so it bounds how late a
    // trickling request is cut off.
    https: { ...https, connectionsCheckingInterval: Math.min(30_000, Math.ceil(timeouts.requestMs / 4)) } as ServerOptions,
    bodyLimit,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'reqId' }),
    // The first thing Fastify does with a request: the span starts here, so that the request's
    // logger names its trace.
    childLoggerFactory: (parent, bindings, options, rawRequest) => {
      const span = startServerSpan(rawRequest as IncomingMessage);
      return parent.child({ ...bindings, traceId: span.spanContext().traceId }, options);
    },
    return503OnClosing: true,
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    schemaController: { compilersFactory: { buildValidator } },
    // A path parameter may carry a whole subject (up to 128 characters), e.g. the Reference API's membership route.
    routerOptions: { maxParamLength: 256 },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.headersTimeout = Math.min(10_000, Math.ceil(timeouts.requestMs / 3));
  await app.register(underPressure, {
    maxEventLoopDelay: pressure.maxEventLoopDelayMs,
    maxEventLoopUtilization: pressure.maxEventLoopUtilization,
    sampleInterval: pressure.sampleIntervalMs,
    retryAfter: 5,
  });
  // The OpenAPI document is generated from the route schemas, so it cannot drift from them.
  await app.register(swagger, { openapi: { openapi: '3.1.0', info: { ...openapi, version: '1' } } });
  // Swagger UI at /docs, its document at /docs/json (and /docs/yaml); hidden from the document.
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: docsContentSecurityPolicy });
  app.decorateRequest('trace', null as unknown as Context);
  // While the SDK runs, the hooks after this one (authentication and its look-ups) and, once the
  // body is read, the handler run in the request's context, so work not handed `request.trace`
  // still lands in the request's trace. Without the SDK, `with` only calls `done`.
  app.addHook('onRequest', (request, _reply, done) => {
    request.trace = contextWith(spans.get(request.raw) ?? startServerSpan(request.raw));
    contexts.with(request.trace, done);
  });
  app.addHook('preValidation', (request, _reply, done) => contexts.with(request.trace, done));
  app.addHook('onError', async (request, _reply, error) => {
    const span = spans.get(request.raw);
    if (span?.isRecording() && (error.statusCode ?? 500) >= 500) span.recordException(error);
  });
  // A request refused early (503 under load) has had no onRequest, but still a span to end.
  app.addHook('onResponse', async (request, reply) => endServerSpan(request, reply.statusCode));
  app.addHook('onRequestAbort', async (request) => endServerSpan(request));
  if (metrics) {
    // The route template, never the URL, so ids do not become label values.
    const duration = requestDurationHistogram(metrics);
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      duration.observe({ listener, method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1_000);
    });
  }
  /** The request's server span, a child of the caller's `traceparent`; named by its route once that is known. */
  function startServerSpan(raw: IncomingMessage): Span {
    const span = startSpan(raw.method ?? 'HTTP', contextOf(raw.headers.traceparent), { kind: SpanKind.SERVER });
    spans.set(raw, span);
    return span;
  }

  /** Names the request's span by its route, records its answer (none: the client went away) and ends it. */
  function endServerSpan(request: FastifyRequest, statusCode?: number): void {
    const span = spans.get(request.raw);
    if (!span) return;
    spans.delete(request.raw);
    if (span.isRecording()) {
      const route = request.routeOptions.url;
      span.updateName(route ? `${request.method} ${route}` : request.method);
      span.setAttributes({
        'http.request.method': request.method,
        'url.scheme': 'https',
        'url.path': request.url.split('?', 1)[0],
        ...(route ? { 'http.route': route } : {}),
        ...(statusCode ? { 'http.response.status_code': statusCode } : {}),
      });
      if (statusCode === undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the request' });
      else if (statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }
  // JSON only: a body of any other type is a 415, not a string handed to the schema.
  app.removeContentTypeParser(['text/plain']);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  return app;
}

/** Duration and count of every request by listener, method, route template and status. */
function requestDurationHistogram(registry: Registry): Histogram {
  const name = 'http_request_duration_seconds';
  return (
    (registry.getSingleMetric(name) as Histogram | undefined) ??
    new Histogram({
      name,
      help: 'HTTP requests by listener, method, route template and status',
      labelNames: ['listener', 'method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    })
  );
}
