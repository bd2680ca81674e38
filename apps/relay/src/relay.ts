import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { SourceDatabase } from '@tenant-sync/db';
import type { Producer } from '@tenant-sync/kafka';
import { toMessage } from './event.ts';
import type { RelayMetrics } from './metrics.ts';
import { claimBatch, deletePublished, parkRow, releaseLeases } from './outbox.ts';

export interface RelayOptions {
  db: Kysely<SourceDatabase>;
  producer: Producer;
  topic: string;
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
 * then delete the rows. A full batch is followed at once by the next; an empty one waits
 * `pollIntervalMs`. Failures back off exponentially with jitter and the loop carries on.
 */
export function createRelay(options: RelayOptions) {
  const { db, producer, topic, logger, metrics, relayId, batchSize, pollIntervalMs, leaseMs } = options;
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: AbortController | undefined;

  async function publishBatch(): Promise<number> {
    const stopTimer = metrics.batchDuration.startTimer();
    const rows = await claimBatch(db, relayId, batchSize, leaseMs);
    if (rows.length === 0) return 0;
    metrics.batchSize.observe(rows.length);

    const messages = [];
    const ids = [];
    for (const row of rows) {
      const message = toMessage(row);
      if (!message.ok) {
        await parkRow(db, relayId, Number(row.id), message.reason);
        metrics.parked.inc({ reason: message.reason });
        logger.error({ outboxId: row.id, eventId: row.event_id, reason: message.reason }, 'outbox row parked: not published');
        continue;
      }
      messages.push({ key: message.key, value: message.value, headers: message.headers });
      ids.push(Number(row.id));
    }

    if (messages.length > 0) {
      try {
        await producer.send({ topic, messages });
      } catch (error) {
        metrics.publishErrors.inc();
        await releaseLeases(db, relayId, ids, (error as Error).message).catch((releaseError: unknown) =>
          logger.warn({ err: releaseError }, 'could not release leases; they expire by themselves'),
        );
        throw error;
      }
      await deletePublished(db, relayId, ids);
      metrics.published.inc(ids.length);
    }
    stopTimer();
    logger.debug({ published: ids.length, claimed: rows.length }, 'batch published');
    return rows.length;
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (running) {
      try {
        const claimed = await publishBatch();
        if (failures > 0) logger.info({ after: failures }, 'relay recovered');
        failures = 0;
        if (claimed < batchSize) await pause(pollIntervalMs);
      } catch (error) {
        failures += 1;
        const delay = Math.min(maxBackoffMs, 100 * 2 ** Math.min(failures, 10)) * (0.5 + Math.random() / 2);
        logger.error({ err: error, failures, retryInMs: Math.round(delay) }, 'relay batch failed; backing off');
        await pause(delay);
      }
    }
  }

  async function pause(ms: number): Promise<void> {
    wake = new AbortController();
    await sleep(ms, undefined, { signal: wake.signal }).catch(() => {});
  }

  return {
    start(): void {
      if (running) return;
      running = true;
      loop = run();
    },
    /** Finishes the batch in flight, then resolves. */
    async stop(): Promise<void> {
      running = false;
      wake?.abort();
      await loop;
    },
    /** Ends the current wait early, e.g. on a NOTIFY. */
    poke(): void {
      wake?.abort();
    },
  };
}

export type Relay = ReturnType<typeof createRelay>;
