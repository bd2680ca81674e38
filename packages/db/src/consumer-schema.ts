import type { Generated, Selectable } from 'kysely';

export interface SyncedUsersTable {
  org_id: string;
  id: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  version: number;
  deleted_at: Date | null;
  source_created_at: Date | null;
  source_updated_at: Date | null;
  synced_at: Generated<Date>;
}

/** Tables of `consumer_db`. */
export interface ConsumerDatabase {
  synced_users: SyncedUsersTable;
}

export type SyncedUserRow = Selectable<SyncedUsersTable>;
