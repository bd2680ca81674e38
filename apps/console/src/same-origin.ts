import type { FastifyRequest } from 'fastify';
import { CONSOLE_CROSS_SITE } from './errors.ts';

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Every request that changes something must come from a page of the console itself: its
 * Origin must be this console's, and the browser's Sec-Fetch-Site, when sent, `same-origin`.
 * The session cookie is SameSite=Strict already, but a client certificate is presented to any
 * request the browser makes, so without this a page elsewhere could post a replay form.
 */
export async function requireSameOrigin(request: FastifyRequest): Promise<void> {
  if (safeMethods.has(request.method)) return;
  const site = request.headers['sec-fetch-site'];
  if (request.headers.origin !== `https://${request.headers.host}` || (site !== undefined && site !== 'same-origin')) {
    request.log.warn({ origin: request.headers.origin, site }, 'cross-site request refused');
    throw new CONSOLE_CROSS_SITE();
  }
}
