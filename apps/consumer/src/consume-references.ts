import { ROOT_CONTEXT, SpanKind, trace, type Context, type SpanContext, type SpanOptions } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { EventHeaders, parseEntityEvent, parseOrgId, type OrgId } from '@tenant-sync/contracts';
import type { EachBatchPayload, Kafka, KafkaMessage } from '@tenant-sync/kafka';
import { applyReferences, defaultSyncPolicy, type ApplyDependencies, type SyncPolicy } from './apply-references.ts';
import { header, type DeadLetter, type DeadLetterQueue } from './dead-letter.ts';
import { SourceAuthError, SyncUnavailableError } from './errors.ts';
import type { ConsumerMetrics } from './metrics.ts';
import { createPartitionProgress, type PartitionProgress } from './partition-progress.ts';
import { backoffDelay, type BackoffPolicy } from '@tenant-sync/ops';
import { contextOf, contextWith, inSpan } from '@tenant-sync/tracing';
import type { SyncedType } from './synced-types.ts';

type ConsumerConfig = NonNullable<Parameters<Kafka['consumer']>[0]>;
type KafkaJsConsumerConfig = NonNullable<ConsumerConfig['kafkaJS']>;

export interface ReferenceConsumerOptions {
  kafka: Pick<Kafka, 'consumer'>;
  /** The group member's settings; offsets are always committed by this loop, never automatically. */
  consumerConfig: ConsumerConfig & { kafkaJS: KafkaJsConsumerConfig };
  /** The events topic of each synced type: a message is read as a reference of its topic's type. */
  topics: ReadonlyArray<{ topic: string; synced: SyncedType }>;
  deadLetter: DeadLetterQueue;
  /** How one tenant's references are fetched and written (see `applyReferences`). */
  apply: Omit<ApplyDependencies, 'logger' | 'policy'>;
  logger: Logger;
  metrics?: ConsumerMetrics | undefined;
  policy?: SyncPolicy;
  /** How long a tenant's lane waits after the source refused our credentials. */
  authPauseMs?: number;
  /** Waits of a tenant's lane while the source or the database is unavailable, growing per failed try. */
  unavailablePause?: BackoffPolicy;
  /** Partitions handed over by Kafka at once. */
  partitionsConsumedConcurrently?: number;
  /** Tenants whose references are applied at the same time. */
  laneConcurrency?: number;
  /** References read ahead of the oldest unfinished one, per partition, before the partition pauses. */
  readAhead?: number;
  /** Hears the tenants of every batch (reconciliation covers them). */
  onTenantSeen?: (orgId: OrgId) => void;
}

/** One valid reference waiting in its tenant's lane. */
interface Reference {
  synced: SyncedType;
  entityId: string;
  message: KafkaMessage;
  traceparent: string | undefined;
  progress: PartitionProgress;
  /** When this consumer read it (ms since the epoch, like the message's timestamp). */
  readAt: number;
}

/** A tenant's queue of references, applied in arrival order, a slice at a time. */
interface Lane {
  orgId: OrgId;
  /** References not yet taken by a round. */
  queue: Reference[];
  /** Rounds of this lane in flight: one, or `CAUGHT_UP_ROUNDS` while the tenant is caught up. */
  rounds: number;
  /** References taken by the rounds in flight. */
  inRounds: number;
  /** True while the lane waits out a failure; its references stay queued. */
  waiting: boolean;
  failedTries: number;
  /** Since when (`performance.now()`) a backlogged lane has been held back for caught-up ones. */
  heldSince: number | undefined;
}

/**
 * References of one tenant applied in one round: one Reference API call and one transaction.
 * Rounds of 5,000 drained an import no faster on this machine (5,115–6,296 users/s against
 * 5,443–5,971 with 1,000, `consumer:bench`), and a quiet tenant's work competes with a
 * smaller round in flight: its p99 during an import fell from 905–1,249 ms to 495–728 ms
 * (`consumer:bench-fairness`, BENCHMARKS.md).
 */
const SLICE = 1_000;

/**
 * How long a backlogged tenant's next round may be held back while a caught-up tenant's round
 * runs (see `schedule`): a caught-up round is short, and the bound keeps a stream of them from
 * starving an import.
 */
const HOLD_BACKLOG_MS = 200;

/**
 * Rounds a caught-up tenant may have in flight at once. With one, a change that arrives while
 * its tenant's round runs waits for that round: at 500 changes/s over 10 tenants that wait was
 * a third of the end-to-end p50 and its p99 reached 92 ms (`consumer:bench`). A second round
 * starts at once instead. Rounds of one tenant may then finish in any order, which is safe: each
 * fetches the entity's current state and a write only wins with a newer version, so the copy
 * ends at the newest state whichever round writes last. A backlogged tenant keeps one round at
 * a time: its rounds are full anyway, and an import must not take twice its share of the source.
 */
