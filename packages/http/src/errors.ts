import createError from '@fastify/error';

/** An error of a listener itself, not of a route: no route matched. */
export const HTTP_ROUTE_NOT_FOUND = createError('HTTP_ROUTE_NOT_FOUND', 'not found', 404);
/** Anything unexpected: its message never leaves the process. */
export const HTTP_INTERNAL_ERROR = createError('HTTP_INTERNAL_ERROR', 'internal error', 500);
/** The request does not match the route's schema. */
export const HTTP_INVALID_INPUT = createError('HTTP_INVALID_INPUT', '%s', 400);
