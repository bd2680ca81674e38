import type { Span } from '@opentelemetry/api';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { SourceDatabase } from '@tenant-sync/db';
import type { BatchProducer, OutgoingMessage } from '@tenant-sync/kafka';
import { EventHeaders } from '@tenant-sync/contracts';
import { backoffDelay, type BackoffPolicy } from '@tenant-sync/ops';
import { endSpan, isTracing, traceparentOf } from '@tenant-sync/tracing';
import type { EventTopics } from './event-topics.ts';
import { toMessage } from './event.ts';
import type { RelayMetrics } from './metrics.ts';
import { createExpressClaim, EVERYONE } from './express-claim.ts';
import { createClaimer, deletePublished, parkRow, releaseLeases, type ClaimedRow } from './outbox.ts';
import { startPublishSpan } from './publish-span.ts';
import { createTenantPacer } from './tenant-pacer.ts';

export interface RelayOptions {
  db: Kysely<SourceDatabase>;
  producer: BatchProducer;
  topics: EventTopics;
  logger: Logger;
  metrics: RelayMetrics;
  /** Identifies this relay's leases. */
  relayId: string;
  batchSize: number;
  pollIntervalMs: number;
  leaseMs: number;
  /** Batches published at once (`BATCHES_IN_FLIGHT`). */
  batchesInFlight?: number;
  /** Rows a second of one tenant while other tenants have changes too (`createConsumerPace`); none: unpaced. */
  tenantPace?: () => number;
  /** The consumers' lag, and how much of it holds a backlog in the outbox (`RELAY_MAX_LAG`, see `run`). */
  downstream?: { lag: () => number; maxLag: number };
}

/** After a failed batch: from 200 ms, doubling, at most 10 s, for as long as the failure lasts. */
const failureBackoff: BackoffPolicy = { initialMs: 200, factor: 2, maxMs: 10_000, attempts: Infinity };

/**
 * Batches published at once. A claim never takes a successor of a row in flight, so batches
 * in flight never hold two rows of one entity and may be acknowledged in any order.
 */
export const BATCHES_IN_FLIGHT = 2;

/**
 * The outbox relay loop: claim a batch, publish it, wait for every delivery report, and only
 * then delete the rows. The loop does not wait for a batch to be acknowledged before it claims
 * the next: up to `batchesInFlight` batches are published and deleted side by side with the
 * next claim, so the database and Kafka work at the same time and a commit that lands while a
 * batch is in flight is claimed at once. The claim never takes a successor of a row still in
 * flight (see `claimBatch`), so this keeps each entity in order. An empty or partial batch
 * waits `pollIntervalMs` or until `poke()`. A failed publish gives its rows back; then the loop
 * backs off exponentially with jitter, and carries on.
 *
 * A backlog is published no faster than the consumers apply it: while they are `maxLag`
 * messages behind (`downstream`), the loop claims no full batch and the backlog stays in the
 * outbox. There every tenant's next change is claimed first (the express claim, the turns);
 * in Kafka it would wait behind the backlog in every partition. A relay that published a
 * million-row import as fast as it could left the consumer 465,000 messages behind, and the
 * other tenants' changes behind them (`consumer:bench-fairness` with BENCH_IMPORT=1000000).
 */
