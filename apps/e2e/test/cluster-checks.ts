import type postgres from 'postgres';
import type { Admin } from '@tenant-sync/kafka';
import { readTopic } from '@tenant-sync/testing';
import type { AckedWrite, EntityState } from './cluster-load.ts';

/**
 * Logs every row change committed to the consumer's `synced_users`, in the order they were
 * applied: the trigger runs while the writer holds the row's lock, so for one entity the
 * sequence number follows the order of its writes. The function runs as its owner (the
 * superuser that installs it), so the consumer's role needs no right on the log.
 */
export async function recordCopyWrites(consumerAdmin: postgres.Sql): Promise<void> {
  await consumerAdmin.unsafe(`
    CREATE TABLE cluster_copy_writes (
      seq bigserial PRIMARY KEY, op text NOT NULL, org_id uuid NOT NULL, id uuid NOT NULL,
      version bigint NOT NULL, deleted boolean NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE FUNCTION log_copy_write() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        INSERT INTO cluster_copy_writes (op, org_id, id, version, deleted) VALUES (TG_OP, OLD.org_id, OLD.id, OLD.version, true);
      ELSE
        INSERT INTO cluster_copy_writes (op, org_id, id, version, deleted) VALUES (TG_OP, NEW.org_id, NEW.id, NEW.version, NEW.deleted_at IS NOT NULL);
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER synced_users_write_log AFTER INSERT OR UPDATE OR DELETE ON synced_users
      FOR EACH ROW EXECUTE FUNCTION log_copy_write();`);
}

/**
 * The consumer's writes that went backwards for their entity: a version below one it wrote
 * before, or the same version with the deletion undone.
 */
export async function copyRegressions(consumerAdmin: postgres.Sql): Promise<{ writes: number; backwards: number }> {
  const [row] = await consumerAdmin<[{ writes: number; backwards: number }]>`
    SELECT count(*)::int AS writes,
           count(*) FILTER (WHERE version < prior_max OR (version = prior_max AND deleted IS DISTINCT FROM prior_deleted))::int AS backwards
      FROM (SELECT version, deleted,
                   max(version) OVER (PARTITION BY org_id, id ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior_max,
                   lag(deleted) OVER (PARTITION BY org_id, id ORDER BY seq) AS prior_deleted
              FROM cluster_copy_writes) applied`;
  return row;
}

/**
 * Reads the whole events topic and counts, per key (entity), the references whose version is
 * below one published before it in its partition, and the keys found in more than one partition
 * (whose order Kafka could not keep). Duplicates — a reference published again after a relay
 * died before deleting its outbox row — are not disorder.
 */
export async function busRegressions(admin: Admin, brokers: string, topic: string): Promise<{ references: number; backwards: number; splitKeys: number }> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const total = offsets.reduce((sum, { low, high }) => sum + Number(high) - Number(low), 0);
  const messages = await readTopic(brokers, topic, total, 120_000);
  if (messages.length < total) throw new Error(`read ${messages.length} of the ${total} references on ${topic}`);
  messages.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
  const seen = new Map<string, { partition: number; version: number }>();
  let backwards = 0;
  const split = new Set<string>();
  for (const message of messages) {
    const { version } = JSON.parse(message.value ?? '{}') as { version: number };
    const key = message.key ?? '';
    const before = seen.get(key);
    if (before && before.partition !== message.partition) split.add(key);
    else if (before && version < before.version) backwards += 1;
    seen.set(key, { partition: message.partition, version: Math.max(version, before?.version ?? 0) });
  }
  return { references: messages.length, backwards, splitKeys: split.size };
}

/** Messages on every dead-letter topic (`*.dlq`) of the cluster. */
export async function deadLetterCount(admin: Admin): Promise<number> {
  let count = 0;
  for (const topic of (await admin.listTopics()).filter((name) => name.endsWith('.dlq'))) {
    for (const { low, high } of await admin.fetchTopicOffsets(topic)) count += Number(high) - Number(low);
  }
  return count;
}

type EntityRows = Map<string, { version: number; deleted: boolean }>;

const rowsById = (rows: Array<{ id: string; version: number; deleted: boolean }>): EntityRows =>
  new Map(rows.map(({ id, version, deleted }) => [id, { version, deleted }]));

/** Every user of the source (live and tombstones) and of the consumer's copy, as `{version, deleted}` per id. */
export async function entityStates(sourceAdmin: postgres.Sql, consumerAdmin: postgres.Sql): Promise<{ source: EntityRows; copy: EntityRows }> {
  const source = await sourceAdmin<Array<{ id: string; version: number; deleted: boolean }>>`
    SELECT id, version::int AS version, false AS deleted FROM users
    UNION ALL SELECT id, version::int, true FROM tombstones WHERE entity_type = 'USER'`;
  const copy = await consumerAdmin<Array<{ id: string; version: number; deleted: boolean }>>`
    SELECT id, version::int AS version, deleted_at IS NOT NULL AS deleted FROM synced_users`;
  return { source: rowsById(source), copy: rowsById(copy) };
}

/**
 * What the copy lacks. `missingWrites`: acknowledged writes whose version the copy never
 * reached. `wrongFinal`: entities whose copy is past their last acknowledged write or has the
 * wrong deletion state (a behind copy is already a missing write). `differsFromSource`: any
 * other entity — one a failed request may have changed — whose copy is not the source's state.
 */
export function compareCopy(writes: AckedWrite[], entities: Map<string, EntityState>, { source, copy }: { source: EntityRows; copy: EntityRows }) {
  const missingWrites = writes.filter((write) => (copy.get(write.id)?.version ?? 0) < write.version).length;
  let wrongFinal = 0;
  for (const [id, state] of entities) {
    const copied = copy.get(id);
    if (state.uncertain || !copied || copied.version < state.version) continue;
    if (copied.version > state.version || copied.deleted !== state.deleted) wrongFinal += 1;
  }
  let differsFromSource = 0;
  for (const id of new Set([...source.keys(), ...copy.keys()])) {
    if (entities.has(id) && !entities.get(id)!.uncertain) continue;
    const [want, have] = [source.get(id), copy.get(id)];
    if (want?.version !== have?.version || want?.deleted !== have?.deleted) differsFromSource += 1;
  }
  return { missingWrites, wrongFinal, differsFromSource, lost: missingWrites + wrongFinal + differsFromSource };
}
