import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import type { UserEvent } from '@tenant-sync/contracts';
import type { Consumer, EachBatchPayload, Producer } from '@tenant-sync/kafka';
import { createConsumerMetrics } from '../src/metrics.ts';
import { ReferenceApiError, type ReferenceClient } from '../src/reference-client.ts';
import { createSyncConsumer } from '../src/sync-consumer.ts';
import type { Kysely } from 'kysely';
import type { ConsumerDatabase } from '@tenant-sync/db';

/** The consumer's batch handler driven with fakes of Kafka and the Reference API (no database is reached). */
function harness(reference: Partial<ReferenceClient>) {
  let eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  const consumer = {
    connect: async () => {},
    subscribe: async () => {},
    disconnect: async () => {},
    run: async (config: { eachBatch: typeof eachBatch }) => void (eachBatch = config.eachBatch),
  } as unknown as Consumer;
  const sent: Array<{ key: unknown; headers: Record<string, unknown> }> = [];
  const producer = {
    connect: async () => {},
    disconnect: async () => {},
    send: async ({ messages }: { messages: typeof sent }) => void sent.push(...messages),
  } as unknown as Producer;
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) }));
  const registry = new Registry();
  const sync = createSyncConsumer({
    consumer,
    producer,
    db: {} as Kysely<ConsumerDatabase>,
    reference: reference as ReferenceClient,
    logger,
    topic: 't',
    dlqTopic: 't.dlq',
    metrics: createConsumerMetrics(registry),
    authPauseMs: 1_000,
  });
  const resume = vi.fn();
  const payload = (messages: Array<{ value: string; tenant: string; traceparent?: string }>) => {
    const resolved: string[] = [];
    return {
      resolved,
      pause: vi.fn(() => resume),
      payload: {
        batch: {
          topic: 't',
          partition: 0,
          highWatermark: String(messages.length),
          messages: messages.map(({ value, tenant, traceparent }, offset) => ({
            key: Buffer.from('k'),
            value: Buffer.from(value),
            offset: String(offset),
            headers: { 'x-tenant-id': tenant, ...(traceparent ? { traceparent } : {}) },
          })),
        },
        resolveOffset: (offset: string) => void resolved.push(offset),
        commitOffsetsIfNecessary: async () => {},
      },
    };
  };
  return { sync, sent, lines, registry, resume, payload, run: (p: { payload: unknown; pause: () => unknown }) => eachBatch!({ ...(p.payload as EachBatchPayload), pause: p.pause as EachBatchPayload['pause'] }) };
}

const event = (orgId: string): UserEvent => ({
  event_id: randomUUID(),
  entity: { type: 'USER', id: randomUUID() },
  action: 'CREATED',
  version: 1,
  timestamp: new Date().toISOString(),
  source_system: 'test',
  tenant_context: { org_id: orgId },
});

describe('sync consumer failure policy', () => {
  it('on 401 alerts at once, pauses the partition without resolving or dead-lettering, and resumes later', async () => {
    vi.useFakeTimers();
    try {
      const orgId = randomUUID();
      const h = harness({ orgActive: async () => Promise.reject(new ReferenceApiError(401, 'client not authorised')) });
      await h.sync.start();
      const p = h.payload([{ value: JSON.stringify(event(orgId)), tenant: orgId }]);
      await expect(h.run(p)).rejects.toThrow('client not authorised');
      expect(p.pause).toHaveBeenCalledTimes(1);
      expect(p.resolved).toEqual([]);
      expect(h.sent).toEqual([]);
      expect(h.lines).toContainEqual(expect.objectContaining({ level: 50, alert: true, status: 401, tenantId: orgId }));
      expect((await h.registry.getSingleMetric('consumer_source_auth_alerts_total')?.get())?.values[0]?.value).toBe(1);
      expect(h.resume).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(1_000);
      expect(h.resume).toHaveBeenCalledTimes(1);
      await h.sync.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('dead-letters the messages of an inactive org before any fetch, and goes on', async () => {
    const orgId = randomUUID();
    const fetchUsers = vi.fn();
    const h = harness({ orgActive: async () => false, fetchUsers });
    await h.sync.start();
    const p = h.payload([
      { value: JSON.stringify(event(orgId)), tenant: orgId },
      { value: '{nope', tenant: orgId },
    ]);
    await h.run(p);
    expect(fetchUsers).not.toHaveBeenCalled();
    expect(h.sent.map((m) => m.headers['dlq-reason'])).toEqual(['organisation unknown or not active at the source', 'value is not JSON']);
    expect(p.resolved).toEqual(['1']);
    const dead = await h.registry.getSingleMetric('consumer_dead_lettered_total')?.get();
    expect(Object.fromEntries(dead!.values.map((v) => [v.labels.reason, v.value]))).toEqual({ org_inactive: 1, not_json: 1 });
    await h.sync.stop();
  });

  it('continues the message trace into the fetch and names it on every log line of the message', async () => {
    const orgId = randomUUID();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = `00-${traceId}-00f067aa0ba902b7-01`;
    const sentTraceparents: Array<string | undefined> = [];
    const h = harness({
      orgActive: async () => true,
      fetchUsers: async (_org, _ids, traceparent) => {
        sentTraceparents.push(traceparent);
        throw new ReferenceApiError(400, 'bad request');
      },
    });
    await h.sync.start();
    await h.run(h.payload([{ value: JSON.stringify(event(orgId)), tenant: orgId, traceparent: parent }]));
    expect(sentTraceparents).toHaveLength(1);
    const [, sentTrace, sentSpan] = sentTraceparents[0]!.split('-');
    expect(sentTrace).toBe(traceId);
    expect(sentSpan).not.toBe('00f067aa0ba902b7');
    const messageLines = h.lines.filter((line) => line.msg === 'reference fetch gave up' || line.msg === 'message dead-lettered');
    expect(messageLines).toHaveLength(2);
    for (const line of messageLines) expect(line).toMatchObject({ traceId });
    expect(messageLines[0]).toMatchObject({ tenantId: orgId });
    await h.sync.stop();
  });
});
