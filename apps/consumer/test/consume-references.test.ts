import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UserEvent } from '@tenant-sync/contracts';
import type { Consumer, EachBatchPayload, Producer } from '@tenant-sync/kafka';
import type { ApplyDependencies } from '../src/apply-references.ts';
import { createReferenceConsumer } from '../src/consume-references.ts';
import { createDeadLetterQueue } from '../src/dead-letter.ts';
import { createConsumerMetrics } from '../src/metrics.ts';
import { ReferenceApiError } from '../src/reference-client.ts';

type Apply = ApplyDependencies['fetchUsers'];

/** The consumer's batch handler driven with fakes of Kafka, the Reference API and the database. */
function harness({ orgActive = async () => true, fetchUsers, writeStates = async () => {} }: {
  orgActive?: (orgId: string) => Promise<boolean>;
  fetchUsers?: Apply;
  writeStates?: ApplyDependencies['writeStates'];
}) {
  let eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  const consumer = {
    connect: async () => {},
    subscribe: async () => {},
    disconnect: async () => {},
    run: async (config: { eachBatch: typeof eachBatch }) => void (eachBatch = config.eachBatch),
  } as unknown as Consumer;
  const sent: Array<{ key: unknown; headers: Record<string, unknown> }> = [];
  const producer = { send: async ({ messages }: { messages: typeof sent }) => void sent.push(...messages) } as unknown as Producer;
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) }));
  const registry = new Registry();
  const metrics = createConsumerMetrics(registry);
  const sync = createReferenceConsumer({
    consumer,
    topic: 't',
    deadLetter: createDeadLetterQueue({ producer, topic: 't.dlq', logger, metrics }),
    apply: {
      fetchUsers: fetchUsers ?? (async (orgId, ids) => ({ data: [], deleted: ids.map((id) => ({ id, version: 2 })), missing: [], _meta: { tenantId: orgId, retrievedAt: '' } })),
      writeStates,
      wait: async () => {},
    },
    orgActive,
    logger,
    metrics,
    authPauseMs: 1_000,
    unavailablePause: { initialMs: 100, factor: 2, maxMs: 1_000, attempts: Infinity },
  });
  const resume = vi.fn();
  const payload = (messages: Array<{ value: string; tenant: string; traceparent?: string }>) => {
    const resolved: string[] = [];
    const pause = vi.fn(() => resume);
    return {
      resolved,
      pause,
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
        pause,
      } as unknown as EachBatchPayload,
    };
  };
  const counter = async (name: string) =>
    Object.fromEntries(((await registry.getSingleMetric(name)?.get())?.values ?? []).map((v) => [Object.values(v.labels).join(',') || 'total', v.value]));
  return { sync, sent, lines, counter, resume, payload, run: (p: { payload: EachBatchPayload }) => eachBatch!(p.payload) };
}

const event = (orgId: string, id: string = randomUUID()): UserEvent => ({
  event_id: randomUUID(),
  entity: { type: 'USER', id },
  action: 'CREATED',
  version: 1,
  timestamp: new Date().toISOString(),
  source_system: 'test',
  tenant_context: { org_id: orgId },
});
const message = (orgId: string, id?: string) => ({ value: JSON.stringify(event(orgId, id)), tenant: orgId });

