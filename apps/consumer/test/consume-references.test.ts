import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import type { ReferenceBatchResponse, UserEvent } from '@tenant-sync/contracts';
import type { EachBatchPayload, Kafka, Producer } from '@tenant-sync/kafka';
import type { ApplyDependencies } from '../src/apply-references.ts';
import { createReferenceConsumer } from '../src/consume-references.ts';
import { createDeadLetterQueue } from '../src/dead-letter.ts';
import { createConsumerMetrics } from '../src/metrics.ts';
import { ReferenceApiError } from '../src/reference-client.ts';

/** The source answers every id as deleted at version 2 (what it answers does not matter here). */
const answer = (orgId: string, ids: string[]): ReferenceBatchResponse => ({
  data: [],
  deleted: ids.map((id) => ({ id, version: 2 })),
  missing: [],
  _meta: { tenantId: orgId, retrievedAt: '' },
});

/** The consumer's loop driven with fakes of Kafka, the Reference API and the database. */
function harness({
  orgActive = async () => true,
  fetchUsers = async (orgId: string, ids: string[]) => answer(orgId, ids),
  writeStates = async () => {},
  readAhead = 1_000,
}: {
  orgActive?: (orgId: string) => Promise<boolean>;
  fetchUsers?: ApplyDependencies['fetchUsers'];
  writeStates?: ApplyDependencies['writeStates'];
  readAhead?: number;
}) {
  let eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  const commits: string[] = [];
  const configs: unknown[] = [];
  const consumer = {
    connect: async () => {},
    subscribe: async () => {},
    disconnect: async () => {},
    run: async (config: { eachBatch: typeof eachBatch }) => void (eachBatch = config.eachBatch),
    commitOffsets: async (offsets: Array<{ offset: string }>) => void commits.push(...offsets.map((entry) => entry.offset)),
  };
  const kafka = { consumer: (config: unknown) => (configs.push(config), consumer) } as unknown as Pick<Kafka, 'consumer'>;
  const sent: Array<{ key: unknown; headers: Record<string, unknown> }> = [];
  const producer = { send: async ({ messages }: { messages: typeof sent }) => void sent.push(...messages) } as unknown as Producer;
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) }));
  const registry = new Registry();
  const metrics = createConsumerMetrics(registry);
  const sync = createReferenceConsumer({
    kafka,
    consumerConfig: { kafkaJS: { groupId: 'g', fromBeginning: true } },
    topic: 't',
    deadLetter: createDeadLetterQueue({ producer, topic: 't.dlq', logger, metrics }),
    apply: { fetchUsers, writeStates, wait: async () => {} },
    orgActive,
    logger,
    metrics,
    authPauseMs: 300,
    unavailablePause: { initialMs: 100, factor: 2, maxMs: 1_000, attempts: Infinity },
    readAhead,
  });
  let nextOffset = 0;
  const resume = vi.fn();
  /** A batch of the next messages of partition 0. */
  const batch = (messages: Array<{ value: string; tenant: string; traceparent?: string }>) => {
    const pause = vi.fn(() => resume);
    const first = nextOffset;
    nextOffset += messages.length;
    const payload = {
      batch: {
        topic: 't',
        partition: 0,
        highWatermark: String(nextOffset),
        messages: messages.map(({ value, tenant, traceparent }, index) => ({
          key: Buffer.from('k'),
          value: Buffer.from(value),
          offset: String(first + index),
          headers: { 'x-tenant-id': tenant, ...(traceparent ? { traceparent } : {}) },
        })),
      },
      resolveOffset: vi.fn(),
      pause,
    } as unknown as EachBatchPayload;
    return { payload, pause };
  };
  const counter = async (name: string) =>
    Object.fromEntries(((await registry.getSingleMetric(name)?.get())?.values ?? []).map((v) => [Object.values(v.labels).join(',') || 'total', v.value]));
  return {
    sync,
    sent,
    lines,
    commits,
    configs,
    counter,
    resume,
    batch,
    lastCommit: () => commits.at(-1),
    run: async (b: { payload: EachBatchPayload }) => eachBatch!(b.payload),
  };
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
  it('never lets the client commit by itself: offsets are committed only when references are finished', async () => {
    const h = harness({});
    await h.sync.start();
    expect(h.configs).toEqual([expect.objectContaining({ kafkaJS: expect.objectContaining({ autoCommit: false, groupId: 'g' }) })]);
    const orgId = randomUUID();
    await h.run(h.batch([message(orgId), message(orgId)]));
    await vi.waitFor(() => expect(h.lastCommit()).toBe('2'));
    await h.sync.stop();
  });

  it("applies a quiet tenant's reference while a busy tenant's earlier backlog of the same partition is still being worked", async () => {
    const [busy, quiet] = [randomUUID(), randomUUID()];
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const written: string[] = [];
    const h = harness({
      fetchUsers: async (orgId, ids) => {
        if (orgId === busy) await held;
        return answer(orgId, ids);
      },
      writeStates: async (orgId) => void written.push(orgId),
    });
    await h.sync.start();
    await h.run(h.batch([...Array.from({ length: 50 }, () => message(busy)), message(quiet)]));
    await vi.waitFor(() => expect(written).toEqual([quiet]));
    // The busy tenant's backlog shows per tenant; the quiet one has none left.
    expect(await h.counter('consumer_tenant_queued_references')).toEqual({ [busy]: 50 });
    // The commit stays before the busy tenant's first unfinished reference.
    expect(h.commits.every((offset) => offset === '0')).toBe(true);
    release();
    await vi.waitFor(() => expect(h.lastCommit()).toBe('51'));
    await h.sync.stop();
  });

  it('on 401 alerts at once, holds only that tenant without dead-lettering, and tries again later', async () => {
    const [refused, fine] = [randomUUID(), randomUUID()];
    let calls = 0;
    const h = harness({
      orgActive: async (orgId) => {
        if (orgId !== refused) return true;
        calls += 1;
        if (calls === 1) throw new ReferenceApiError(401, 'client not authorised', 'SRC_CLIENT_NOT_AUTHORISED');
        return true;
      },
    });
    await h.sync.start();
    await h.run(h.batch([message(refused), message(fine)]));
    await vi.waitFor(() => expect(h.lines).toContainEqual(expect.objectContaining({ level: 50, alert: true, status: 401, tenantId: refused })));
    expect(h.sent).toEqual([]);
    expect(await h.counter('consumer_source_auth_alerts_total')).toEqual({ total: 1 });
    expect(h.commits.every((offset) => offset === '0')).toBe(true);
    // After the pause the tenant is tried again and everything is finished.
    await vi.waitFor(() => expect(h.lastCommit()).toBe('2'), { timeout: 3_000 });
    expect(calls).toBe(2);
    await h.sync.stop();
  });

  it('while the source is unavailable for a tenant: dead-letters nothing, waits with growing backoff, and finishes once it is back', async () => {
    const down = randomUUID();
    // Two tries of 8 fetches each fail (the in-try budget), the third try succeeds.
    let failures = 16;
    const h = harness({
      fetchUsers: async (orgId, ids) => {
        if (failures > 0) {
          failures -= 1;
          throw new ReferenceApiError(503, 'unavailable');
        }
        return answer(orgId, ids);
      },
    });
    await h.sync.start();
    await h.run(h.batch([message(down)]));
    await vi.waitFor(() => expect(h.lastCommit()).toBe('1'), { timeout: 5_000 });
    expect(h.sent).toEqual([]);
    // 100 ms then 200 ms, each with ±50 % jitter.
    const waits = h.lines.filter((line) => typeof line.resumeInMs === 'number').map((line) => line.resumeInMs as number);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(50);
    expect(waits[0]).toBeLessThanOrEqual(150);
    expect(waits[1]).toBeGreaterThanOrEqual(100);
    expect(waits[1]).toBeLessThanOrEqual(300);
    expect(await h.counter('consumer_lane_waits_total')).toEqual({ unavailable: 2 });
    expect(await h.counter('consumer_dead_lettered_total')).toEqual({});
    await h.sync.stop();
  });

  it('dead-letters the messages of an inactive org before any fetch, with code and reason, and moves on', async () => {
    const orgId = randomUUID();
    const fetchUsers = vi.fn();
    const h = harness({ orgActive: async () => false, fetchUsers });
    await h.sync.start();
    await h.run(h.batch([message(orgId), { value: '{nope', tenant: orgId }]));
    await vi.waitFor(() => expect(h.lastCommit()).toBe('2'));
    expect(fetchUsers).not.toHaveBeenCalled();
    expect(h.sent.map((m) => [m.headers['dlq-code'], m.headers['dlq-reason']]).sort()).toEqual([
      ['not_json', 'value is not JSON'],
      ['org_inactive', 'organisation unknown or not active at the source'],
    ]);
    expect(await h.counter('consumer_dead_lettered_total')).toEqual({ org_inactive: 1, not_json: 1 });
    await h.sync.stop();
  });

  it('refuses a version beyond the safe integers at the schema: dead-lettered at once, the partition moves on', async () => {
    const orgId = randomUUID();
    const h = harness({});
    await h.sync.start();
    const huge = JSON.stringify({ ...event(orgId), action: 'DELETED', version: 1e300 });
    await h.run(h.batch([{ value: huge, tenant: orgId }, message(orgId)]));
    await vi.waitFor(() => expect(h.lastCommit()).toBe('2'));
    expect(h.sent.map((m) => m.headers['dlq-code'])).toEqual(['invalid_event']);
    await h.sync.stop();
  });

  it('pauses a partition whose read-ahead is full and resumes it once half is finished', async () => {
    const orgId = randomUUID();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const h = harness({ readAhead: 10, fetchUsers: async (org, ids) => (await held, answer(org, ids)) });
    await h.sync.start();
    const full = h.batch(Array.from({ length: 10 }, () => message(orgId)));
    await h.run(full);
    expect(full.pause).toHaveBeenCalledTimes(1);
    expect(h.resume).not.toHaveBeenCalled();
    release();
    await vi.waitFor(() => expect(h.resume).toHaveBeenCalledTimes(1));
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
    await h.run(h.batch([{ ...message(orgId), traceparent: parent }]));
    await vi.waitFor(() => expect(h.lastCommit()).toBe('1'));
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
