import type { Kysely } from 'kysely';
import type { SourceDatabase } from '@tenant-sync/db';
import type { Kafka } from '@tenant-sync/kafka';
import { asOperator, audit, auditTrail, consumerLag, listOrgs, outboxState, parkedRows, replayRefusal, type DeadLetter, type PartitionLag } from '@tenant-sync/operator';
import type { DeadLetterShelf } from '../dead-letter-scan.ts';
import type { EntityKind } from '../entity-types.ts';
import { instancesHealth, type InstanceHealth } from './instances.ts';

export interface OperatorOverviewSources {
  db: Kysely<SourceDatabase>;
  kafka: Kafka;
  kinds: readonly EntityKind[];
  /** The consumer group whose lag is shown. */
  groupId: string;
  instances: ReadonlyArray<{ name: string; url: string }>;
  deadLetters: () => Promise<DeadLetterShelf[]>;
}

type Tenancy = Awaited<ReturnType<typeof readTenancy>>;

/** A part of the overview, or why it could not be read: one part down does not hide the others. */
export type Part<T> = { ok: true; value: T } | { ok: false; problem: string };

export interface ListedDeadLetter {
  kind: EntityKind;
  letter: DeadLetter;
  /** Why the replay rules refuse it, or null when it may be replayed. */
  refusal: string | null;
}

export interface OperatorOverview extends Tenancy {
  lag: Part<PartitionLag[]>;
  instances: InstanceHealth[];
  deadLetters: Part<{ total: number; listed: ListedDeadLetter[]; perTenant: Map<string, number> }>;
}

const MAX_DEAD_LETTERS_LISTED = 100;

async function part<T>(work: Promise<T>, what: string): Promise<Part<T>> {
  try {
    return { ok: true, value: await work };
  } catch (error) {
    return { ok: false, problem: `${what}: ${(error as Error).message}` };
  }
}

/** What the database says, read in one transaction of the operator login that first records the read. */
function readTenancy(db: Kysely<SourceDatabase>, operator: string) {
  return asOperator(db, async (trx) => {
    await audit(trx, 'read console overview', null, { via: 'console', operator });
    const [orgs, outbox, parked, trail] = [await listOrgs(trx), await outboxState(trx), await parkedRows(trx, 20), await auditTrail(trx, 10)];
    return { orgs, outbox, parked, trail };
  });
}

/**
 * Everything the operator view shows. The database part is audited and must succeed; Kafka and
 * the instances are shown as unreadable when they do not answer.
 */
export async function readOperatorOverview(sources: OperatorOverviewSources, operator: string): Promise<OperatorOverview> {
  const { db, kafka, kinds, groupId, instances, deadLetters } = sources;
  const [tenancy, lag, health, shelves] = await Promise.all([
    readTenancy(db, operator),
    part(consumerLag(kafka, groupId, kinds.map((kind) => kind.eventsTopic)), 'Kafka'),
    instancesHealth(instances),
    part(deadLetters(), 'Kafka'),
  ]);
  const letters: Part<{ total: number; listed: ListedDeadLetter[]; perTenant: Map<string, number> }> = shelves.ok
    ? {
        ok: true,
        value: {
          total: shelves.value.reduce((sum, shelf) => sum + shelf.total, 0),
          listed: shelves.value
            .flatMap(({ kind, letters: read }) => read.map((letter) => ({ kind, letter, refusal: replayRefusal(letter, kind.eventsTopic, kind.type) })))
            .sort((a, b) => (b.letter.timestamp ?? 0) - (a.letter.timestamp ?? 0))
            .slice(0, MAX_DEAD_LETTERS_LISTED),
          perTenant: shelves.value
            .flatMap((shelf) => shelf.letters)
            .reduce((counts, letter) => counts.set(letter.tenantHeader?.toLowerCase() ?? '', (counts.get(letter.tenantHeader?.toLowerCase() ?? '') ?? 0) + 1), new Map<string, number>()),
        },
      }
    : shelves;
  return { ...tenancy, lag, instances: health, deadLetters: letters };
}
