import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { OutboxRow, SourceDatabase } from '@tenant-sync/db';
import type { Producer } from '@tenant-sync/kafka';
import type { EventTopics } from './event-topics.ts';
import { toMessage } from './event.ts';
import type { RelayMetrics } from './metrics.ts';
import { createClaimer, deletePublished, parkRow, releaseLeases } from './outbox.ts';

export interface RelayOptions {
  db: Kysely<SourceDatabase>;
  producer: Producer;
  topics: EventTopics;
  logger: Logger;
  metrics: RelayMetrics;
  /** Identifies this relay's leases. */
  relayId: string;
  batchSize: number;
  pollIntervalMs: number;
  leaseMs: number;
}

const maxBackoffMs = 10_000;

/**
 * The outbox relay loop: claim a batch, publish it, wait for every delivery report, and only
 * then delete the rows. While a full batch is being published the next one is already being
 * claimed, so the database and Kafka work side by side; the claim never takes a successor of
 * a row still in flight (see `claimBatch`), so this keeps each entity in order. An empty or
 * partial batch waits `pollIntervalMs` or until `poke()`. Failures give the claimed rows back,
 * back off exponentially with jitter, and the loop carries on.
 */
export function createRelay(options: RelayOptions) {
  const { db, producer, topics, logger, metrics, relayId, batchSize, pollIntervalMs, leaseMs } = options;
  let running = false;
  let loop: Promise<void> | undefined;
  // Aborts the current wait: stop() always, poke() only while waiting for work.
  let wait: { controller: AbortController; wakeable: boolean } | undefined;
  // Set by a wake-up that arrives while a batch is in flight, so the next wait is skipped.
  let wakeRequested = false;

  // When the first wake-up (notification or poll) not yet answered by a claim came.
  let wokenAt: number | undefined;

  const claimAfter = createClaimer(db, relayId, batchSize, leaseMs);

  async function claim(inFlight?: OutboxRow[]): Promise<OutboxRow[]> {
    const started = performance.now();
    const startedAt = Date.now();
    const waking = inFlight ? 0 : started - (wokenAt ?? started);
    wokenAt = undefined;
    const rows = await claimAfter(inFlight);
    if (rows.length > 0) {
      metrics.stageDuration.observe({ stage: 'wake' }, waking / 1000);
      metrics.stageDuration.observe({ stage: 'claim' }, (performance.now() - started) / 1000);
      for (const row of rows) metrics.claimWait.observe(Math.max(0, startedAt - new Date(row.created_at).getTime()) / 1000);
    }
    return rows;
  }

  async function release(rows: OutboxRow[], reason: string): Promise<void> {
    await releaseLeases(db, relayId, rows.map((row) => Number(row.id)), reason).catch((error: unknown) =>
      logger.warn({ err: error }, 'could not release leases; they expire by themselves'),
    );
  }

  async function publish(rows: OutboxRow[]): Promise<void> {
    const stopTimer = metrics.batchDuration.startTimer();
    metrics.batchSize.observe(rows.length);
    const messages = new Map<string, Array<{ key: string; value: string; headers: Record<string, string> }>>();
    const sent: OutboxRow[] = [];
    for (const row of rows) {
      const message = toMessage(row);
      if (!message.ok) {
        await parkRow(db, relayId, Number(row.id), message.reason);
        metrics.parked.inc({ reason: message.reason });
        logger.error({ outboxId: row.id, eventId: row.event_id, tenantId: row.org_id, reason: message.reason }, 'outbox row parked: not published');
        continue;
      }
      const topic = topics.topicOf(message.entityType);
      const topicMessages = messages.get(topic) ?? [];
      messages.set(topic, topicMessages);
      topicMessages.push({ key: message.key, value: message.value, headers: message.headers });
      sent.push(row);
    }
    if (sent.length > 0) {
      try {
        const producing = performance.now();
        await topics.prepare(sent.map((row) => row.aggregate_type));
        // Resolves once every delivery report is in; one failed message fails the batch.
        await producer.sendBatch({ topicMessages: [...messages].map(([topic, topicMessages]) => ({ topic, messages: topicMessages })) });
        metrics.stageDuration.observe({ stage: 'produce' }, (performance.now() - producing) / 1000);
      } catch (error) {
        metrics.publishErrors.inc();
        await release(sent, (error as Error).message.slice(0, 1000));
        throw error;
      }
      const now = Date.now();
      const deleting = performance.now();
      await deletePublished(db, relayId, sent.map((row) => Number(row.id)));
      metrics.stageDuration.observe({ stage: 'delete' }, (performance.now() - deleting) / 1000);
      metrics.published.inc(sent.length);
      for (const row of sent) metrics.publishLag.observe((now - new Date(row.created_at).getTime()) / 1000);
    }
    stopTimer();
    logger.debug({ published: sent.length, claimed: rows.length }, 'batch published');
  }

  async function run(): Promise<void> {
    let failures = 0;
    let next: Promise<OutboxRow[]> | undefined;
    while (running) {
      try {
        // A claim made ahead starts past the batch before it: only a claim from the start
        // can tell that the outbox has nothing more.
        const claimedAhead = next !== undefined;
        const rows = await (next ?? claim());
        next = undefined;
        if (rows.length === 0) {
          if (!claimedAhead) await pause(pollIntervalMs, true);
          continue;
        }
        // A full batch means more is waiting: claim it while this one is published.
        if (rows.length === batchSize && running) {
          next = claim(rows);
          next.catch(() => {}); // handled when awaited; never an unhandled rejection meanwhile
        }
        await publish(rows);
        if (failures > 0) logger.info({ after: failures }, 'relay recovered');
        failures = 0;
        if (rows.length < batchSize && !claimedAhead) await pause(pollIntervalMs, true);
      } catch (error) {
        if (next) await release(await next.catch(() => []), 'claimed while the previous batch failed');
        next = undefined;
        failures += 1;
        const delay = Math.min(maxBackoffMs, 100 * 2 ** Math.min(failures, 10)) * (0.5 + Math.random() / 2);
        logger.error({ err: error, failures, retryInMs: Math.round(delay) }, 'relay batch failed; backing off');
        // Not wakeable: commits keep notifying while Kafka or PostgreSQL is down.
        await pause(delay, false);
      }
    }
    if (next) await release(await next.catch(() => []), 'relay stopping');
  }

  async function pause(ms: number, wakeable: boolean): Promise<void> {
    if (!running) return;
    if (wakeable && wakeRequested) {
      wakeRequested = false;
      return;
    }
    wait = { controller: new AbortController(), wakeable };
    const expired = await sleep(ms, true, { signal: wait.controller.signal }).catch(() => false);
    if (expired && wakeable) wokenAt ??= performance.now();
    wait = undefined;
    if (wakeable) wakeRequested = false;
  }

  return {
    start(): void {
      if (running) return;
      running = true;
      loop = run();
    },
    /** Finishes the batch in flight, gives back rows claimed ahead, then resolves. */
    async stop(): Promise<void> {
      running = false;
      wait?.controller.abort();
      await loop;
    },
    /**
     * Claims again now instead of at the next poll, e.g. on a NOTIFY. Wake-ups that arrive
     * while a batch is in flight fold into one.
     */
    poke(): void {
      wakeRequested = true;
      wokenAt ??= performance.now();
      if (wait?.wakeable) wait.controller.abort();
    },
  };
}

export type Relay = ReturnType<typeof createRelay>;
