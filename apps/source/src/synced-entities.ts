import type { TSchema } from 'typebox';
import { Team, User } from '@tenant-sync/contracts';
import type { TeamRow, UserRow } from '@tenant-sync/db';
import { SRC_TEAM_NOT_FOUND, SRC_USER_NOT_FOUND } from './errors.ts';
import { toTeam } from './routes/teams/queries.ts';
import { toUser } from './routes/users/queries.ts';

/**
 * The entity types the source syncs: each served by the Reference API under
 * `/internal/sync/<path>/…` from this one declaration. Its table, with RLS and the shared
 * outbox, version and tombstone triggers, is declared in the migrations (docs/entities.md).
 */
export const syncedEntities = [
  { path: 'user', type: 'USER', table: 'users', schema: User, toApi: (row: UserRow | TeamRow) => toUser(row as UserRow), NotFound: SRC_USER_NOT_FOUND },
  { path: 'team', type: 'TEAM', table: 'teams', schema: Team, toApi: (row: UserRow | TeamRow) => toTeam(row as TeamRow), NotFound: SRC_TEAM_NOT_FOUND },
] satisfies ReadonlyArray<SyncedEntity>;

export interface SyncedEntity {
  /** The URL segment: `/internal/sync/<path>`. */
  path: string;
  /** The type as the outbox, the tombstones and the Kafka messages name it. */
  type: string;
  table: 'users' | 'teams';
  /** The entity as the Reference API returns it. */
  schema: TSchema;
  toApi: (row: UserRow | TeamRow) => unknown;
  NotFound: new () => Error;
}
