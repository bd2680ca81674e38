export { createHttpsServer, type HttpsServerOptions, type HttpTimeouts } from './create-server.ts';
export { ErrorResponse } from './error-response.ts';
export { registerHealthRoutes } from './health-routes.ts';
