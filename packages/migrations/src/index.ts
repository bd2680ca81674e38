export { APP_ROLES, dropDatabases, OWNER_ROLE, provisionDatabases, withDatabase, type AppRole, type ProvisionOptions } from './provision.ts';
