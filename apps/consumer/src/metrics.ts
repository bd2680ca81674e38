import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DeadLetterCode } from './dead-letter.ts';

/**
 * The stages of `consumer_stage_seconds`, in order. Per reference: `delivered` (stamped by
 * the relay's producer → read by this consumer: the publish and the Kafka fetch), `queued`
 * (read → its tenant's round starts), `applied` (stamped by the producer → committed to the
 * copy). Per round of a tenant: `fetch` (the Reference API answers, retries included) and
 * `write` (the transaction that writes the states, commit included).
 */
export const CONSUMER_STAGES = ['delivered', 'queued', 'fetch', 'write', 'applied'] as const;
export type ConsumerStage = (typeof CONSUMER_STAGES)[number];

/** How many tenants the per-tenant gauge names: the busiest, so label cardinality stays bounded. */
const TOP_TENANTS = 10;

/**
 * The consumer's metrics. Labels stay low-cardinality: partition numbers, fixed reason codes
 * and route names; tenant ids only in the per-tenant gauge, for the busiest few tenants.
 */
export function createConsumerMetrics(registry: Registry) {
  const registers = [registry];
  const processed = new Counter({ name: 'consumer_processed_total', help: 'Messages handled (applied, superseded or dead-lettered)', registers });
  const retried = new Counter({ name: 'consumer_retried_total', help: 'Reference API calls retried, by kind', labelNames: ['kind'], registers });
  const deadLettered = new Counter({ name: 'consumer_dead_lettered_total', help: 'Messages sent to the DLQ, by reason', labelNames: ['reason'], registers });
  const pauses = new Counter({ name: 'consumer_lane_waits_total', help: 'Tenant lanes that waited out a fault that is not the messages\' (source or database unavailable, credentials refused)', labelNames: ['reason'], registers });
  const authAlerts = new Counter({ name: 'consumer_source_auth_alerts_total', help: 'Reference API refused our credentials (partition paused)', registers });
  const lag = new Gauge({ name: 'consumer_lag', help: 'Messages behind the partition high watermark after the last batch', labelNames: ['topic', 'partition'], registers });
  const fetchSeconds = new Histogram({
    name: 'consumer_fetch_duration_seconds',
    help: 'Reference API calls, by route and status class',
    labelNames: ['route', 'status'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const stageSeconds = new Histogram({
    name: 'consumer_stage_seconds',
    help: 'Where a reference spends its time, by stage (see CONSUMER_STAGES)',
    labelNames: ['stage'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  // Observed per reference (thousands a second): each stage's series is looked up once.
  const stageSeries = new Map(CONSUMER_STAGES.map((stage) => [stage, stageSeconds.labels({ stage })]));
  const reconcileRuns = new Counter({ name: 'consumer_reconcile_runs_total', help: 'Reconciliation runs per tenant, by result', labelNames: ['result'], registers });
  const reconcileFixed = new Counter({ name: 'consumer_reconcile_fixed_total', help: 'Rows repaired by reconciliation, by entity type and kind', labelNames: ['type', 'kind'], registers });
  let queuedByTenant: () => Array<[string, number]> = () => [];
  new Gauge({
    name: 'consumer_tenant_queued_references',
    help: 'References read and not yet applied, for the tenants with the most',
    labelNames: ['tenant'],
    registers,
    collect() {
      this.reset();
      for (const [tenant, queued] of queuedByTenant().sort(([, x], [, y]) => y - x).slice(0, TOP_TENANTS)) this.set({ tenant }, queued);
    },
  });
  return {
    /** Where the per-tenant gauge reads the lanes' queues from. */
    watchTenantQueues: (read: () => Array<[string, number]>) => void (queuedByTenant = read),
    processed: (count: number) => processed.inc(count),
    retried: (kind: 'transient' | 'not_found' | 'write') => retried.inc({ kind }),
    paused: (reason: 'source_auth' | 'unavailable') => pauses.inc({ reason }),
    deadLettered: (code: DeadLetterCode) => deadLettered.inc({ reason: code }),
    authAlert: () => authAlerts.inc(),
    lag: (topic: string, partition: number, behind: number) => lag.set({ topic, partition: String(partition) }, behind),
    /** A message without a timestamp (none set by its producer) gives NaN: not observed. Clocks apart by a little give a negative: 0. */
    stage: (stage: ConsumerStage, seconds: number) => {
      if (Number.isFinite(seconds)) stageSeries.get(stage)!.observe(Math.max(0, seconds));
    },
    fetch: (route: string, status: number, seconds: number) =>
      fetchSeconds.observe({ route, status: status === 0 ? 'error' : `${Math.floor(status / 100)}xx` }, seconds),
    reconciled: (result: 'ok' | 'error', fixed?: { entityType: string; inserted: number; updated: number; tombstoned: number; removed: number }) => {
      reconcileRuns.inc({ result });
      if (!fixed) return;
      for (const kind of ['inserted', 'updated', 'tombstoned', 'removed'] as const) if (fixed[kind] > 0) reconcileFixed.inc({ type: fixed.entityType, kind }, fixed[kind]);
    },
  };
}

export type ConsumerMetrics = ReturnType<typeof createConsumerMetrics>;
