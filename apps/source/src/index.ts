// What other workspaces may build on: the app, built in-process, and its entity declarations.
export { buildSource, type SourceOptions } from './source.ts';
export { syncedEntities, type SyncedEntity } from './synced-entities.ts';