describe('the reference consumer loop', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('on 401 alerts at once, pauses the partition without resolving or dead-lettering, and resumes later', async () => {
    const orgId = randomUUID();
    const h = harness({ orgActive: async () => Promise.reject(new ReferenceApiError(401, 'client not authorised')) });
    await h.sync.start();
    const p = h.payload([message(orgId)]);
    await h.run(p);
    expect(p.pause).toHaveBeenCalledTimes(1);
    expect(p.resolved).toEqual([]);
    expect(h.sent).toEqual([]);
    expect(h.lines).toContainEqual(expect.objectContaining({ level: 50, alert: true, status: 401, tenantId: orgId }));
    expect(await h.counter('consumer_source_auth_alerts_total')).toEqual({ total: 1 });
    expect(h.resume).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(h.resume).toHaveBeenCalledTimes(1);
    await h.sync.stop();
  });

  it('while the source is unavailable: finishes what comes before the stalled tenant, dead-letters nothing, pauses with growing backoff', async () => {
    const [up, down] = [randomUUID(), randomUUID()];
    const h = harness({
      fetchUsers: async (orgId, ids) => {
        if (orgId === down) throw new ReferenceApiError(503, 'unavailable');
        return { data: [], deleted: ids.map((id) => ({ id, version: 2 })), missing: [], _meta: { tenantId: orgId, retrievedAt: '' } };
      },
    });
    await h.sync.start();
    const batch = [message(up), message(up), message(down), message(up), { value: '{nope', tenant: up }];
    const first = h.payload(batch);
    await h.run(first);
    // Offsets 0 and 1 are done; 2 (the stalled tenant) and all after it are read again.
    expect(first.resolved).toEqual(['1']);
    expect(h.sent).toEqual([]);
    expect(first.pause).toHaveBeenCalledTimes(1);
    expect(h.lines).toContainEqual(expect.objectContaining({ msg: expect.stringContaining('nothing dead-lettered'), tenantId: down }));
    const second = h.payload(batch);
    await h.run(second);
    // 100 ms then 200 ms, each with ±50 % jitter.
    const [firstPause, secondPause] = h.lines.filter((line) => line.resumeInMs).map((line) => line.resumeInMs as number);
    expect(firstPause).toBeGreaterThanOrEqual(50);
    expect(firstPause).toBeLessThanOrEqual(150);
    expect(secondPause).toBeGreaterThanOrEqual(100);
    expect(secondPause).toBeLessThanOrEqual(300);
    expect(await h.counter('consumer_partition_pauses_total')).toEqual({ unavailable: 2 });
    expect(await h.counter('consumer_dead_lettered_total')).toEqual({});
    await h.sync.stop();
  });

  it('dead-letters the messages of an inactive org before any fetch, with code and reason, and goes on', async () => {
    const orgId = randomUUID();
    const fetchUsers = vi.fn();
    const h = harness({ orgActive: async () => false, fetchUsers });
    await h.sync.start();
    const p = h.payload([message(orgId), { value: '{nope', tenant: orgId }]);
    await h.run(p);
    expect(fetchUsers).not.toHaveBeenCalled();
    expect(h.sent.map((m) => [m.headers['dlq-code'], m.headers['dlq-reason']])).toEqual([
      ['org_inactive', 'organisation unknown or not active at the source'],
      ['not_json', 'value is not JSON'],
    ]);
    expect(p.resolved).toEqual(['1']);
    expect(await h.counter('consumer_dead_lettered_total')).toEqual({ org_inactive: 1, not_json: 1 });
    await h.sync.stop();
  });

  it('refuses a version beyond the safe integers at the schema: dead-lettered at once, the partition moves on', async () => {
    const orgId = randomUUID();
    const h = harness({});
    await h.sync.start();
    const huge = JSON.stringify({ ...event(orgId), action: 'DELETED', version: 1e300 });
    const p = h.payload([{ value: huge, tenant: orgId }, message(orgId)]);
    await h.run(p);
    expect(h.sent.map((m) => m.headers['dlq-code'])).toEqual(['invalid_event']);
    expect(p.resolved).toEqual(['1']);
    await h.sync.stop();
  });

  it('continues the message trace into the fetch and names it on every log line of the message', async () => {
    const orgId = randomUUID();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = `00-${traceId}-00f067aa0ba902b7-01`;
    const sentTraceparents: Array<string | undefined> = [];
    const h = harness({
      fetchUsers: async (_org, _ids, traceparent) => {
        sentTraceparents.push(traceparent);
        throw new ReferenceApiError(400, 'bad request');
      },
    });
    await h.sync.start();
    await h.run(h.payload([{ ...message(orgId), traceparent: parent }]));
    expect(sentTraceparents).toHaveLength(1);
    const [, sentTrace, sentSpan] = sentTraceparents[0]!.split('-');
    expect(sentTrace).toBe(traceId);
    expect(sentSpan).not.toBe('00f067aa0ba902b7');
    const messageLines = h.lines.filter((line) => line.msg === 'reference fetch refused' || line.msg === 'message dead-lettered');
    expect(messageLines).toHaveLength(2);
    for (const line of messageLines) expect(line).toMatchObject({ traceId });
    expect(messageLines[0]).toMatchObject({ tenantId: orgId });
    await h.sync.stop();
  });
});
