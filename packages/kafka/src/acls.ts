/** The principals of one installation, as the broker names them: `User:<SASL user>` (or a certificate's `User:CN=…`). */
export interface AclPrincipals {
  relay: string;
  consumer: string;
  operator: string;
  /** The web console (apps/console), when it runs: the operator's rights, and the consumers' lag. */
  console?: string | undefined;
}

export interface AclPlanOptions {
  principals: AclPrincipals;
  /** The events topics, one per entity type (`user-events`, `team-events`); each one's dead letters go to `<topic>.dlq`. */
  eventTopics: string[];
  /** The consumers' group (KAFKA_GROUP_ID). */
  consumerGroup: string;
  /**
   * True when the apps create their topics at start (KAFKA_CREATE_TOPICS=true): both then need
   * Create and Describe on every topic they create. Least privilege is false: the platform team
   * creates the topics, the apps only use them.
   */
  createTopics?: boolean;
}

export type AclOperation = 'Read' | 'Write' | 'Describe' | 'Create';

/** One allow rule: `principal` may do `operations` on every resource named. */
export interface AclRule {
  principal: string;
  resource: 'topic' | 'group';
  /** `literal`: exactly these names; `prefixed`: every name starting with one. */
  pattern: 'literal' | 'prefixed';
  names: string[];
  operations: AclOperation[];
  /** What the principal needs it for. */
  why: string;
}

/** Dead letters of `topic` go here (the contract in DESIGN.md). */
const deadLetterTopicOf = (topic: string) => `${topic}.dlq`;

/**
 * Group ids of the operator CLI's readers (`readFromOffsets` names its throw-away group
 * `tenant-sync-reader-<uuid>`): the operator's ACL covers the prefix.
 */
export const readerGroupPrefix = 'tenant-sync-reader-';

/**
 * The ACLs tenant-sync needs and nothing more, with the broker's StandardAuthorizer refusing
 * everything else (`allow.everyone.if.no.acl.found=false`): the relay writes the events topics,
 * reads the consumers' lag and cannot read a message; the consumer reads them in its group, commits its offsets and writes
 * the dead-letter topics, but cannot write an events topic; the operator CLI reads the
 * dead-letter topics (`dlq`, with a reader group of its own) and writes the events topics
 * (`replay`). Topic names are literal, not prefixed: `user-events` is a prefix of
 * `user-events.dlq`, so a prefix rule for the events topics would also cover their dead letters.
 */
export function tenantSyncAcls({ principals, eventTopics, consumerGroup, createTopics = false }: AclPlanOptions): AclRule[] {
  const deadLetterTopics = eventTopics.map(deadLetterTopicOf);
  const topic = (principal: string, names: string[], operations: AclOperation[], why: string): AclRule => ({
    principal,
    resource: 'topic',
    pattern: 'literal',
    names,
    operations,
    why,
  });
  const rules: AclRule[] = [
    topic(principals.relay, eventTopics, ['Write', 'Describe'], 'publishes references (Write on a topic also lets an idempotent producer get its id: no cluster ACL)'),
    {
      principal: principals.relay,
      resource: 'group',
      pattern: 'literal',
      names: [consumerGroup],
      operations: ['Describe'],
      why: "reads the consumers' committed offsets, to keep a backlog in the outbox while they lag (RELAY_MAX_LAG); it cannot join the group",
    },
    topic(principals.consumer, eventTopics, ['Read', 'Describe'], 'reads references'),
    { principal: principals.consumer, resource: 'group', pattern: 'literal', names: [consumerGroup], operations: ['Read'], why: 'joins its group and commits offsets' },
    topic(principals.consumer, deadLetterTopics, ['Write', 'Describe'], 'parks what it cannot process'),
    topic(principals.operator, deadLetterTopics, ['Read', 'Describe'], '`tenant dlq`: reads the dead letters and their offsets'),
    { principal: principals.operator, resource: 'group', pattern: 'prefixed', names: [readerGroupPrefix], operations: ['Read'], why: '`tenant dlq` reads with a throw-away group, committing nothing' },
    topic(principals.operator, eventTopics, ['Write', 'Describe'], '`tenant replay`: publishes a fixed dead letter again'),
  ];
  if (principals.console) {
    rules.push(
      topic(principals.console, deadLetterTopics, ['Read', 'Describe'], 'the operator view reads the dead letters'),
      { principal: principals.console, resource: 'group', pattern: 'prefixed', names: [readerGroupPrefix], operations: ['Read'], why: 'reads dead letters with a throw-away group' },
      topic(principals.console, eventTopics, ['Write', 'Describe'], 'replays a dead letter; Describe also gives the high watermarks of the lag'),
      { principal: principals.console, resource: 'group', pattern: 'literal', names: [consumerGroup], operations: ['Describe'], why: "shows the consumers' lag (committed offsets), without joining the group" },
    );
  }
  if (createTopics) {
    const all = [...eventTopics, ...deadLetterTopics];
    rules.push(
      topic(principals.relay, all, ['Create', 'Describe'], 'creates the topics at start (KAFKA_CREATE_TOPICS=true)'),
      topic(principals.consumer, all, ['Create', 'Describe'], 'creates the topics at start (KAFKA_CREATE_TOPICS=true)'),
    );
  }
  return rules;
}

/** The arguments of `kafka-acls.sh` (Kafka's AclCommand) that add `rule`, after the connection options. */
export function aclCommandArgs(rule: AclRule): string[] {
  return [
    '--add',
    '--allow-principal',
    rule.principal,
    ...rule.operations.flatMap((operation) => ['--operation', operation]),
    ...rule.names.flatMap((name) => [`--${rule.resource}`, name]),
    '--resource-pattern-type',
    rule.pattern,
  ];
}
