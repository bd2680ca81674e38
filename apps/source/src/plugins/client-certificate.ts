import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { parseOrgId, ReferenceHeaders, type OrgId } from '@tenant-sync/contracts';
import { peerIdentity, type PeerIdentity } from '@tenant-sync/tls';
import { SRC_CLIENT_NOT_AUTHORISED, SRC_TENANT_NOT_ALLOWED } from '../errors.ts';

export interface ClientCertificateOptions {
  /** Client identities allowed to call: SPIFFE IDs, matched exactly. */
  allowedClients: string[];
  /** Status of an organisation, or null when it does not exist. */
  orgStatus: (orgId: OrgId) => Promise<string | null>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route reads the org's status in its own tenant transaction and refuses with
     * `refuseInactiveOrg` itself, so the check here does not cost a round trip of its own.
     */
    orgStatusInTransaction?: boolean;
  }
  interface FastifyRequest {
    /** The tenant named by X-Tenant-ID, validated; set on the internal listener only. */
    tenantId: OrgId;
    /** The verified client identity; set on the internal listener only. */
    consumerId: string;
  }
}

/**
 * Service-to-service authorisation on the mTLS listener. The TLS layer has already refused
 * peers without a certificate from the project CA; here the certificate's identity — the one
 * SPIFFE ID in its URI SAN, matched exactly; the CN says nothing — must be allow-listed, the
 * certificate must be meant for clients (EKU clientAuth), `X-Consumer-ID` must equal the last
 * segment of the SPIFFE ID, and `X-Tenant-ID` must name an ACTIVE org.
 */
async function clientCertificate(app: FastifyInstance, { allowedClients, orgStatus }: ClientCertificateOptions) {
  const allowed = new Set(allowedClients);
  app.decorateRequest('tenantId', '' as OrgId);
  app.decorateRequest('consumerId', '');

  // A connection's certificate cannot change: it is read once per connection, not per request
  // (reading and parsing it was 3 % of the source's time under the consumer's keep-alive calls).
  const identities = new WeakMap<TLSSocket, PeerIdentity | null>();
  const identityOf = (socket: TLSSocket) => {
    let identity = identities.get(socket);
    if (identity === undefined) {
      identity = socket.authorized ? peerIdentity(socket.getPeerCertificate()) : null;
      identities.set(socket, identity);
    }
    return identity;
  };

  app.addHook('onRequest', async (request, reply) => {
    const identity = identityOf(request.raw.socket as TLSSocket);
    const spiffeIds = identity?.uris.filter((uri) => uri.startsWith('spiffe://')) ?? [];
    const spiffeId = spiffeIds.length === 1 ? spiffeIds[0] : undefined;
    const refuse = (status: 401 | 403, reason: string) => {
      request.log.warn({ reason, client: spiffeId ?? identity?.commonName }, 'internal request refused');
      throw status === 401 ? new SRC_CLIENT_NOT_AUTHORISED() : new SRC_TENANT_NOT_ALLOWED();
    };
    if (!identity || !spiffeId || !allowed.has(spiffeId)) return refuse(401, 'certificate SPIFFE ID missing, ambiguous or not allow-listed');
    if (!identity.clientAuth) return refuse(401, 'certificate is not meant for client authentication');
    const consumerId = spiffeId.slice(spiffeId.lastIndexOf('/') + 1);
    if (request.headers[ReferenceHeaders.consumerId] !== consumerId) return refuse(401, 'X-Consumer-ID does not match the certificate');
    const tenantId = parseOrgId(request.headers[ReferenceHeaders.tenantId]);
    if (!tenantId) return refuse(403, 'X-Tenant-ID missing or not a UUID');
    request.tenantId = tenantId;
    request.consumerId = consumerId;
    request.log = reply.log = request.log.child({ tenantId: request.tenantId, consumerId });
    if (request.routeOptions.config.orgStatusInTransaction !== true) refuseInactiveOrg(request, await orgStatus(tenantId));
  });
}

/**
 * Refuses the request (403 `SRC_TENANT_NOT_ALLOWED`) unless its org is ACTIVE: the status as
 * `organization_status` reads it, null for an org that does not exist.
 */
export function refuseInactiveOrg(request: FastifyRequest, status: string | null): void {
  if (status === 'ACTIVE') return;
  request.log.warn({ reason: 'organisation unknown or not active' }, 'internal request refused');
  throw new SRC_TENANT_NOT_ALLOWED();
}

export const clientCertificatePlugin = fp(clientCertificate, { name: 'client-certificate', fastify: '5.x' });
