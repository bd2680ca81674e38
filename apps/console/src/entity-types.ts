import { deadLetterTopic, eventTopic } from '@tenant-sync/contracts';
import { splitList } from '@tenant-sync/config';

/** Where the console finds one entity type: its API paths and its topics. */
export interface EntityKind {
  /** As in the outbox and the events: `USER`, `TEAM`. */
  type: string;
  /** Plural for people: `users`, `teams`. */
  label: string;
  /** `/users` on :8001. */
  sourcePath: string;
  /** `/cache/users` on :8002. */
  copyPath: string;
  eventsTopic: string;
  deadLetterTopic: string;
}

/** The entity types of `CONSOLE_ENTITY_TYPES`, with the paths and topics the system gives each. */
export function entityKinds(types: string, topicTemplate: string): EntityKind[] {
  return splitList(types).map((type) => {
    const plural = `${type.toLowerCase().replaceAll('_', '-')}s`;
    const topic = eventTopic(topicTemplate, type);
    return { type, label: plural, sourcePath: `/${plural}`, copyPath: `/cache/${plural}`, eventsTopic: topic, deadLetterTopic: deadLetterTopic(topic) };
  });
}
