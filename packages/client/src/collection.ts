import { isOrgId } from '@tenant-sync/contracts';
import { InvalidResponseError } from './errors.ts';

/** What every synced entity carries: its id and the org it belongs to. */
export interface OwnedEntity {
  id: string;
  orgId: string;
}

/** A page of a keyset-paginated listing; `UserPage` and `TeamPage` of the contracts have this shape. */
export interface Page<Entity> {
  items: Entity[];
  nextCursor: string | null;
}

export interface PageOptions {
  limit?: number | undefined;
  cursor?: string | undefined;
}

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** Which API a call goes to: the source's public API (:8001) or the consumer's cache API (:8002). */
export type Api = 'public' | 'cache';

/** How a collection sends a request: the client checks `orgId` against its token, then sends. */
export type Send = (api: Api, orgId: string, method: Method, path: string, body?: object) => Promise<unknown>;

/**
 * The eight calls of one collection, named after it: for `('Team', 'Teams')` they are
 * `createTeam`, `getTeam`, `listTeams`, `teams`, `updateTeam`, `deleteTeam`, `listCachedTeams`
 * and `cachedTeams`, on `/teams` (:8001) and `/cache/teams` (:8002). Every item a response
 * carries goes through `ownEntity`, so a call returns the caller's org's data or fails whole.
 */
export function collectionCalls(entity: string, collection: string, send: Send): Record<string, unknown> {
  const name = entity.toLowerCase();
  const segment = uncapitalize(collection);
  const path = `/${segment}`;
  const item = (id: string) => `${path}/${encodeURIComponent(id)}`;
  const own = (orgId: string, value: unknown) => ownEntity(name, orgId, value);
  const list = async (orgId: string, page: PageOptions = {}) => ownPage(name, orgId, await send('public', orgId, 'GET', `${path}${pageQuery(page)}`));
  const listCached = async (orgId: string, page: PageOptions = {}) =>
    ownPage(name, orgId, await send('cache', orgId, 'GET', `/cache${path}${pageQuery(page)}`));
  return {
    [`create${entity}`]: async (orgId: string, body: object) => own(orgId, await send('public', orgId, 'POST', path, body)),
    [`get${entity}`]: async (orgId: string, id: string) => own(orgId, await send('public', orgId, 'GET', item(id))),
    [`list${collection}`]: list,
    [segment]: (orgId: string, pageSize = 100) => paginate((cursor) => list(orgId, { limit: pageSize, cursor })),
    [`update${entity}`]: async (orgId: string, id: string, changes: object) => own(orgId, await send('public', orgId, 'PATCH', item(id), changes)),
    [`delete${entity}`]: async (orgId: string, id: string) => {
      await send('public', orgId, 'DELETE', item(id));
    },
    [`listCached${collection}`]: listCached,
    [`cached${collection}`]: (orgId: string, pageSize = 100) => paginate((cursor) => listCached(orgId, { limit: pageSize, cursor })),
  };
}

const uncapitalize = (text: string) => text.charAt(0).toLowerCase() + text.slice(1);

function pageQuery({ limit, cursor }: PageOptions): string {
  const query = new URLSearchParams();
  if (limit !== undefined) query.set('limit', String(limit));
  if (cursor) query.set('cursor', cursor);
  const text = query.toString();
  return text ? `?${text}` : '';
}

async function* paginate<Entity>(fetchPage: (cursor: string | undefined) => Promise<Page<Entity>>): AsyncGenerator<Entity> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

/** `value` as an entity (a `name`) of `orgId`, or an error: an item without that org id is never handed out. */
function ownEntity(name: string, orgId: string, value: unknown): OwnedEntity {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidResponseError(`expected a ${name} object`);
  const item = value as Record<string, unknown>;
  if (!isOrgId(item.orgId)) throw new InvalidResponseError(`a ${name} in the response has no valid orgId`);
  if (item.orgId.toLowerCase() !== orgId.toLowerCase()) throw new InvalidResponseError(`a ${name} in the response belongs to another org`);
  if (typeof item.id !== 'string') throw new InvalidResponseError(`a ${name} in the response has no id`);
  return item as unknown as OwnedEntity;
}

/** A page whose every item is the caller's org's, or an error for the whole page. */
function ownPage(name: string, orgId: string, value: unknown): Page<OwnedEntity> {
  const page = value as { items?: unknown; nextCursor?: unknown } | null;
  if (!page || !Array.isArray(page.items)) throw new InvalidResponseError('expected a page {items, nextCursor}');
  if (page.nextCursor !== null && typeof page.nextCursor !== 'string') throw new InvalidResponseError('nextCursor must be a string or null');
  return { items: page.items.map((item) => ownEntity(name, orgId, item)), nextCursor: page.nextCursor };
}
