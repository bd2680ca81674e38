export { TenantSyncClient, type TenantSyncClientOptions, type TokenSource } from './client.ts';
export type { Page, PageOptions } from './collection.ts';
export { InvalidOrgIdError, InvalidResponseError, TenantMismatchError, TenantSyncApiError, type ApiErrorBody } from './errors.ts';
export { syncedTypes, type CollectionMethods, type SyncedType } from './synced-types.ts';
export type { TeamPage, UserPage } from '@tenant-sync/contracts';
