export { DEFAULT_ORG_ID, DEMO_ORG_ID, isOrgId, parseOrgId, TENANT_HEADER, type OrgId } from './org-id.ts';
export { CreateUserBody, UpdateUserBody, User, UserPage } from './user.ts';
export {
  deadLetterTopic,
  ENTITY_TYPE_PATTERN,
  EntityEvent,
  entityEventValidator,
  outboxFieldsValidator,
  EVENT_ACTIONS,
  EventHeaders,
  eventTopic,
  isEntityType,
  parseEntityEvent,
  type EventAction,
  type EventRejection,
  type ParsedEvent,
} from './entity-event.ts';
export {
  MembershipResponse,
  ReferenceBatchBody,
  ReferenceBatchResponse,
  ReferenceHeaders,
  ReferenceResponse,
  referenceBatchResponseOf,
  referenceResponseOf,
  Tombstone,
  VersionPage,
} from './reference-api.ts';
export { decodeCursor, encodeCursor, PageQuery, pageOf, type PagePosition } from './page-cursor.ts';
export { DeadLetterHeaders, isDeadLetterHeader } from './dead-letter.ts';
export { CreateTeamBody, Team, TeamPage, UpdateTeamBody } from './team.ts';
