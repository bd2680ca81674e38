import { Agent, request } from 'undici';
import { isOrgId, TENANT_HEADER } from '@tenant-sync/contracts';
import { AUTH_ROLE_NOT_ALLOWED, AUTH_UNAUTHORIZED } from '@tenant-sync/tenant-auth';
import { CONSOLE_FOREIGN_ITEM, CONSOLE_UPSTREAM_UNAVAILABLE } from '../errors.ts';

/** The fields of an entity the console compares; every API entity has them. */
export interface EntityVersion {
  id: string;
  orgId: string;
  version: number;
  updatedAt: string;
  /** A name to show (users and teams have one); the id otherwise. */
  name: string;
}

/** What one API gave for one entity type: up to the scan limit, and whether that was all. */
export type EntityListing = { available: true; items: EntityVersion[]; complete: boolean } | { available: false; problem: string };

export interface TenantApisOptions {
  sourceUrl: string;
  copyUrl: string;
  /** The CA that signs both servers' certificates: their names and chains are verified. */
  ca: Buffer;
  timeoutMs: number;
  /** Most entities of one type read from one API. */
  scanLimit: number;
}

const PAGE_SIZE = 500;

/**
 * Reads a tenant's entities from the source (:8001) and the consumer's copy (:8002) with the
 * tenant's own token, as any client of those APIs: they verify the token and apply the
 * tenant's rows only. The console adds the client-side checks: the org id is a UUID sent as
 * X-Tenant-ID, and an answer holding an item of another org (or of none) is dropped whole.
 */
export function createTenantApis({ sourceUrl, copyUrl, ca, timeoutMs, scanLimit }: TenantApisOptions) {
  const agent = new Agent({ connect: { ca }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });

  async function page(base: string, path: string, orgId: string, token: string, cursor: string | null) {
    const url = new URL(path, base);
    url.searchParams.set('limit', String(PAGE_SIZE));
    if (cursor) url.searchParams.set('cursor', cursor);
    let response;
    try {
      response = await request(url, { dispatcher: agent, headers: { authorization: `Bearer ${token}`, [TENANT_HEADER]: orgId, accept: 'application/json' } });
    } catch (error) {
      // One API down leaves the other side of the page readable.
      return { problem: `${url.host} does not answer (${(error as Error).message})` };
    }
    const text = await response.body.text();
    if (response.statusCode === 401) throw new AUTH_UNAUTHORIZED();
    if (response.statusCode === 403) throw new AUTH_ROLE_NOT_ALLOWED();
    if (response.statusCode !== 200) return { problem: `${url.host}${path} answered ${response.statusCode}` };
    let body: { items?: unknown; nextCursor?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new CONSOLE_UPSTREAM_UNAVAILABLE(base, 'the answer is not JSON');
    }
    if (!Array.isArray(body.items)) throw new CONSOLE_UPSTREAM_UNAVAILABLE(base, 'the answer is not a page');
    return { items: body.items.map((item) => ownEntity(item, orgId, base)), nextCursor: typeof body.nextCursor === 'string' ? body.nextCursor : null };
  }

  async function list(base: string, path: string, orgId: string, token: string): Promise<EntityListing> {
    if (!isOrgId(orgId)) throw new AUTH_UNAUTHORIZED();
    const items: EntityVersion[] = [];
    let cursor: string | null = null;
    do {
      const answer = await page(base, path, orgId.toLowerCase(), token, cursor);
      if ('problem' in answer) return { available: false, problem: answer.problem ?? 'unknown' };
      items.push(...answer.items);
      cursor = answer.nextCursor;
    } while (cursor && items.length < scanLimit);
    return { available: true, items: items.slice(0, scanLimit), complete: cursor === null && items.length <= scanLimit };
  }

  return {
    /** The entities of `path` (e.g. `/users`) at the source. */
    source: (path: string, orgId: string, token: string) => list(sourceUrl, path, orgId, token),
    /** The entities of `path` (e.g. `/cache/users`) in the consumer's copy. */
    copy: (path: string, orgId: string, token: string) => list(copyUrl, path, orgId, token),
    close: () => agent.close(),
  };
}

export type TenantApis = ReturnType<typeof createTenantApis>;

/** `value` as an entity of `orgId`, or the whole answer is refused. */
function ownEntity(value: unknown, orgId: string, base: string): EntityVersion {
  const item = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (!isOrgId(item.orgId) || item.orgId.toLowerCase() !== orgId || typeof item.id !== 'string') throw new CONSOLE_FOREIGN_ITEM(base);
  if (!Number.isSafeInteger(item.version) || typeof item.updatedAt !== 'string') throw new CONSOLE_UPSTREAM_UNAVAILABLE(base, 'an item has no version');
  return { id: item.id, orgId, version: item.version as number, updatedAt: item.updatedAt, name: typeof item.name === 'string' ? item.name : item.id };
}
