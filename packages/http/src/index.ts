export { createHttpsServer, type HttpsServerOptions, type HttpTimeouts } from './create-server.ts';
export { ErrorResponse } from './error-response.ts';
export { registerHealthRoutes } from './health-routes.ts';
export { HTTP_INTERNAL_ERROR, HTTP_INVALID_INPUT, HTTP_ROUTE_NOT_FOUND } from './errors.ts';
