import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { peerIdentity } from '@tenant-sync/tls';
import { CONSOLE_OPERATOR_UNAUTHORIZED } from '../errors.ts';

const operators = new WeakMap<FastifyRequest, string>();

/** The SPIFFE ID of the operator making `request`; set by `requireOperator`. */
export const operatorOf = (request: FastifyRequest): string => operators.get(request) ?? '';

/**
 * An onRequest hook that lets a request through only when its TLS connection presented a client
 * certificate that chains to the project CA (the listener asks for one but does not demand it,
 * so tenants without certificates can still connect), is meant for client authentication, and
 * names exactly one SPIFFE ID, one of `allowed`. A token, a cookie or a header opens nothing here.
 */
export function requireOperator(allowed: readonly string[]) {
  const allowedIds = new Set(allowed);
  return async (request: FastifyRequest) => {
    const socket = request.raw.socket as TLSSocket;
    const identity = socket.authorized ? peerIdentity(socket.getPeerCertificate()) : null;
    const spiffeIds = identity?.uris.filter((uri) => uri.startsWith('spiffe://')) ?? [];
    const spiffeId = spiffeIds.length === 1 ? spiffeIds[0] : undefined;
    if (!identity || !spiffeId || !allowedIds.has(spiffeId) || !identity.clientAuth) {
      request.log.warn({ reason: identity ? 'certificate not allow-listed or not for clients' : 'no verified client certificate', client: spiffeId ?? identity?.commonName }, 'operator request refused');
      throw new CONSOLE_OPERATOR_UNAUTHORIZED();
    }
    operators.set(request, spiffeId);
    request.log = request.log.child({ operator: spiffeId });
  };
}