const CAUGHT_UP_ROUNDS = 2;

/** The other traces a round's span links to and its log lines name, at most. */
const LINKED_TRACES = 20;

/**
 * How the span of one round of a tenant's references starts: a child of the first traced
 * reference (the relay's publish of it), linked to the traces of the others when the round
 * serves several, whose ids its log lines name too.
 */
function roundSpan(orgId: OrgId, references: readonly Reference[]) {
  const traces = new Map<string, SpanContext>();
  for (const { traceparent } of references) {
    const parent = trace.getSpanContext(contextOf(traceparent));
    if (parent && !traces.has(parent.traceId)) traces.set(parent.traceId, parent);
    if (traces.size > LINKED_TRACES) break;
  }
  const [first, ...others] = traces.values();
  const parent = first ? trace.setSpanContext(ROOT_CONTEXT, first) : ROOT_CONTEXT;
  const topics = new Set(references.map((reference) => reference.progress.topic));
  const topic = topics.size === 1 ? [...topics][0] : undefined;
  const options: SpanOptions = {
    kind: SpanKind.CONSUMER,
    links: others.map((context) => ({ context })),
    attributes: {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.batch.message_count': references.length,
      ...(topic ? { 'messaging.destination.name': topic } : {}),
      'tenant.id': orgId,
    },
  };
  return { name: topic ? `process ${topic}` : 'process', parent, options, linkedTraceIds: traces.size > 1 ? [...traces.keys()].slice(0, LINKED_TRACES) : undefined };
}

/**
 * The Kafka loop, with tenants kept apart in time. A batch is not applied in place: each valid
 * reference joins its tenant's lane, and lanes are applied side by side, so a quiet tenant's
 * change is applied while a busy tenant's backlog of the same partition is still being worked
 * (up to `readAhead` references per partition are read ahead; past that the partition pauses).
 * The offset committed for a partition is always that of its oldest unfinished reference, so
 * a crash re-delivers everything not yet applied (at-least-once); per-entity order holds
 * because an entity belongs to one tenant, whose lane applies its references in order.
 *
 * Every reference ends applied or dead-lettered. When the source or the database is
 * unavailable, or the source refuses our credentials, only that tenant's lane waits, and
 * retries; nothing is dead-lettered for a fault that is not the message's.
 */
