import type { FastifyError, FastifyInstance } from 'fastify';

/**
 * One error handler for both listeners: client errors keep their status and message, anything
 * else is a 500 whose message says nothing about the inside. Errors are always JSON
 * `{statusCode, error, message}`.
 */
export function setErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const statusCode = error.validation ? 400 : (error.statusCode ?? 500);
    if (statusCode >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
    }
    request.log.info({ code: error.code, statusCode }, 'request rejected');
    return reply.code(statusCode).send({ statusCode, error: reasonPhrase(statusCode), message: error.message });
  });

  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'not found' }),
  );
}

const phrases: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
};

function reasonPhrase(statusCode: number): string {
  return phrases[statusCode] ?? 'Bad Request';
}
