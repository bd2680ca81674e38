import { SpanKind, type Context } from '@opentelemetry/api';
import { Agent, request } from 'undici';
import { ReferenceHeaders, type VersionPage } from '@tenant-sync/contracts';
import { isSubject, type Membership } from '@tenant-sync/tenant-auth';
import type { TlsMaterial } from '@tenant-sync/tls';
import { endSpan, startSpan, traceparentOf } from '@tenant-sync/tracing';
import type { SourceEntity } from './synced-types.ts';

/**
 * A non-2xx answer of the Reference API. `code` is the source's code for the cause (its error
 * body's `code`, e.g. `SRC_TENANT_NOT_ALLOWED`; `HTTP_<status>` when it sent none): the code
 * decides alert or dead letter, the status class whether to retry.
 */
export class ReferenceApiError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(status: number, message: string, code = `HTTP_${status}`) {
    super(message);
    this.name = 'ReferenceApiError';
    this.status = status;
    this.code = code;
  }
}

/** The `code` of an error body, when the body is one. */
async function errorCode(body: { text(): Promise<string> }): Promise<string | undefined> {
  try {
    const code = (JSON.parse(await body.text()) as { code?: unknown }).code;
    return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

/** The batch form's answer: each id asked for in exactly one of `data`, `deleted` or `missing`. */
export interface EntityBatch {
  data: SourceEntity[];
  deleted: Array<{ id: string; version: number }>;
  missing: string[];
}

export interface ReferenceClientOptions {
  baseUrl: string;
  consumerId: string;
  tls: TlsMaterial;
  timeoutMs: number;
  /** Connections kept to the source. */
  connections?: number;
  /** Hears every call: its route (a fixed name), the HTTP status (0 on a network error) and its duration. */
  onCall?: (route: string, status: number, seconds: number) => void;
}

/**
 * Client of the source's mTLS Reference API: a keep-alive undici pool that presents the
 * consumer's certificate and verifies the server's against the project CA and its name.
 */
export function createReferenceClient({ baseUrl, consumerId, tls, timeoutMs, connections = 16, onCall }: ReferenceClientOptions) {
  const connect = (material: TlsMaterial) =>
    new Agent({
      connect: { ca: material.ca, cert: material.cert, key: material.key, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
      connections,
      keepAliveTimeout: 30_000,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  let agent = connect(tls);
  const server = new URL(baseUrl);

  /**
   * One call in a client span, a child of `trace` (the caller's round), whose `traceparent` the
   * request carries. The span names the route's `template`, never a path holding a subject.
   */
  async function call<T>(
    route: string,
    method: 'GET' | 'POST',
    path: string,
    orgId: string,
    { body, trace, template = path.split('?', 1)[0]! }: { body?: unknown; trace?: Context | undefined; template?: string } = {},
  ): Promise<T> {
    const started = performance.now();
    let status = 0;
    let failure: unknown;
    const span = startSpan(`${method} ${template}`, trace, {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': method, 'url.template': template, 'server.address': server.hostname, 'server.port': Number(server.port || 443), 'tenant.id': orgId },
    });
    try {
      const response = await request(new URL(path, baseUrl), {
        method,
        dispatcher: agent,
        headers: {
          [ReferenceHeaders.tenantId]: orgId,
          [ReferenceHeaders.consumerId]: consumerId,
          ...(body ? { 'content-type': 'application/json' } : {}),
          traceparent: traceparentOf(span),
        },
        body: body ? JSON.stringify(body) : null,
      });
      status = response.statusCode;
      if (status >= 200 && status < 300) return (await response.body.json()) as T;
      const code = await errorCode(response.body);
      throw new ReferenceApiError(status, `${method} ${path} answered ${status}${code ? ` ${code}` : ''}`, code);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      if (status > 0) span.setAttribute('http.response.status_code', status);
      endSpan(span, failure);
      onCall?.(route, status, (performance.now() - started) / 1_000);
    }
  }

  return {
    /**
     * Entities of one type (its Reference API `path`) and one tenant by id, in one round trip:
     * live ones in `data`, deleted ones in `deleted`, unknown ones in `missing`.
     */
    fetchEntities(path: string, orgId: string, ids: string[], trace?: Context): Promise<EntityBatch> {
      return call(`${path}_batch`, 'POST', `/internal/sync/${path}/batch`, orgId, { body: { ids }, trace });
    },
    /** One page of the tenant's `{id, version, deleted}` listing of one type, for reconciliation. */
    listVersions(path: string, orgId: string, after: string | null, limit: number): Promise<VersionPage> {
      const query = new URLSearchParams({ limit: String(limit), ...(after ? { after } : {}) });
      return call(`${path}_versions`, 'GET', `/internal/sync/${path}?${query}`, orgId);
    },
    /**
     * A subject's membership, as the system of record sees it. A subject the token rule refuses
     * is a member of nothing and is never sent: `.` or `..` would be resolved as a dot segment
     * of the URL (even percent-encoded), asking another route than the membership one.
     */
    async membership(orgId: string, subject: string): Promise<Membership | null> {
      if (!isSubject(subject)) return null;
      try {
        return await call('membership', 'GET', `/internal/tenancy/members/${encodeURIComponent(subject)}`, orgId, { template: '/internal/tenancy/members/{subject}' });
      } catch (error) {
        // The organisation is unknown or not active: no membership.
        if (error instanceof ReferenceApiError && error.code === 'SRC_TENANT_NOT_ALLOWED') return null;
        throw error;
      }
    },
    /**
     * Presents new certificates from the next call on: a new pool takes over at once, the old
     * one closes once its calls in flight have finished.
     */
    useTls(material: TlsMaterial): void {
      const previous = agent;
      agent = connect(material);
      void previous.close();
    },
    close: () => agent.close(),
  };
}

export type ReferenceClient = ReturnType<typeof createReferenceClient>;
