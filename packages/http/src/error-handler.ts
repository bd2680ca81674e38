import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

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
  503: 'Service Unavailable',
};

/**
 * Client errors keep their status and message; anything else is a 500 whose message says
 * nothing about the inside. Always JSON `{statusCode, error, message}`.
 */
export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const statusCode = error.validation ? 400 : (error.statusCode ?? 500);
  if (statusCode >= 500 && statusCode !== 503) {
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
  }
  request.log.info({ code: error.code, statusCode }, 'request rejected');
  return reply.code(statusCode).send({ statusCode, error: phrases[statusCode] ?? 'Bad Request', message: error.message });
}

export function notFoundHandler(_request: FastifyRequest, reply: FastifyReply) {
  return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'not found' });
}