export function createRelay(options: RelayOptions) {
  const { db, producer, topics, logger, metrics, relayId, batchSize, pollIntervalMs, leaseMs, batchesInFlight = BATCHES_IN_FLIGHT, tenantPace, downstream } = options;
  let running = false;
  let loop: Promise<void> | undefined;
  // Cuts the current wait short: stop() always, poke() only while waiting for work.
  let wait: { cut: () => void; wakeable: boolean } | undefined;
  // Set by a wake-up that arrives after the last claim started, so the next wait is skipped.
  let wakeRequested = false;
  // When the first wake-up (notification or poll) not yet answered by a claim came.
  let wokenAt: number | undefined;
  // Batches being published or deleted; each settles without throwing.
  const inFlight = new Set<Promise<void>>();
  // The first publish failure the loop has not yet backed off for.
  let publishFailure: Error | undefined;
  let failures = 0;

  const claimer = createClaimer(db, relayId, batchSize, leaseMs, tenantPace && createTenantPacer(tenantPace, batchSize));
  const express = createExpressClaim({ claimer, running: () => running, publish: startPublishing, wake, observeClaim, metrics, logger });

  async function claim(previous?: ClaimedRow[]): Promise<ClaimedRow[]> {
    const started = performance.now();
    const startedAt = Date.now();
    const waking = started - (wokenAt ?? started);
    // This claim sees every commit notified so far.
    wokenAt = undefined;
    wakeRequested = false;
    const rows = await claimer.next(previous);
    if (rows.length > 0) {
      metrics.stageDuration.observe({ stage: 'wake' }, waking / 1000);
      observeClaim(rows, started, startedAt);
    }
    return rows;
  }

  /** A claim's time, and each of its rows' wait from being written to the claim's start. */
  function observeClaim(rows: readonly ClaimedRow[], started: number, startedAt: number): void {
    metrics.stageDuration.observe({ stage: 'claim' }, (performance.now() - started) / 1000);
    for (const row of rows) metrics.claimWait.observe(Math.max(0, startedAt - row.created_at.getTime()) / 1000);
  }

  async function release(rows: ClaimedRow[], reason: string): Promise<void> {
    await releaseLeases(db, relayId, rows.map((row) => Number(row.id)), reason).catch((error: unknown) =>
      logger.warn({ err: error }, 'could not release leases; they expire by themselves'),
    );
  }

  async function publish(rows: ClaimedRow[]): Promise<void> {
    const stopTimer = metrics.batchDuration.startTimer();
    metrics.batchSize.observe(rows.length);
    const messages: OutgoingMessage[] = [];
    const sent: ClaimedRow[] = [];
    const tracing = isTracing();
    const spans: Span[] = [];
    for (const row of rows) {
      const message = toMessage(row);
      if (!message.ok) {
        await parkRow(db, relayId, Number(row.id), message.reason);
        metrics.parked.inc({ reason: message.reason });
        logger.error({ outboxId: row.id, eventId: row.event_id, tenantId: row.org_id, reason: message.reason }, 'outbox row parked: not published');
        continue;
      }
      const topic = topics.topicOf(message.entityType);
      if (tracing && row.traceparent) {
        const span = startPublishSpan(row, topic);
        spans.push(span);
        message.headers[EventHeaders.traceparent] = traceparentOf(span);
      }
      messages.push({ topic, key: message.key, value: message.value, headers: message.headers });
      sent.push(row);
    }
    if (sent.length > 0) {
      try {
        const producing = performance.now();
        await topics.prepare(sent.map((row) => row.aggregate_type));
        // Resolves once every delivery report is in; one failed message fails the batch.
        await producer.send(messages);
        metrics.stageDuration.observe({ stage: 'produce' }, (performance.now() - producing) / 1000);
        for (const span of spans) span.end();
      } catch (error) {
        for (const span of spans) endSpan(span, error);
        metrics.publishErrors.inc();
        await release(sent, (error as Error).message.slice(0, 1000));
        throw error;
      }
      const now = Date.now();
      const deleting = performance.now();
      await deletePublished(db, relayId, sent.map((row) => Number(row.id)));
      metrics.stageDuration.observe({ stage: 'delete' }, (performance.now() - deleting) / 1000);
      metrics.published.inc(sent.length);
      for (const row of sent) metrics.publishLag.observe((now - row.created_at.getTime()) / 1000);
    }
    stopTimer();
    if (failures > 0) logger.info({ after: failures }, 'relay recovered');
    failures = 0;
    logger.debug({ published: sent.length, claimed: rows.length }, 'batch published');
  }

  function wake(): void {
    wakeRequested = true;
    wokenAt ??= performance.now();
    if (wait?.wakeable) wait.cut();
  }

  /**
   * Publishes and deletes `rows` beside the loop, then calls `published`; a failure is handed
   * to the loop. Once the rows are deleted, the next row of each of their entities can be
   * claimed: a claim made while they were in flight skipped it, so `published` claims again.
   */
  function startPublishing(rows: ClaimedRow[], published: () => void): void {
    const task = publish(rows)
      .then(published)
      .catch((error: unknown) => {
        publishFailure ??= error as Error;
        // Cuts a wait for work short, never a backoff.
        if (wait?.wakeable) wait.cut();
      })
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  }

  async function run(): Promise<void> {
    // The last batch when it was full: the next claim starts past it (see `createClaimer`).
    let previous: ClaimedRow[] | undefined;
    while (running) {
      try {
        if (publishFailure) throw publishFailure;
        if (inFlight.size >= batchesInFlight) {
          await Promise.race(inFlight);
          continue;
        }
        if (claimer.backlog() && downstream && downstream.lag() >= downstream.maxLag) {
          // Not wakeable: the commits notified meanwhile go by the express claim, and this one
          // stands in for the poll, for a commit whose notification was missed.
          metrics.lagHolds.inc();
          express.claim(EVERYONE);
          await pause(pollIntervalMs, false);
          continue;
        }
        // Only a claim from the start can tell that the outbox has nothing more.
        const fromStart = previous === undefined;
        const rows = await claim(previous);
        previous = rows.length === batchSize ? rows : undefined;
        if (rows.length > 0) startPublishing(rows, wake);
        const pacedMs = claimer.pacedMs();
        if (pacedMs > 0) {
          // Not wakeable: a batch published meanwhile frees nothing the pace allows, and
          // the commits of other tenants go by the express claim.
          metrics.pacedClaims.inc();
          await pause(pacedMs, false);
        } else if (fromStart && rows.length < batchSize) await pause(pollIntervalMs, true);
      } catch (error) {
        publishFailure = undefined;
        previous = undefined;
        failures += 1;
        const delay = backoffDelay(failureBackoff, failures);
        logger.error({ err: error, failures, retryInMs: Math.round(delay) }, 'relay batch failed; backing off');
        // Not wakeable: commits keep notifying while Kafka or PostgreSQL is down.
        await pause(delay, false);
      }
    }
    await express.settled();
    await Promise.all(inFlight);
  }

  async function pause(ms: number, wakeable: boolean): Promise<void> {
    if (!running) return;
    if (wakeable && wakeRequested) return;
    // A timer and a resolver, not an aborted `timers/promises` sleep: every abort made a
    // DOMException with its stack: 5.8 % of the relay's busy CPU at 2,000 events/s.
    const expired = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(resolve, ms, true);
      wait = {
        wakeable,
        cut: () => {
          clearTimeout(timer);
          resolve(false);
        },
      };
    });
    if (expired && wakeable) wokenAt ??= performance.now();
    wait = undefined;
  }

  return {
    start(): void {
      if (running) return;
      running = true;
      loop = run();
    },
    /** Stops claiming, lets the batches in flight finish (published and deleted, or given back), then resolves. */
    async stop(): Promise<void> {
      running = false;
      wait?.cut();
      await loop;
    },
    /**
     * A commit was notified, of `tenant`'s rows only when it is named. A named commit is
     * claimed at once beside the loop (`createExpressClaim`). Otherwise the loop claims again now
     * instead of at the next poll: wake-ups that arrive while a claim runs fold into one more
     * claim; during a backlog, a small claim also runs at once beside the loop.
     */
    poke(tenant?: string): void {
      if (tenant !== undefined) {
        express.claim(new Set([tenant]));
        return;
      }
      wake();
      express.claim(EVERYONE);
    },
  };
}

export type Relay = ReturnType<typeof createRelay>;
