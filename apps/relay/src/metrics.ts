import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PendingStats } from './outbox.ts';

/** Fine enough below 100 ms to read a p99 of a few milliseconds off the buckets. */
const LATENCY_BUCKETS = [0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 5, 30, 300];

/**
 * The stages of one batch, in order: `wake` (the first notification or poll the claim answers →
 * the claim starts; the loop's claims only, an express claim starts at its notification),
 * `claim` (the claim statement), `produce` (send → the last Kafka ack), `delete` (the delete
 * statement).
 */
export const BATCH_STAGES = ['wake', 'claim', 'produce', 'delete'] as const;
export type BatchStage = (typeof BATCH_STAGES)[number];

/**
 * The relay's Prometheus metrics, registered on `registry`. Tenant ids appear only as the
 * `tenant` label of the per-tenant gauges, for the busiest few tenants (bounded cardinality).
 */
export function createRelayMetrics(registry: Registry, collectPending: () => Promise<PendingStats>) {
  const pending: PendingStats = { depth: 0, oldestAgeSeconds: 0, parked: 0, tenants: [] };
  const refresh = async () => Object.assign(pending, await collectPending());
  const tombstonesPurged = new Counter({ name: 'relay_tombstones_purged_total', help: 'Tombstones deleted after their retention', registers: [registry] });
  return {
    tombstonesPurged: (count: number) => tombstonesPurged.inc(count),
    published: new Counter({ name: 'relay_published_total', help: 'Outbox rows published to Kafka', registers: [registry] }),
    parked: new Counter({ name: 'relay_parked_total', help: 'Outbox rows parked, with reason', labelNames: ['reason'], registers: [registry] }),
    publishErrors: new Counter({ name: 'relay_publish_errors_total', help: 'Batches whose publish failed', registers: [registry] }),
    expressClaimed: new Counter({
      name: 'relay_express_claimed_total',
      help: 'Outbox rows taken by express claims beside the loop: commits whose notification named their tenant, and commits notified during a backlog',
      registers: [registry],
    }),
    lagHolds: new Counter({
      name: 'relay_lag_holds_total',
      help: 'Waits of the relay loop, with a backlog in the outbox, because the consumer groups were RELAY_MAX_LAG messages behind',
      registers: [registry],
    }),
    downstreamLag: new Gauge({
      name: 'relay_downstream_lag_messages',
      help: 'Messages the slowest consuming group of RELAY_LAG_GROUPS is behind on the events topics, as last read',
      registers: [registry],
    }),
    tenantPace: new Gauge({
      name: 'relay_tenant_pace_rows_per_second',
      help: 'Rows a second the relay publishes of one tenant while other tenants have changes too: under what the consumers apply, at most RELAY_TENANT_RATE',
      registers: [registry],
    }),
    pacedClaims: new Counter({
      name: 'relay_paced_claims_total',
      help: 'Claims after which the relay waited because a tenant sharing it with others had reached its pace',
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'relay_batch_size',
      help: 'Rows per claimed batch',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000],
      registers: [registry],
    }),
    batchDuration: new Histogram({
      name: 'relay_batch_duration_seconds',
      help: 'Claim, publish and delete of one batch',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    publishLag: new Histogram({
      name: 'relay_publish_lag_seconds',
      help: 'Age of an outbox row when Kafka acknowledged it: from the write to the ack',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    claimWait: new Histogram({
      name: 'relay_claim_wait_seconds',
      help: 'Age of an outbox row when the claim that took it started: from the write, through its commit and the wake-up, to the claim',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    stageDuration: new Histogram<'stage'>({
      name: 'relay_stage_seconds',
      help: 'Time of each stage of a batch: wake (notification or poll → claim starts), claim, produce (send → last Kafka ack), delete',
      labelNames: ['stage'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    pendingDepth: new Gauge({
      name: 'relay_pending_depth',
      help: 'Outbox rows waiting to be published',
      registers: [registry],
      async collect() {
        await refresh().catch(() => {});
        this.set(pending.depth);
      },
    }),
    oldestPendingAge: new Gauge({
      name: 'relay_oldest_pending_age_seconds',
      help: 'Age of the oldest pending outbox row',
      registers: [registry],
      collect() {
        this.set(pending.oldestAgeSeconds);
      },
    }),
    tenantPendingDepth: new Gauge({
      name: 'relay_tenant_pending_depth',
      help: 'Outbox rows waiting to be published, for the busiest tenants',
      labelNames: ['tenant'],
      registers: [registry],
      collect() {
        this.reset();
        for (const tenant of pending.tenants) this.set({ tenant: tenant.orgId }, tenant.depth);
      },
    }),
    tenantOldestPendingAge: new Gauge({
      name: 'relay_tenant_oldest_pending_age_seconds',
      help: 'Age of the oldest pending outbox row, for the busiest tenants',
      labelNames: ['tenant'],
      registers: [registry],
      collect() {
        this.reset();
        for (const tenant of pending.tenants) this.set({ tenant: tenant.orgId }, tenant.oldestAgeSeconds);
      },
    }),
    parkedDepth: new Gauge({
      name: 'relay_parked_rows',
      help: 'Outbox rows parked and waiting for an operator',
      registers: [registry],
      collect() {
        this.set(pending.parked);
      },
    }),
  };
}

export type RelayMetrics = ReturnType<typeof createRelayMetrics>;
