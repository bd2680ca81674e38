export { TenantSyncClient, type PageOptions, type TenantSyncClientOptions, type TokenSource, type UserPage } from './client.ts';
export { InvalidOrgIdError, InvalidResponseError, TenantMismatchError, TenantSyncApiError, type ApiErrorBody } from './errors.ts';
