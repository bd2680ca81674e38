import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { continueTrace, EventHeaders, parseTraceparent, parseUserEvent, type UserEvent } from '@tenant-sync/contracts';
import type { ConsumerDatabase } from '@tenant-sync/db';
import type { Consumer, EachBatchPayload, IHeaders, KafkaMessage, Producer } from '@tenant-sync/kafka';
import { cacheLookups } from '@tenant-sync/tenant-auth';
import { coalesce } from './coalesce.ts';
import { coalesceUserFetches } from './coalesced-fetch.ts';
import type { ConsumerMetrics } from './metrics.ts';
import { ReferenceApiError, type ReferenceClient } from './reference-client.ts';
import { withRetry } from './retry.ts';
import {
  applyTenantChanges,
  defaultSyncPolicy,
  fetchTenantChanges,
  isTransient,
  orgInactiveReason,
  SourceAuthError,
  type DeadLetterCode,
  type SyncPolicy,
  type TenantChanges,
} from './user-sync.ts';

export interface SyncConsumerOptions {
  consumer: Consumer;
  /** Producer for the dead-letter topic. */
  producer: Producer;
  db: Kysely<ConsumerDatabase>;
  reference: Pick<ReferenceClient, 'fetchUsers' | 'orgActive'>;
  logger: Logger;
  topic: string;
  dlqTopic: string;
  metrics?: ConsumerMetrics;
  policy?: SyncPolicy;
  /** How long an organisation's ACTIVE answer is trusted. */
  orgCacheTtlMs?: number;
  /** How long a partition stays paused after the source refused our credentials. */
  authPauseMs?: number;
  /** Partitions handled at once. */
  partitionsConsumedConcurrently?: number;
  /** Hears the tenants of every batch (reconciliation covers them). */
  onTenantSeen?: (orgId: string) => void;
}

interface Entry {
  event: UserEvent;
  message: KafkaMessage;
  traceparent: string | undefined;
}

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/**
 * Consumes references from Kafka and applies them, per partition batch and per tenant: the
 * organisation is checked first (ACTIVE at the source, cached), then the entities are fetched
 * in one round trip and written in one transaction. Offsets are resolved only after the data
 * is written (at-least-once). Invalid or unprocessable messages go to the dead-letter topic
 * with their reason and the original topic, partition and offset, and consumption goes on;
 * when the source refuses our credentials the partition pauses for `authPauseMs` instead.
 */
