export { OperatorError } from './errors.ts';
export { consumerLag, existingTopics, type PartitionLag } from './consumer-lag.ts';
export {
  isTenantsDeadLetter,
  matchesFilter,
  readDeadLetter,
  readDeadLetters,
  replayDeadLetters,
  replayRefusal,
  watermarks,
  type DeadLetter,
  type DeadLetterFilter,
} from './dead-letters.ts';
export {
  addMember,
  asOperator,
  audit,
  auditTrail,
  createOrg,
  listMembers,
  listOrgs,
  outboxState,
  parkedRows,
  removeMember,
  setOrgStatus,
} from './operator-queries.ts';
