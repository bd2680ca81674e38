import type { Kafka } from '@tenant-sync/kafka';
import { existingTopics, readDeadLetters, type DeadLetter } from '@tenant-sync/operator';
import type { EntityKind } from './entity-types.ts';

/** The newest dead letters of one entity type's dead-letter topic. */
export interface DeadLetterShelf {
  kind: EntityKind;
  /** Dead letters the topic holds in all. */
  total: number;
  /** The newest ones read, oldest first. */
  letters: DeadLetter[];
}

export interface DeadLetterScanOptions {
  kafka: Kafka;
  kinds: readonly EntityKind[];
  /** The newest letters read of each partition. */
  last: number;
  /** How long one scan serves every page that asks (pages of many viewers share it). */
  ttlMs: number;
}

/**
 * Reads the newest dead letters of every entity type's dead-letter topic, at most once per
 * `ttlMs`; callers filter what they may show. A topic that does not exist yet holds none.
 */
export function createDeadLetterScan({ kafka, kinds, last, ttlMs }: DeadLetterScanOptions): () => Promise<DeadLetterShelf[]> {
  let latest: { at: number; shelves: Promise<DeadLetterShelf[]> } | null = null;
  const scan = async (): Promise<DeadLetterShelf[]> => {
    const present = new Set(await existingTopics(kafka, kinds.map((kind) => kind.deadLetterTopic)));
    return Promise.all(
      kinds.map(async (kind) => (present.has(kind.deadLetterTopic) ? { kind, ...(await readDeadLetters(kafka, kind.deadLetterTopic, { last })) } : { kind, total: 0, letters: [] })),
    );
  };
  return () => {
    if (latest && Date.now() - latest.at < ttlMs) return latest.shelves;
    const shelves = scan();
    const entry = { at: Date.now(), shelves };
    latest = entry;
    shelves.catch(() => {
      if (latest === entry) latest = null;
    });
    return shelves;
  };
}