export function createSyncConsumer(options: SyncConsumerOptions) {
  const { consumer, producer, db, reference, logger, topic, dlqTopic, metrics } = options;
  const policy = options.policy ?? defaultSyncPolicy;
  const authPauseMs = options.authPauseMs ?? 30_000;
  // The partitions' batches are handled side by side: one Reference API call per tenant for all of them…
  const fetchUsers = coalesceUserFetches((orgId, ids, traceparent) => reference.fetchUsers(orgId, ids, traceparent));
  // …and one transaction per tenant for the writes of all of them.
  const writeChanges = coalesce((orgId, inputs: TenantChanges[]) => applyTenantChanges(db, orgId, inputs));
  // Whether an org is ACTIVE at the source, cached like the auth look-ups; failures are not cached.
  const orgCheck = cacheLookups((orgId: string) => reference.orgActive(orgId), { ttlMs: options.orgCacheTtlMs ?? 5_000, keyOf: (orgId) => orgId });
  const resumeTimers = new Set<NodeJS.Timeout>();
  const hooks = { onRetry: (kind: 'transient' | 'not_found') => metrics?.retried(kind) };

  async function deadLetter(batch: EachBatchPayload['batch'], letters: Array<{ message: KafkaMessage; code: DeadLetterCode; reason: string }>) {
    if (letters.length === 0) return;
    letters.sort((x, y) => Number(x.message.offset) - Number(y.message.offset));
    await producer.send({
      topic: dlqTopic,
      messages: letters.map(({ message, reason }) => ({
        key: message.key,
        value: message.value,
        headers: {
          ...(message.headers ?? {}),
          'dlq-reason': reason,
          'dlq-original-topic': batch.topic,
          'dlq-original-partition': String(batch.partition),
          'dlq-original-offset': message.offset,
        },
      })),
    });
    for (const { message, code, reason } of letters) {
      metrics?.deadLettered(code);
      const traceId = parseTraceparent(header(message.headers, EventHeaders.traceparent))?.traceId;
      logger.warn({ partition: batch.partition, offset: message.offset, code, reason, ...(traceId ? { traceId } : {}) }, 'message dead-lettered');
    }
  }

  /** Whether the org may be synced; transient failures are retried like fetches, a 401 is thrown. */
  async function orgIsActive(orgId: string, log: Logger): Promise<boolean | 'unavailable'> {
    try {
      return await withRetry(() => orgCheck(orgId), policy.transient, isTransient, {
        onRetry: (error, attempt, delayMs) => {
          hooks.onRetry('transient');
          log.warn({ err: error, attempt, delayMs }, 'organisation check failed; retrying');
        },
      });
    } catch (error) {
      if (error instanceof ReferenceApiError && (error.status === 401 || error.status === 403)) {
        throw new SourceAuthError(error.status, error.message);
      }
      if (isTransient(error)) return 'unavailable';
      throw error;
    }
  }

  async function handleTenant(batch: EachBatchPayload['batch'], orgId: string, entries: Entry[]) {
    // The fetch continues the trace of the first traced message (a new span of it); log lines
    // carry that trace id, and the other traces of the group when there are several.
    const traced = entries.flatMap(({ traceparent }) => {
      const parsed = parseTraceparent(traceparent);
      return parsed ? [{ traceparent, traceId: parsed.traceId }] : [];
    });
    const traceIds = [...new Set(traced.map(({ traceId }) => traceId))];
    const trace = continueTrace(traced[0]?.traceparent);
    const log = logger.child({
      tenantId: orgId,
      partition: batch.partition,
      traceId: trace.traceId,
      spanId: trace.spanId,
      ...(traceIds.length > 1 ? { linkedTraceIds: traceIds.slice(0, 20) } : {}),
    });
    const byEvent = (code: DeadLetterCode, reason: string) => entries.map(({ message }) => ({ message, code, reason }));

    const active = await orgIsActive(orgId, log);
    if (active === 'unavailable') return byEvent('source_unavailable', `source unavailable after ${policy.transient.attempts} attempts`);
    if (!active) return byEvent('org_inactive', orgInactiveReason);

    options.onTenantSeen?.(orgId);
    const changes = await fetchTenantChanges(
      { reference: { fetchUsers }, logger: log, policy, hooks },
      orgId,
      entries.map((entry) => entry.event),
      trace.traceparent,
    );
    const failures = await writeChanges(orgId, changes);
    log.debug({ events: entries.length, failed: failures.length }, 'tenant events applied');
    // A failure names the newest event of its entity; every message of that entity fails with it.
    const failed = new Map(failures.map((failure) => [failure.event.entity.id, failure]));
    return entries.flatMap(({ event, message }) => {
      const failure = failed.get(event.entity.id);
      return failure ? [{ message, code: failure.code, reason: failure.reason }] : [];
    });
  }

  async function handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const started = performance.now();
    const letters: Array<{ message: KafkaMessage; code: DeadLetterCode; reason: string }> = [];
    const byTenant = new Map<string, Entry[]>();
    for (const message of batch.messages) {
      const parsed = parseUserEvent(message.value, header(message.headers, EventHeaders.tenantId));
      if (!parsed.ok) {
        letters.push({ message, code: parsed.code, reason: parsed.reason });
        continue;
      }
      const orgId = parsed.event.tenant_context.org_id.toLowerCase();
      const list = byTenant.get(orgId) ?? [];
      list.push({ event: parsed.event, message, traceparent: header(message.headers, EventHeaders.traceparent) });
      byTenant.set(orgId, list);
    }

    // Tenants are independent (own fetch, own transaction): handle them side by side.
    const outcomes = await Promise.allSettled([...byTenant].map(([orgId, entries]) => handleTenant(batch, orgId, entries)));
    for (const [index, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') {
        letters.push(...outcome.value);
        continue;
      }
      const error: unknown = outcome.reason;
      if (error instanceof SourceAuthError) pauseForCredentials(payload, [...byTenant.keys()][index]!, error);
      else logger.error({ err: error, partition: batch.partition }, 'batch failed; it will be consumed again');
      // Nothing of this batch is resolved: it is consumed again (writes are idempotent).
      throw error;
    }

    await deadLetter(batch, letters);
    const last = batch.messages.at(-1);
    if (last) {
      payload.resolveOffset(last.offset);
      metrics?.lag(batch.partition, Math.max(0, Number(batch.highWatermark) - Number(last.offset) - 1));
    }
    await payload.commitOffsetsIfNecessary();
    metrics?.processed(batch.messages.length);
    if (logger.isLevelEnabled('debug')) {
      const firstTimestamp = Number(batch.messages[0]?.timestamp);
      logger.debug(
        { partition: batch.partition, messages: batch.messages.length, tenants: byTenant.size, ms: Math.round(performance.now() - started), waitedMs: Math.round(Date.now() - firstTimestamp) },
        'batch applied',
      );
    }
  }

  function pauseForCredentials(payload: EachBatchPayload, orgId: string, error: SourceAuthError) {
    metrics?.authAlert();
    logger.error(
      { alert: true, err: error, status: error.status, tenantId: orgId, partition: payload.batch.partition, resumeInMs: authPauseMs },
      'ALERT: the source refused the consumer credentials; partition paused',
    );
    const resume = payload.pause();
    const timer = setTimeout(() => {
      resumeTimers.delete(timer);
      try {
        resume();
        logger.info({ partition: payload.batch.partition }, 'partition resumed after credential pause');
      } catch (resumeError) {
        // The partition may have been revoked meanwhile; its new owner starts unpaused.
        logger.warn({ err: resumeError, partition: payload.batch.partition }, 'could not resume the partition');
      }
    }, authPauseMs);
    timer.unref();
    resumeTimers.add(timer);
  }

  return {
    async start(): Promise<void> {
      await consumer.connect();
      await producer.connect();
      await consumer.subscribe({ topics: [topic] });
      await consumer.run({
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 6,
        eachBatch: handleBatch,
      });
    },
    async stop(): Promise<void> {
      for (const timer of resumeTimers) clearTimeout(timer);
      resumeTimers.clear();
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}
