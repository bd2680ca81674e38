import { Agent, request } from 'undici';
import { ReferenceHeaders, type ReferenceBatchResponse } from '@tenant-sync/contracts';
import type { Membership } from '@tenant-sync/tenant-auth';
import type { TlsMaterial } from '@tenant-sync/tls';

/** A non-2xx answer of the Reference API; `status` decides retry, alert or dead letter. */
export class ReferenceApiError extends Error {
  readonly code = 'SYNC_REFERENCE_API';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ReferenceApiError';
    this.status = status;
  }
}

export interface ReferenceClientOptions {
  baseUrl: string;
  consumerId: string;
  tls: TlsMaterial;
  timeoutMs: number;
}

/**
 * Client of the source's mTLS Reference API: a keep-alive undici pool that presents the
 * consumer's certificate and verifies the server's against the project CA and its name.
 */
export function createReferenceClient({ baseUrl, consumerId, tls, timeoutMs }: ReferenceClientOptions) {
  const agent = new Agent({
    connect: { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    connections: 16,
    keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });

  async function call<T>(method: 'GET' | 'POST', path: string, orgId: string, body?: unknown): Promise<T> {
    const response = await request(new URL(path, baseUrl), {
      method,
      dispatcher: agent,
      headers: {
        [ReferenceHeaders.tenantId]: orgId,
        [ReferenceHeaders.consumerId]: consumerId,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : null,
    });
    if (response.statusCode >= 200 && response.statusCode < 300) return (await response.body.json()) as T;
    await response.body.dump();
    throw new ReferenceApiError(response.statusCode, `${method} ${path} answered ${response.statusCode}`);
  }

  return {
    /** Users of one tenant by id, in one round trip; ids that do not exist come back in `missing`. */
    fetchUsers(orgId: string, ids: string[]): Promise<ReferenceBatchResponse> {
      return call('POST', '/internal/sync/user/batch', orgId, { ids });
    },
    /** A subject's membership, as the system of record sees it. */
    async membership(orgId: string, subject: string): Promise<Membership | null> {
      try {
        return await call('GET', `/internal/tenancy/members/${encodeURIComponent(subject)}`, orgId);
      } catch (error) {
        // 403 from the Reference API means the organisation is unknown or not active.
        if (error instanceof ReferenceApiError && error.status === 403) return null;
        throw error;
      }
    },
    close: () => agent.close(),
  };
}

export type ReferenceClient = ReturnType<typeof createReferenceClient>;
