import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { trace } from '@opentelemetry/api';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import type { EntityEvent } from '@tenant-sync/contracts';
import type { EachBatchPayload, Kafka, Producer } from '@tenant-sync/kafka';
import { traceparentOf } from '@tenant-sync/tracing';
import type { ApplyDependencies } from '../src/apply-references.ts';
import { createReferenceConsumer } from '../src/consume-references.ts';
import { createDeadLetterQueue } from '../src/dead-letter.ts';
import { createConsumerMetrics } from '../src/metrics.ts';
import { ReferenceApiError, type EntityBatch } from '../src/reference-client.ts';
import { syncedTypes, type SyncedType } from '../src/synced-types.ts';

const [users, teams] = syncedTypes as [SyncedType, SyncedType];

/** The source answers every id as deleted at version 2 (what it answers does not matter here). */
const answer = (_orgId: string, ids: string[]): EntityBatch => ({
  data: [],
  deleted: ids.map((id) => ({ id, version: 2 })),
  missing: [],
});

/** The consumer's loop driven with fakes of Kafka, the Reference API and the database. */
function harness({
  fetchEntities = async (_type: SyncedType, orgId: string, ids: string[]) => answer(orgId, ids),
  writeStates = async () => {},
  readAhead = 1_000,
}: {
  fetchEntities?: ApplyDependencies['fetchEntities'];
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
  const sent: Array<{ topic: string; key: unknown; headers: Record<string, unknown> }> = [];
  const producer = {
    send: async ({ topic, messages }: { topic: string; messages: typeof sent }) => void sent.push(...messages.map((m) => ({ ...m, topic }))),
  } as unknown as Producer;
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) }));
  const registry = new Registry();
  const metrics = createConsumerMetrics(registry);
  const sync = createReferenceConsumer({
    kafka,
    consumerConfig: { kafkaJS: { groupId: 'g', fromBeginning: true } },
    topics: [
      { topic: 'user-events', synced: users },
      { topic: 'team-events', synced: teams },
    ],
    deadLetter: createDeadLetterQueue({ producer, logger, onDeadLettered: metrics.deadLettered }),
    apply: { fetchEntities, writeStates, wait: async () => {} },
    logger,
    metrics,
    authPauseMs: 300,
    unavailablePause: { initialMs: 100, factor: 2, maxMs: 1_000, attempts: Infinity },
    readAhead,
  });
  let nextOffset = 0;
  const resume = vi.fn();
  /** A batch of the next messages of partition 0 of a topic (the users' by default). */
  const batch = (messages: Array<{ value: string; tenant: string; traceparent?: string }>, topic = 'user-events') => {
    const pause = vi.fn(() => resume);
    const first = nextOffset;
    nextOffset += messages.length;
    const payload = {
      batch: {
        topic,
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

const event = (orgId: string, id: string = randomUUID(), type = 'USER'): EntityEvent => ({
  event_id: randomUUID(),
  entity: { type, id },
  action: 'CREATED',
  version: 1,
  timestamp: new Date().toISOString(),
  source_system: 'test',
  tenant_context: { org_id: orgId },
});
const message = (orgId: string, id?: string, type?: string) => ({ value: JSON.stringify(event(orgId, id, type)), tenant: orgId });

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
      fetchEntities: async (_type, orgId, ids) => {
        if (orgId === busy) await held;
        return answer(orgId, ids);
      },
      writeStates: async (_type, orgId) => void written.push(orgId),
    });
    await h.sync.start();
    await h.run(h.batch([...Array.from({ length: 50 }, () => message(busy)), message(quiet)]));
    await vi.waitFor(() => expect(written).toEqual([quiet]));
    // The busy tenant's backlog shows per tenant; the quiet one has none left.
    await vi.waitFor(async () => expect(await h.counter('consumer_tenant_queued_references')).toEqual({ [busy]: 50 }));
    // The commit stays before the busy tenant's first unfinished reference.
    expect(h.commits.every((offset) => offset === '0')).toBe(true);
    release();
    await vi.waitFor(() => expect(h.lastCommit()).toBe('51'));
    await h.sync.stop();
  });

  it("holds a backlogged tenant's next round while a caught-up tenant's round runs, for a bounded time only", async () => {
    const [busy, quiet] = [randomUUID(), randomUUID()];
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const rounds: Array<{ orgId: string; ids: number }> = [];
    const busyStarts: number[] = [];
    const h = harness({
      fetchEntities: async (_type, orgId, ids) => {
        rounds.push({ orgId, ids: ids.length });
        if (orgId === busy) busyStarts.push(performance.now());
        if (orgId === quiet) await held;
        return answer(orgId, ids);
      },
      readAhead: 10_000,
    });
    await h.sync.start();
    // 2,500 references of the busy tenant are three rounds; the quiet tenant's one is a round alone.
    await h.run(h.batch([...Array.from({ length: 2_500 }, () => message(busy)), message(quiet)]));
    await vi.waitFor(() => expect(rounds).toEqual([{ orgId: busy, ids: 1_000 }, { orgId: quiet, ids: 1 }]));
    // The busy tenant's first round is done; its second waits for the quiet round, but not for
    // ever: the quiet round is still held when the busy tenant goes on.
    await vi.waitFor(() => expect(rounds.filter(({ orgId }) => orgId === busy)).toHaveLength(3), { timeout: 3_000 });
    expect(busyStarts[1]! - busyStarts[0]!).toBeGreaterThanOrEqual(150);
    // Nothing is committed past the quiet reference while it is unfinished.
    expect(h.commits.every((offset) => Number(offset) <= 2_500)).toBe(true);
    release();
    await vi.waitFor(() => expect(h.lastCommit()).toBe('2501'));
    await h.sync.stop();
  });

  it("starts a caught-up tenant's next round while its round before runs, never a backlogged tenant's", async () => {
    const [caughtUp, busy] = [randomUUID(), randomUUID()];
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const rounds: Array<{ orgId: string; ids: number }> = [];
    const h = harness({
      fetchEntities: async (_type, orgId, ids) => {
        rounds.push({ orgId, ids: ids.length });
        await held;
        return answer(orgId, ids);
      },
      readAhead: 10_000,
    });
    await h.sync.start();
    await h.run(h.batch([message(caughtUp), ...Array.from({ length: 1_500 }, () => message(busy))]));
    await vi.waitFor(() => expect(rounds).toEqual([{ orgId: caughtUp, ids: 1 }, { orgId: busy, ids: 1_000 }]));
    // Both rounds are held. The caught-up tenant's next change gets a round of its own at once;
    // the busy tenant's 500 left wait for its running round.
    await h.run(h.batch([message(caughtUp)]));
    await vi.waitFor(() => expect(rounds).toHaveLength(3));
    expect(rounds[2]).toEqual({ orgId: caughtUp, ids: 1 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(rounds).toHaveLength(3);
    expect(await h.counter('consumer_tenant_queued_references')).toEqual({ [busy]: 1_500, [caughtUp]: 2 });
    expect(h.commits.every((offset) => offset === '0')).toBe(true);
    release();
    await vi.waitFor(() => expect(h.lastCommit()).toBe('1502'));
    expect(rounds.filter(({ orgId }) => orgId === busy).map(({ ids }) => ids)).toEqual([1_000, 500]);
    await h.sync.stop();
  });

  it('on 401 alerts at once, holds only that tenant without dead-lettering, and tries again later', async () => {
    const [refused, fine] = [randomUUID(), randomUUID()];
    let calls = 0;
    const h = harness({
      fetchEntities: async (_type, orgId, ids) => {
        if (orgId !== refused) return answer(orgId, ids);
        calls += 1;
        if (calls === 1) throw new ReferenceApiError(401, 'client not authorised', 'SRC_CLIENT_NOT_AUTHORISED');
        return answer(orgId, ids);
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
      fetchEntities: async (_type, orgId, ids) => {
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

  it('dead-letters the messages of an org the source does not serve (its code, not a status, says so), and moves on', async () => {
    const orgId = randomUUID();
    const fetchEntities = vi.fn(async () => {
      throw new ReferenceApiError(403, 'tenant not allowed', 'SRC_TENANT_NOT_ALLOWED');
    });
    const h = harness({ fetchEntities });
    await h.sync.start();
    await h.run(h.batch([message(orgId), { value: '{nope', tenant: orgId }]));
    await vi.waitFor(() => expect(h.lastCommit()).toBe('2'));
    // One call answers it: there is no separate organisation check.
    expect(fetchEntities).toHaveBeenCalledTimes(1);
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
    const h = harness({ readAhead: 10, fetchEntities: async (_type, org, ids) => (await held, answer(org, ids)) });
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
      fetchEntities: async (_type, _org, _ids, context) => {
        const span = context && trace.getSpan(context);
        sentTraceparents.push(span && traceparentOf(span));
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

  it('applies each topic\'s references as its own type, and dead-letters a reference of another type beside the topic it came from', async () => {
    const orgId = randomUUID();
    const fetched: Array<[string, string[]]> = [];
    const h = harness({
      fetchEntities: async (synced, org, ids) => {
        fetched.push([synced.type, ids]);
        return answer(org, ids);
      },
    });
    await h.sync.start();
    const [user, team, smuggled] = [randomUUID(), randomUUID(), randomUUID()];
    await h.run(h.batch([message(orgId, team, 'TEAM'), message(orgId, smuggled, 'USER')], 'team-events'));
    await h.run(h.batch([message(orgId, user)]));
    await vi.waitFor(() => expect(fetched).toHaveLength(2));
    expect(fetched.sort()).toEqual([
      ['TEAM', [team]],
      ['USER', [user]],
    ]);
    expect(h.sent.map((m) => [m.topic, m.headers['dlq-code'], m.headers['dlq-original-topic']])).toEqual([['team-events.dlq', 'type_mismatch', 'team-events']]);
    await h.sync.stop();
  });
});
