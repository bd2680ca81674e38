export { createDatabase, pingDatabase, type DatabaseOptions } from './create-database.ts';
export { connectPostgres, postgresTls, type PostgresSsl } from './connect-postgres.ts';
export { InvalidDatabaseUrlError, InvalidTenantError } from './errors.ts';
export { pipelineWithTenant, withTenant, type TenantTransactionOptions } from './tenant-transaction.ts';
export type { ConsumerDatabase, SyncedTableColumns, SyncedTeamsTable, SyncedUsersTable } from './consumer-schema.ts';
export type { OutboxRow, SourceDatabase, TeamRow, UserRow } from './source-schema.ts';
export { statementOnce } from './statement-once.ts';
