import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface OrganizationsTable {
  id: string;
  name: string;
  status: 'ACTIVE' | 'SUSPENDED';
  created_at: Generated<Date>;
}

export interface MembershipsTable {
  org_id: string;
  subject: string;
  role: 'member' | 'tenant_admin';
  status: 'ACTIVE' | 'REMOVED';
  created_at: Generated<Date>;
}

export interface UsersTable {
  org_id: string;
  id: Generated<string>;
  name: string;
  email: string;
  phone: string | null;
  version: Generated<number>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface OutboxTable {
  id: Generated<number>;
  event_id: Generated<string>;
  org_id: string | null;
  aggregate_type: string;
  aggregate_id: string;
  action: 'CREATED' | 'UPDATED' | 'DELETED';
  version: number;
  traceparent: string | null;
  created_at: Generated<Date>;
  lease_owner: string | null;
  lease_until: Timestamp | null;
  attempts: Generated<number>;
  last_error: string | null;
  parked_at: Timestamp | null;
  park_reason: string | null;
}

/** Tables of `source_db`. */
export interface SourceDatabase {
  organizations: OrganizationsTable;
  memberships: MembershipsTable;
  users: UsersTable;
  outbox: OutboxTable;
}

export type UserRow = Selectable<UsersTable>;
export type OutboxRow = Selectable<OutboxTable>;
