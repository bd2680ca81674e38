import { eventTopic } from '@tenant-sync/contracts';
import { ensureEventTopics, type EventTopicSettings, type Kafka } from '@tenant-sync/kafka';

/**
 * Where each entity type's references go. The relay knows no types in advance: the outbox names
 * them, and the first row of a type makes its topic (and dead-letter topic) exist, unless
 * KAFKA_CREATE_TOPICS leaves topics to the operators of a managed Kafka.
 */
export interface EventTopics {
  topicOf(entityType: string): string;
  /** Makes sure the topics of these types exist before their messages are sent. */
  prepare(entityTypes: Iterable<string>): Promise<void>;
  /** The topics prepared so far: those this relay publishes to. */
  prepared(): string[];
}

export function createEventTopics(kafka: Kafka, settings: EventTopicSettings): EventTopics {
  const prepared = new Set<string>();
  return {
    topicOf: (entityType) => eventTopic(settings.KAFKA_TOPIC_TEMPLATE, entityType),
    async prepare(entityTypes) {
      const fresh = [...new Set(entityTypes)].filter((entityType) => !prepared.has(entityType));
      if (fresh.length === 0) return;
      await ensureEventTopics(kafka, settings, fresh, 30_000);
      for (const entityType of fresh) prepared.add(entityType);
    },
    prepared: () => [...prepared].map((entityType) => eventTopic(settings.KAFKA_TOPIC_TEMPLATE, entityType)),
  };
}
