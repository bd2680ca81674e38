import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { HTTP_INTERNAL_ERROR, HTTP_INVALID_INPUT, HTTP_ROUTE_NOT_FOUND } from './errors.ts';

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

/** The one error body of every API: its status, a stable code per cause, and words. */
function send(reply: FastifyReply, statusCode: number, code: string, message: string) {
  return reply.code(statusCode).send({ statusCode, code, error: phrases[statusCode] ?? 'Bad Request', message });
}

/**
 * The one error handler of every listener. A client error keeps its status, its code (the
 * `createError` code of the package that threw it, or Fastify's own) and its message;
 * anything else is a 500 whose message says nothing about the inside.
 */
export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error.validation) {
    const invalid = new HTTP_INVALID_INPUT(error.message);
    request.log.info({ code: invalid.code, statusCode: 400 }, 'request rejected');
    return send(reply, 400, invalid.code, invalid.message);
  }
  const statusCode = error.statusCode ?? 500;
  if (statusCode >= 500 && statusCode !== 503) {
    request.log.error({ err: error }, 'request failed');
    const internal = new HTTP_INTERNAL_ERROR();
    return send(reply, 500, internal.code, internal.message);
  }
  const code = typeof error.code === 'string' && error.code.length > 0 ? error.code : `HTTP_${statusCode}`;
  request.log.info({ code, statusCode }, 'request rejected');
  return send(reply, statusCode, code, error.message);
}

export function notFoundHandler(_request: FastifyRequest, reply: FastifyReply) {
  const error = new HTTP_ROUTE_NOT_FOUND();
  return send(reply, 404, error.code, error.message);
}
