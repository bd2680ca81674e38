import type { Generated } from 'kysely';

/** The columns every synced table has (packages/migrations/sql/consumer/004-synced-teams.sql). */
export interface SyncedTableColumns {
  org_id: string;
  id: string;
  version: number;
  deleted_at: Date | null;
  source_created_at: Date | null;
  source_updated_at: Date | null;
  synced_at: Generated<Date>;
}

export interface SyncedUsersTable extends SyncedTableColumns {
  name: string | null;
  email: string | null;
  phone: string | null;
}

export interface SyncedTeamsTable extends SyncedTableColumns {
  name: string | null;
  description: string | null;
}

/** Tables of `consumer_db`. */
export interface ConsumerDatabase {
  synced_users: SyncedUsersTable;
  synced_teams: SyncedTeamsTable;
}

