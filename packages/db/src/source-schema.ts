import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface OrganizationsTable {
  id: string;
  name: string;
  status: ColumnType<'ACTIVE' | 'SUSPENDED', 'ACTIVE' | 'SUSPENDED' | undefined>;
  created_at: Generated<Date>;
}

export interface MembershipsTable {
  org_id: string;
  subject: string;
  role: 'member' | 'tenant_admin';
  status: ColumnType<'ACTIVE' | 'REMOVED', 'ACTIVE' | 'REMOVED' | undefined>;
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

export interface TeamsTable {
  org_id: string;
  id: Generated<string>;
  name: string;
  description: string | null;
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

/** What the source keeps of a deleted entity: its id and the version of the deletion. */
export interface TombstonesTable {
  org_id: string;
  entity_type: string;
  id: string;
  version: number;
  deleted_at: Generated<Date>;
}

/** Append-only record of everything the operator role did (written by a trigger and the CLI). */
export interface OperatorAuditLogTable {
  id: Generated<number>;
  at: Generated<Date>;
  operator: string;
  db_role: Generated<string>;
  command: string;
  org_id: string | null;
  detail: ColumnType<unknown, string | undefined, never>;
}

/** Tables of `source_db`. */
export interface SourceDatabase {
  organizations: OrganizationsTable;
  memberships: MembershipsTable;
  users: UsersTable;
  teams: TeamsTable;
  outbox: OutboxTable;
  tombstones: TombstonesTable;
  operator_audit_log: OperatorAuditLogTable;
}

export type UserRow = Selectable<UsersTable>;
export type TeamRow = Selectable<TeamsTable>;
export type OutboxRow = Selectable<OutboxTable>;
