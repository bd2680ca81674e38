import type { TObject } from 'typebox';
import { Team, User } from '@tenant-sync/contracts';

/**
 * How an entity the source serves maps to the consumer's copy. This list is the one place the
 * consumer learns a type (docs/entities.md): its topic, its Reference API routes, its table,
 * its cache route, reconciliation and dead letters all follow from it.
 */
export interface SyncedType {
  /** The type as messages and the outbox name it; its topic is `eventTopic(KAFKA_TOPIC_TEMPLATE, type)`. */
  type: string;
  /** The Reference API's segment: `/internal/sync/<path>/…`. */
  path: string;
  /** The cache API's collection: `GET /cache/<collection>`. */
  collection: string;
  /** The synced table: the common columns (`SyncedTableColumns`) and one per field. */
  table: string;
  /** The entity as the Reference API returns it and the cache API serves it. */
  schema: TObject;
  /**
   * The entity's own fields the table copies (an API name and its column); a deletion clears
   * them all. `id`, `orgId`, `version`, `createdAt` and `updatedAt` are common to every type.
   */
  fields: Readonly<Record<string, string>>;
}

export const syncedTypes: readonly SyncedType[] = [
  { type: 'USER', path: 'user', collection: 'users', table: 'synced_users', schema: User, fields: { name: 'name', email: 'email', phone: 'phone' } },
  { type: 'TEAM', path: 'team', collection: 'teams', table: 'synced_teams', schema: Team, fields: { name: 'name', description: 'description' } },
];

/** An entity as the source's Reference API returns it: the common fields and the type's own. */
export type SourceEntity = Record<PropertyKey, unknown> & {
  id: string;
  orgId: string;
  version: number;
  createdAt: string;
  updatedAt: string;
};
