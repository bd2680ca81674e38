import { randomUUID } from 'node:crypto';
import type { SecureServerOptions } from 'node:http2';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { ServerOptions } from 'node:https';
import type { Logger } from 'pino';
import { errorHandler, notFoundHandler } from './error-handler.ts';

export interface HttpsServerOptions {
  /** Name of the listener in every log line: `public`, `internal`. */
  listener: string;
  logger: Logger;
  https: ServerOptions | SecureServerOptions;
  bodyLimit?: number;
}

/**
 * A Fastify HTTPS listener as every API of the system runs it: TypeBox schemas (unknown
 * properties refused, not silently dropped), a request id per request (`reqId` in logs, taken
 * from a well-formed `X-Request-ID`), one JSON error shape, and 503 while closing.
 */
export function createHttpsServer({ listener, logger, https, bodyLimit = 65_536 }: HttpsServerOptions) {
  const app = Fastify({
    loggerInstance: logger.child({ listener }) as FastifyBaseLogger,
    https: https as ServerOptions,
    bodyLimit,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    },
    requestIdLogLabel: 'reqId',
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // JSON only: a body of any other type is a 415, not a string handed to the schema.
  app.removeContentTypeParser(['text/plain']);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  return app;
}
