export { createHttpsServer, type HttpsServerOptions } from './create-server.ts';
export { ErrorResponse } from './error-response.ts';
