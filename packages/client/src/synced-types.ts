import type { CreateTeamBody, CreateUserBody, Team, UpdateTeamBody, UpdateUserBody, User } from '@tenant-sync/contracts';
import type { OwnedEntity, Page, PageOptions } from './collection.ts';

/** A synced type as the client knows it: the name of its collection, and (as types only) its entity and bodies. */
export interface SyncedType<Entity extends OwnedEntity, Create extends object, Update extends object, Collection extends string> {
  collection: Collection;
  /** Never set: it carries the type arguments to `CollectionMethods`. */
  readonly types?: { entity: Entity; create: Create; update: Update };
}

/** Declares a type: `syncedType<Team, CreateTeamBody, UpdateTeamBody>()('Teams')`. */
const syncedType =
  <Entity extends OwnedEntity, Create extends object, Update extends object>() =>
  <Collection extends string>(collection: Collection): SyncedType<Entity, Create, Update, Collection> => ({ collection });

/**
 * The one place the client learns a type (keyed by its name in the method names, the collection's
 * name after it): the client gets the eight calls of `collectionCalls` for each.
 */
export const syncedTypes = {
  User: syncedType<User, CreateUserBody, UpdateUserBody>()('Users'),
  Team: syncedType<Team, CreateTeamBody, UpdateTeamBody>()('Teams'),
};

type Declared = typeof syncedTypes;
type Name = keyof Declared & string;
type EntityOf<N extends Name> = NonNullable<Declared[N]['types']>['entity'];
type CreateOf<N extends Name> = NonNullable<Declared[N]['types']>['create'];
type UpdateOf<N extends Name> = NonNullable<Declared[N]['types']>['update'];
type CollectionOf<N extends Name> = Declared[N]['collection'];

/** The calls of every declared type, typed with its contracts (`createTeam(orgId, CreateTeamBody): Promise<Team>`, …). */
export type CollectionMethods = {
  /** Creates one in `orgId` (the token's subject must be its `tenant_admin`). */
  [N in Name as `create${N}`]: (orgId: string, body: CreateOf<N>) => Promise<EntityOf<N>>;
} & {
  /** One of `orgId`; a `TenantSyncApiError` with status 404 when it is not there (or is another tenant's). */
  [N in Name as `get${N}`]: (orgId: string, id: string) => Promise<EntityOf<N>>;
} & {
  /** One page of the collection of `orgId`. */
  [N in Name as `list${CollectionOf<N>}`]: (orgId: string, page?: PageOptions) => Promise<Page<EntityOf<N>>>;
} & {
  /** Every item of the collection of `orgId`, fetched page by page as the iteration proceeds. */
  [N in Name as Uncapitalize<CollectionOf<N>>]: (orgId: string, pageSize?: number) => AsyncGenerator<EntityOf<N>>;
} & {
  /** Changes some fields of one of `orgId`. */
  [N in Name as `update${N}`]: (orgId: string, id: string, changes: UpdateOf<N>) => Promise<EntityOf<N>>;
} & {
  /** Deletes one of `orgId`. */
  [N in Name as `delete${N}`]: (orgId: string, id: string) => Promise<void>;
} & {
  /** One page of the collection of `orgId` as the consumer has synced it (needs the `cacheUrl` option). */
  [N in Name as `listCached${CollectionOf<N>}`]: (orgId: string, page?: PageOptions) => Promise<Page<EntityOf<N>>>;
} & {
  /** Every synced item of the collection of `orgId`, page by page (needs the `cacheUrl` option). */
  [N in Name as `cached${CollectionOf<N>}`]: (orgId: string, pageSize?: number) => AsyncGenerator<EntityOf<N>>;
};
