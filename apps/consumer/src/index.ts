// What other workspaces may build on: the app, built in-process, and its type declarations.
export { buildConsumer, type ConsumerApp, type ConsumerOptions } from './consumer.ts';
export { syncedTypes, type SourceEntity, type SyncedType } from './synced-types.ts';
