export { APP_ROLES, dropDatabases, MigrationChangedError, OWNER_ROLE, provisionDatabases, withDatabase, type AppRole, type ProvisionOptions } from './provision.ts';
