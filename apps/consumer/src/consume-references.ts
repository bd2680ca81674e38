import type { Logger } from 'pino';
import { continueTrace, EventHeaders, parseTraceparent, parseUserEvent } from '@tenant-sync/contracts';
import type { Consumer, EachBatchPayload, KafkaMessage } from '@tenant-sync/kafka';
import { cacheLookups } from '@tenant-sync/tenant-auth';
import { applyReferences, defaultSyncPolicy, type ApplyDependencies, type SyncPolicy } from './apply-references.ts';
import { header, type DeadLetter, type DeadLetterQueue } from './dead-letter.ts';
import { isAuthRefusal, isTransientFetchError, orgInactiveReason, SourceAuthError, SyncUnavailableError } from './errors.ts';
import type { ConsumerMetrics } from './metrics.ts';
import type { ReferenceClient } from './reference-client.ts';
import { backoffDelay, withRetry, type BackoffPolicy } from './retry.ts';

export interface ReferenceConsumerOptions {
  consumer: Consumer;
  topic: string;
  deadLetter: DeadLetterQueue;
  /** How one tenant's references are fetched and written (see `applyReferences`). */
  apply: Omit<ApplyDependencies, 'logger' | 'policy'>;
  orgActive: ReferenceClient['orgActive'];
  logger: Logger;
  metrics?: ConsumerMetrics | undefined;
  policy?: SyncPolicy;
  /** How long an organisation's ACTIVE answer is trusted. */
  orgCacheTtlMs?: number;
  /** How long a partition stays paused after the source refused our credentials. */
  authPauseMs?: number;
  /** Pauses of a partition while the source or the database is unavailable, growing per failed try. */
  unavailablePause?: BackoffPolicy;
  /** Partitions handled at once. */
  partitionsConsumedConcurrently?: number;
  /** Hears the tenants of every batch (reconciliation covers them). */
  onTenantSeen?: (orgId: string) => void;
}

interface Reference {
  entityId: string;
  message: KafkaMessage;
  traceparent: string | undefined;
}

type PauseReason = 'source_auth' | 'unavailable';

/**
 * The Kafka loop: reads batches of references, validates each message, groups them by tenant
 * and applies each tenant's references side by side. Every message ends applied or
 * dead-lettered, never retried for ever: the offset moves on past both. When the source or the
 * database is unavailable, or the source refuses our credentials, the partition pauses and is
 * read again from its first unfinished message — nothing is burnt into the dead-letter topic
 * for a fault that is not the message's.
 */
