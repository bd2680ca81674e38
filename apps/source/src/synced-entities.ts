import type { TObject } from 'typebox';
import { Team, User } from '@tenant-sync/contracts';
import type { TeamRow, UserRow } from '@tenant-sync/db';
import { SRC_TEAM_NOT_FOUND, SRC_USER_NOT_FOUND } from './errors.ts';
import { toTeam } from './routes/teams/queries.ts';
import { toUser } from './routes/users/queries.ts';

/**
 * An entity type the source syncs: the Reference API serves it under `/internal/sync/<path>/…`
 * from this one declaration. Its table, with RLS and the shared version, outbox and tombstone
 * triggers (`prepare_synced_table`), is declared in a migration (docs/entities.md).
 */
export interface SyncedEntity {
  /** The URL segment: `/internal/sync/<path>`. */
  path: string;
  /** The type as the outbox, the tombstones and the Kafka messages name it. */
  type: string;
  /** Its table: `org_id`, `id`, `version` and the type's own columns. */
  table: string;
  /** The entity as the Reference API returns it. */
  schema: TObject;
  /** A row of the table as the API returns it. */
  toApi: (row: never) => Record<PropertyKey, unknown>;
  /** The error of an id the tenant does not have. */
  NotFound: new () => Error;
}

export const syncedEntities: readonly SyncedEntity[] = [
  { path: 'user', type: 'USER', table: 'users', schema: User, toApi: (row: UserRow) => toUser(row), NotFound: SRC_USER_NOT_FOUND },
  { path: 'team', type: 'TEAM', table: 'teams', schema: Team, toApi: (row: TeamRow) => toTeam(row), NotFound: SRC_TEAM_NOT_FOUND },
];