export function createReferenceConsumer(options: ReferenceConsumerOptions) {
  const { deadLetter, logger, metrics } = options;
  const typeOfTopic = new Map(options.topics.map(({ topic, synced }) => [topic, synced]));
  // Resolving an offset only says "read"; an automatic commit of it would skip unfinished references.
  const consumer = options.kafka.consumer({ ...options.consumerConfig, kafkaJS: { ...options.consumerConfig.kafkaJS, autoCommit: false } });
  const policy = options.policy ?? defaultSyncPolicy;
  const authPauseMs = options.authPauseMs ?? 30_000;
  const unavailablePause = options.unavailablePause ?? { initialMs: 1_000, factor: 1.5, maxMs: 30_000, attempts: Infinity };
  const laneConcurrency = options.laneConcurrency ?? 8;
  const readAhead = options.readAhead ?? 20_000;
  const lanes = new Map<OrgId, Lane>();
  const partitions = new Map<string, PartitionProgress>();
  const timers = new Set<NodeJS.Timeout>();
  metrics?.watchTenantQueues(() => [...lanes.values()].map((lane) => [lane.orgId, lane.queue.length + lane.inRounds]));
  let running = 0;
  let caughtUpRunning = 0;
  // True while a timer will schedule again when a held lane's hold ends.
  let holdEnds = false;
  let started = false;
  let stopped = false;

  /** Applies a slice of one tenant's references in the round's span; returns the dead letters among them. */
  async function applySlice(orgId: OrgId, references: Reference[]): Promise<DeadLetter[]> {
    const round = roundSpan(orgId, references);
    return inSpan(round.name, round.parent, round.options, (span) => applyRound(orgId, references, contextWith(span, round.parent), round.linkedTraceIds));
  }

  /** The round's fetches and writes are children of its span; its log lines name its trace, and the other traces it serves. */
  async function applyRound(orgId: OrgId, references: Reference[], roundContext: Context, linkedTraceIds: string[] | undefined): Promise<DeadLetter[]> {
    const { traceId, spanId } = trace.getSpanContext(roundContext)!;
    // The round's logger is made for its first line: most rounds write none, and making a child
    // logger runs its bindings through the redaction of personal data (at 500 changes/s that
    // was 3 % of all the consumer allocated, BENCHMARKS.md).
    let log: Logger | undefined;
    const roundLog = () => (log ??= logger.child({ tenantId: orgId, traceId, spanId, ...(linkedTraceIds ? { linkedTraceIds } : {}) }));

    options.onTenantSeen?.(orgId);
    // A slice may hold several types: each is fetched and written on its own, side by side.
    const byType = new Map<SyncedType, Reference[]>();
    for (const reference of references) {
      const ofType = byType.get(reference.synced) ?? [];
      byType.set(reference.synced, ofType);
      ofType.push(reference);
    }
    const deps = {
      ...options.apply,
      get logger() {
        return roundLog();
      },
      policy,
      onRetry: (kind: 'transient' | 'not_found' | 'write') => metrics?.retried(kind),
      onStage: (stage: 'fetch' | 'write', seconds: number) => metrics?.stage(stage, seconds),
    };
    const letters = await Promise.all(
      [...byType].map(async ([synced, ofType]) => {
        const failures = await applyReferences(deps, synced, orgId, ofType.map((reference) => reference.entityId), roundContext);
        return ofType.flatMap(({ entityId, message }) => {
          const failure = failures.get(entityId);
          return failure ? [{ message, ...failure }] : [];
        });
      }),
    );
    if (logger.isLevelEnabled('debug')) roundLog().debug({ references: references.length, failed: letters.flat().length }, 'tenant references applied');
    return letters.flat();
  }

  async function sendDeadLetters(references: ReadonlyArray<Reference>, letters: DeadLetter[]): Promise<void> {
    const byPartition = new Map<PartitionProgress, DeadLetter[]>();
    const progressOf = new Map(references.map((reference) => [reference.message, reference.progress]));
    for (const letter of letters) {
      const progress = progressOf.get(letter.message)!;
      byPartition.set(progress, [...(byPartition.get(progress) ?? []), letter]);
    }
    for (const [progress, partitionLetters] of byPartition) await deadLetter({ topic: progress.topic, partition: progress.partition }, partitionLetters);
  }

  /** Runs one round of a lane: its next references, up to a slice; then hands the lane back to the scheduler. */
  async function runRound(lane: Lane, caughtUp: boolean): Promise<void> {
    const slice = lane.queue.splice(0, SLICE);
    lane.inRounds += slice.length;
    const roundStart = Date.now();
    for (const reference of slice) metrics?.stage('queued', (roundStart - reference.readAt) / 1000);
    try {
      const letters = await applySlice(lane.orgId, slice);
      await sendDeadLetters(slice, letters);
      lane.failedTries = 0;
      const appliedAt = Date.now();
      for (const reference of slice) {
        reference.progress.finish(reference.message.offset);
        metrics?.stage('applied', (appliedAt - Number(reference.message.timestamp)) / 1000);
      }
      metrics?.processed(slice.length);
    } catch (error) {
      // The slice goes back to the head of the lane and is tried again after a wait.
      lane.queue.unshift(...slice);
      lane.waiting = true;
      later(waitAfter(error, lane), () => {
        lane.waiting = false;
        schedule();
      });
    } finally {
      lane.rounds -= 1;
      lane.inRounds -= slice.length;
      running -= 1;
      if (caughtUp) caughtUpRunning -= 1;
      if (lane.queue.length === 0 && lane.rounds === 0 && !lane.waiting) lanes.delete(lane.orgId);
      schedule();
    }
  }

  /**
   * Starts rounds of the lanes with work, oldest waiting first, up to `laneConcurrency` rounds
   * at once. A caught-up tenant (all its references fit in one round) goes first: while one's
   * round runs, a backlogged tenant's next round waits, for `HOLD_BACKLOG_MS` at most. Lanes
   * already run side by side, but on a busy machine they share its CPU and the database's: a
   * quiet tenant's one change then waits behind the import round that started beside it.
   * Holding the next import round until the quiet one is done costs the import little (its
   * rounds take far longer) and halves the quiet tenant's wait under an import
   * (docs/consumer.md).
   */
  function schedule(): void {
    if (stopped) return;
    const now = performance.now();
    for (const lane of lanes.values()) {
      if (running >= laneConcurrency) return;
      if (lane.waiting || lane.queue.length === 0) continue;
      // Caught up: everything of the tenant not yet applied fits in one round.
      const caughtUp = lane.queue.length + lane.inRounds <= SLICE;
      if (lane.rounds >= (caughtUp ? CAUGHT_UP_ROUNDS : 1)) continue;
      if (!caughtUp && caughtUpRunning > 0) {
        lane.heldSince ??= now;
        const heldFor = now - lane.heldSince;
        if (heldFor < HOLD_BACKLOG_MS) {
          if (!holdEnds) {
            holdEnds = true;
            later(HOLD_BACKLOG_MS - heldFor, () => {
              holdEnds = false;
              schedule();
            });
          }
          continue;
        }
      }
      lane.heldSince = undefined;
      if (caughtUp) caughtUpRunning += 1;
      lane.rounds += 1;
      running += 1;
      // Re-inserted at the end: the next free slot goes to another tenant (round robin).
      lanes.delete(lane.orgId);
      lanes.set(lane.orgId, lane);
      void runRound(lane, caughtUp);
    }
  }

  /** How long a lane waits after a failed slice, with the log line and alert it calls for. */
  function waitAfter(error: unknown, lane: Lane): number {
    if (error instanceof SourceAuthError) {
      metrics?.authAlert();
      metrics?.paused('source_auth');
      logger.error(
        { alert: true, err: error, status: error.status, tenantId: lane.orgId, resumeInMs: authPauseMs },
        'ALERT: the source refused the consumer credentials; the tenant waits',
      );
      return authPauseMs;
    }
    lane.failedTries += 1;
    const delayMs = backoffDelay(unavailablePause, lane.failedTries);
    metrics?.paused('unavailable');
    if (error instanceof SyncUnavailableError) {
      logger.warn({ err: error, tenantId: lane.orgId, resumeInMs: delayMs }, 'source or database unavailable; the tenant waits, nothing dead-lettered');
    } else {
      logger.error({ err: error, tenantId: lane.orgId, resumeInMs: delayMs }, 'references failed unexpectedly; the tenant waits, nothing dead-lettered');
    }
    return delayMs;
  }

  function later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timer.unref();
    timers.add(timer);
  }

  /** The progress of a partition, new after a rebalance or a seek brought it back to an earlier offset. */
  function progressFor(batch: EachBatchPayload['batch']): PartitionProgress {
    const key = `${batch.topic}:${batch.partition}`;
    const first = BigInt(batch.messages[0]!.offset);
    let progress = partitions.get(key);
    if (!progress || first < progress.nextOffset()) {
      progress?.abandon();
      progress = createPartitionProgress({
        consumer,
        topic: batch.topic,
        partition: batch.partition,
        logger,
        onCommitted: (lag) => metrics?.lag(batch.topic, batch.partition, lag),
      });
      partitions.set(key, progress);
    }
    return progress;
  }

  async function handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const progress = progressFor(batch);
    const synced = typeOfTopic.get(batch.topic);
    if (!synced) throw new Error(`a batch of topic ${batch.topic}, which is no synced type's`);
    const invalid: DeadLetter[] = [];
    const readAt = Date.now();
    for (const message of batch.messages) {
      progress.read(message.offset, batch.highWatermark);
      const parsed = parseEntityEvent(message.value, header(message.headers, EventHeaders.tenantId), synced.type);
      if (!parsed.ok) {
        invalid.push({ message, code: parsed.code, reason: parsed.reason });
        continue;
      }
      // The schema checked it is a UUID: this is its one spelling.
      const orgId = parseOrgId(parsed.event.tenant_context.org_id)!;
      let lane = lanes.get(orgId);
      if (!lane) {
        lane = { orgId, queue: [], rounds: 0, inRounds: 0, waiting: false, failedTries: 0, heldSince: undefined };
        lanes.set(orgId, lane);
      }
      metrics?.stage('delivered', (readAt - Number(message.timestamp)) / 1000);
      lane.queue.push({ synced, entityId: parsed.event.entity.id.toLowerCase(), message, traceparent: header(message.headers, EventHeaders.traceparent), progress, readAt });
    }
    if (invalid.length > 0) {
      // A dead-letter topic that does not answer leaves them unfinished: the commit stops before them.
      await deadLetter({ topic: batch.topic, partition: batch.partition }, invalid).then(
        () => {
          for (const { message } of invalid) progress.finish(message.offset);
          metrics?.processed(invalid.length);
        },
        (error: unknown) => logger.error({ err: error, partition: batch.partition }, 'dead-letter topic unavailable; the offset stays before these messages'),
      );
    }
    // Everything read is resolved for the client (so it reads on); what is committed is
    // decided by the progress of each reference.
    payload.resolveOffset(batch.messages.at(-1)!.offset);
    schedule();
    if (progress.unfinished() >= readAhead) {
      const resume = payload.pause();
      logger.debug({ partition: batch.partition, unfinished: progress.unfinished() }, 'read-ahead full; partition paused');
      progress.whenBelow(readAhead / 2, () => {
        try {
          resume();
        } catch (error) {
          // The partition may have been revoked meanwhile; its new owner starts unpaused.
          logger.debug({ err: error, partition: batch.partition }, 'could not resume the partition');
        }
      });
    }
  }

  return {
    async start(): Promise<void> {
      await consumer.connect();
      await consumer.subscribe({ topics: [...typeOfTopic.keys()] });
      await consumer.run({
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 6,
        eachBatch: handleBatch,
      });
      started = true;
    },
    /** True from a successful start until stop: what the readiness check reports. */
    running: () => started && !stopped,
    async stop(): Promise<void> {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const progress of partitions.values()) await progress.flush();
      await consumer.disconnect();
    },
  };
}
