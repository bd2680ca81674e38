export { APP_ROLES, dropDatabases, OWNER_ROLE, provisionDatabases, withDatabase, type ProvisionOptions } from './provision.ts';
