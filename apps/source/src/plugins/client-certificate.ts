import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { isOrgId, ReferenceHeaders } from '@tenant-sync/contracts';
import { peerIdentity } from '@tenant-sync/tls';

export interface ClientCertificateOptions {
  /** Client identities (certificate CN) allowed to call. */
  allowedClients: string[];
  /** Status of an organisation, or null when it does not exist. */
  orgStatus: (orgId: string) => Promise<string | null>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant named by X-Tenant-ID, validated; set on the internal listener only. */
    tenantId: string;
    /** The verified client identity; set on the internal listener only. */
    consumerId: string;
  }
}

/**
 * Service-to-service authorisation on the mTLS listener. The TLS layer has already refused
 * peers without a certificate from the project CA; here the certificate's identity must be
 * allow-listed, `X-Consumer-ID` must equal it, and `X-Tenant-ID` must name an ACTIVE org.
 */
async function clientCertificate(app: FastifyInstance, { allowedClients, orgStatus }: ClientCertificateOptions) {
  const allowed = new Set(allowedClients);
  app.decorateRequest('tenantId', '');
  app.decorateRequest('consumerId', '');

  app.addHook('onRequest', async (request, reply) => {
    const socket = request.raw.socket as TLSSocket;
    const identity = socket.authorized ? peerIdentity(socket.getPeerCertificate()) : null;
    const refuse = (status: 401 | 403, reason: string) => {
      request.log.warn({ reason, client: identity?.commonName }, 'internal request refused');
      return reply.code(status).send({
        statusCode: status,
        error: status === 401 ? 'Unauthorized' : 'Forbidden',
        message: status === 401 ? 'client not authorised' : 'tenant not allowed',
      });
    };
    if (!identity?.commonName || !allowed.has(identity.commonName)) return refuse(401, 'certificate identity not allow-listed');
    if (identity.uris.length > 0 && !identity.uris.some((uri) => uri.endsWith(`/${identity.commonName}`))) {
      return refuse(401, 'certificate URI SAN does not match its CN');
    }
    if (request.headers[ReferenceHeaders.consumerId] !== identity.commonName) return refuse(401, 'X-Consumer-ID does not match the certificate');
    const tenantId = request.headers[ReferenceHeaders.tenantId];
    if (!isOrgId(tenantId)) return refuse(403, 'X-Tenant-ID missing or not a UUID');
    if ((await orgStatus(tenantId.toLowerCase())) !== 'ACTIVE') return refuse(403, 'organisation unknown or not active');
    request.tenantId = tenantId.toLowerCase();
    request.consumerId = identity.commonName;
    request.log = reply.log = request.log.child({ tenantId: request.tenantId, consumerId: identity.commonName });
  });
}

export const clientCertificatePlugin = fp(clientCertificate, { name: 'client-certificate', fastify: '5.x' });