export function createReferenceConsumer(options: ReferenceConsumerOptions) {
  const { consumer, topic, deadLetter, logger, metrics } = options;
  const policy = options.policy ?? defaultSyncPolicy;
  const authPauseMs = options.authPauseMs ?? 30_000;
  const unavailablePause = options.unavailablePause ?? { initialMs: 1_000, factor: 1.5, maxMs: 30_000, attempts: Infinity };
  // Whether an org is ACTIVE at the source, cached like the auth look-ups; failures are not cached.
  const orgCheck = cacheLookups((orgId: string) => options.orgActive(orgId), { ttlMs: options.orgCacheTtlMs ?? 5_000, keyOf: (orgId) => orgId });
  const failedTries = new Map<number, number>();
  const resumeTimers = new Set<NodeJS.Timeout>();

  async function orgIsActive(orgId: string, log: Logger): Promise<boolean> {
    try {
      return await withRetry(() => orgCheck(orgId), policy.transient, isTransientFetchError, {
        onRetry: (error, attempt, delayMs) => {
          metrics?.retried('transient');
          log.warn({ err: error, attempt, delayMs }, 'organisation check failed; retrying');
        },
      });
    } catch (error) {
      if (isAuthRefusal(error)) throw new SourceAuthError(error.status, error.message);
      throw new SyncUnavailableError(`organisation check failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Applies one tenant's references of a batch; returns the dead letters among them. */
  async function handleTenant(partition: number, orgId: string, references: Reference[]): Promise<DeadLetter[]> {
    // The fetch continues the trace of the first traced message (a new span of it); log lines
    // carry that trace id, and the other traces of the group when there are several.
    const traced = references.flatMap(({ traceparent }) => {
      const parsed = parseTraceparent(traceparent);
      return parsed ? [{ traceparent, traceId: parsed.traceId }] : [];
    });
    const traceIds = [...new Set(traced.map(({ traceId }) => traceId))];
    const trace = continueTrace(traced[0]?.traceparent);
    const log = logger.child({
      tenantId: orgId,
      partition,
      traceId: trace.traceId,
      spanId: trace.spanId,
      ...(traceIds.length > 1 ? { linkedTraceIds: traceIds.slice(0, 20) } : {}),
    });

    if (!(await orgIsActive(orgId, log))) return references.map(({ message }) => ({ message, code: 'org_inactive', reason: orgInactiveReason }));
    options.onTenantSeen?.(orgId);
    const failures = await applyReferences(
      { ...options.apply, logger: log, policy, onRetry: (kind) => metrics?.retried(kind) },
      orgId,
      references.map((reference) => reference.entityId),
      trace.traceparent,
    );
    log.debug({ references: references.length, failed: failures.size }, 'tenant references applied');
    return references.flatMap(({ entityId, message }) => {
      const failure = failures.get(entityId);
      return failure ? [{ message, ...failure }] : [];
    });
  }

  async function handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const started = performance.now();
    const letters: DeadLetter[] = [];
    const byTenant = new Map<string, Reference[]>();
    for (const message of batch.messages) {
      const parsed = parseUserEvent(message.value, header(message.headers, EventHeaders.tenantId));
      if (!parsed.ok) {
        letters.push({ message, code: parsed.code, reason: parsed.reason });
        continue;
      }
      const orgId = parsed.event.tenant_context.org_id.toLowerCase();
      const references = byTenant.get(orgId) ?? [];
      references.push({ entityId: parsed.event.entity.id.toLowerCase(), message, traceparent: header(message.headers, EventHeaders.traceparent) });
      byTenant.set(orgId, references);
    }

    // Tenants are independent (own fetch, own transaction): handle them side by side.
    const tenants = [...byTenant];
    const outcomes = await Promise.allSettled(tenants.map(([orgId, references]) => handleTenant(batch.partition, orgId, references)));
    // A tenant that could not be handled leaves its messages unfinished: the offset stops
    // before the first of them, and everything from there is read again after a pause.
    let firstUnfinished: bigint | undefined;
    let wait: { ms: number; reason: PauseReason } | undefined;
    for (const [index, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') {
        letters.push(...outcome.value);
        continue;
      }
      const [orgId, references] = tenants[index]!;
      const offset = BigInt(references[0]!.message.offset);
      if (firstUnfinished === undefined || offset < firstUnfinished) firstUnfinished = offset;
      const next = pauseFor(outcome.reason, batch.partition, orgId);
      if (!wait || next.ms > wait.ms) wait = next;
    }

    const finished = (message: KafkaMessage) => firstUnfinished === undefined || BigInt(message.offset) < firstUnfinished;
    try {
      await deadLetter(batch, letters.filter(({ message }) => finished(message)));
    } catch (error) {
      logger.error({ err: error, partition: batch.partition }, 'dead-letter topic unavailable; the batch is read again');
      pause(payload, backoffDelay(unavailablePause, nextTry(batch.partition)), 'unavailable');
      return;
    }
    const done = batch.messages.filter(finished);
    const last = done.at(-1);
    if (last) {
      payload.resolveOffset(last.offset);
      metrics?.lag(batch.partition, Math.max(0, Number(batch.highWatermark) - Number(last.offset) - 1));
      await payload.commitOffsetsIfNecessary();
    }
    metrics?.processed(done.length);
    if (wait) pause(payload, wait.ms, wait.reason);
    else failedTries.delete(batch.partition);

    if (logger.isLevelEnabled('debug')) {
      const firstTimestamp = Number(batch.messages[0]?.timestamp);
      logger.debug(
        { partition: batch.partition, messages: batch.messages.length, tenants: byTenant.size, ms: Math.round(performance.now() - started), waitedMs: Math.round(Date.now() - firstTimestamp) },
        'batch applied',
      );
    }
  }

  const nextTry = (partition: number) => {
    const tries = (failedTries.get(partition) ?? 0) + 1;
    failedTries.set(partition, tries);
    return tries;
  };

  /** How long the partition waits after a tenant's failure, with the log line and alert it calls for. */
  function pauseFor(error: unknown, partition: number, orgId: string): { ms: number; reason: PauseReason } {
    if (error instanceof SourceAuthError) {
      metrics?.authAlert();
      logger.error(
        { alert: true, err: error, status: error.status, tenantId: orgId, partition, resumeInMs: authPauseMs },
        'ALERT: the source refused the consumer credentials; partition paused',
      );
      return { ms: authPauseMs, reason: 'source_auth' };
    }
    const delayMs = backoffDelay(unavailablePause, nextTry(partition));
    if (error instanceof SyncUnavailableError) {
      logger.warn({ err: error, tenantId: orgId, partition, resumeInMs: delayMs }, 'source or database unavailable; partition paused, nothing dead-lettered');
    } else {
      logger.error({ err: error, tenantId: orgId, partition, resumeInMs: delayMs }, 'references failed unexpectedly; partition paused, nothing dead-lettered');
    }
    return { ms: delayMs, reason: 'unavailable' };
  }

  function pause(payload: EachBatchPayload, delayMs: number, reason: PauseReason) {
    metrics?.paused(reason);
    const resume = payload.pause();
    const timer = setTimeout(() => {
      resumeTimers.delete(timer);
      try {
        resume();
        logger.info({ partition: payload.batch.partition }, 'partition resumed');
      } catch (resumeError) {
        // The partition may have been revoked meanwhile; its new owner starts unpaused.
        logger.warn({ err: resumeError, partition: payload.batch.partition }, 'could not resume the partition');
      }
    }, delayMs);
    timer.unref();
    resumeTimers.add(timer);
  }

  return {
    async start(): Promise<void> {
      await consumer.connect();
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
    },
  };
}
