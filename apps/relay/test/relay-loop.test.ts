import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { Registry } from 'prom-client';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { SourceDatabase } from '@tenant-sync/db';
import type { BatchProducer } from '@tenant-sync/kafka';
import { createRelayMetrics } from '../src/metrics.ts';
import type { ClaimedRow } from '../src/outbox.ts';
import { claimedRow } from './claimed-row.ts';

/**
 * The relay loop with the outbox in memory: what it does, and in which order, around the
 * database and Kafka. The real database and broker are in relay.test.ts and relay-process.test.ts.
 */
const outbox = vi.hoisted(() => ({
  pending: [] as ClaimedRow[],
  calls: [] as string[],
  claimFailure: null as Error | null,
  backlog: false,
  /** Tenants the loop's last claim found backlogged: express claims skip them, as `createClaimer` does. */
  backlogged: new Set<string>(),
  pacedMs: 0,
}));

vi.mock('../src/outbox.ts', () => ({
  createClaimer: (_db: unknown, _owner: string, limit: number) => ({
    next: async () => {
      outbox.calls.push('claim');
      if (outbox.claimFailure) throw outbox.claimFailure;
      return outbox.pending.splice(0, limit);
    },
    express: async (rows: number, tenants?: ReadonlySet<string>) => {
      outbox.calls.push(tenants ? `express ${[...tenants].join(',')}` : 'express');
      const claimable = (org: string | null) => org === null || (!outbox.backlogged.has(org) && (!tenants || tenants.has(org)));
      const claimed = outbox.pending.filter((pending) => claimable(pending.org_id)).slice(0, rows);
      outbox.pending = outbox.pending.filter((pending) => !claimed.includes(pending));
      return claimed;
    },
    backlog: () => outbox.backlog,
    pacedMs: () => outbox.pacedMs,
  }),
  deletePublished: async (_db: unknown, _owner: string, ids: number[]) => void outbox.calls.push(`delete ${ids.join(',')}`),
  releaseLeases: async (_db: unknown, _owner: string, ids: number[]) => void outbox.calls.push(`release ${ids.join(',')}`),
  parkRow: async (_db: unknown, _owner: string, id: number, reason: string) => void outbox.calls.push(`park ${id} ${reason}`),
}));

const { createRelay } = await import('../src/relay.ts');

let nextId = 1;
/** Rows numbered from 1 in each test: the calls the tests expect name them. */
const row = (overrides: Partial<ClaimedRow> = {}): ClaimedRow => claimedRow({ id: nextId++, ...overrides });

/** A producer whose `send` waits until the test settles it. */
function fakeProducer() {
  const sends: Array<{ count: number; settle: (error?: Error) => void }> = [];
  const producer: BatchProducer = {
    connect: async () => {},
    disconnect: async () => {},
    send: (messages) =>
      new Promise<void>((resolve, reject) => {
        outbox.calls.push(`send ${messages.length}`);
        sends.push({ count: messages.length, settle: (error) => (error ? reject(error) : resolve()) });
      }),
  };
  return { producer, sends };
}

function relayWith(producer: BatchProducer, batchSize = 2, registry = new Registry(), downstream?: { lag: () => number; maxLag: number }) {
  return createRelay({
    db: {} as Kysely<SourceDatabase>,
    producer,
    topics: { topicOf: () => 'user-events', prepare: async () => {}, prepared: () => ['user-events'] },
    logger: pino({ level: 'silent' }),
    metrics: createRelayMetrics(registry, async () => ({ depth: 0, oldestAgeSeconds: 0, parked: 0, tenants: [] })),
    relayId: 'relay-1',
    batchSize,
    pollIntervalMs: 200,
    leaseMs: 30_000,
    downstream,
  });
}

const until = async (condition: () => boolean) => {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 2_000) throw new Error('condition not reached');
    await sleep(5);
  }
};

describe('relay loop', () => {
  beforeEach(() => {
    outbox.pending = [];
    outbox.calls = [];
    outbox.claimFailure = null;
    outbox.backlog = false;
    outbox.backlogged = new Set();
    outbox.pacedMs = 0;
    nextId = 1;
  });

  it('deletes rows only after Kafka acknowledged them, and claims and sends the next batch meanwhile', async () => {
    outbox.pending = [row(), row(), row()];
    const { producer, sends } = fakeProducer();
    const relay = relayWith(producer);
    relay.start();
    await until(() => sends.length === 2);
    // Both batches are in flight; nothing is deleted before its own ack.
    expect([...outbox.calls].sort()).toEqual(['claim', 'claim', 'send 1', 'send 2']);
    // Acks may come in any order: the batches share no entity (the claim's head-of-entity rule).
    sends[1]?.settle();
    await until(() => outbox.calls.includes('delete 3'));
    expect(outbox.calls).not.toContain('delete 1,2');
    sends[0]?.settle();
    await until(() => outbox.calls.includes('delete 1,2'));
    await relay.stop();
  });

  it('publishes a commit that lands while a batch is in flight without waiting for that ack', async () => {
    outbox.pending = [row()];
    const { producer, sends } = fakeProducer();
    const relay = relayWith(producer);
    relay.start();
    await until(() => sends.length === 1);
    outbox.pending = [row()];
    relay.poke();
    await until(() => sends.length === 2);
    expect(outbox.calls.filter((call) => call.startsWith('delete'))).toEqual([]);
    sends[0]?.settle();
    sends[1]?.settle();
    await until(() => outbox.calls.includes('delete 2'));
    await relay.stop();
  });

  it('during a backlog, claims and publishes a notified commit at once beside the batches in flight; commits notified meanwhile fold into one more express claim', async () => {
    outbox.backlog = true;
    outbox.pending = [row(), row(), row(), row()];
    const { producer, sends } = fakeProducer();
    const registry = new Registry();
    const relay = relayWith(producer, 2, registry);
    relay.start();
    // Two full batches in flight: the loop waits for one of them.
    await until(() => sends.length === 2);
    outbox.pending = [row()];
    relay.poke();
    relay.poke();
    relay.poke();
    await until(() => sends.length === 3);
    await until(() => outbox.calls.filter((call) => call === 'express').length === 2);
    expect(sends[2]?.count).toBe(1);
    expect((await registry.getSingleMetric('relay_express_claimed_total')?.get())?.values[0]?.value).toBe(1);
    sends[2]?.settle();
    await until(() => outbox.calls.includes('delete 5'));
    // Without a backlog a commit waits for the loop, which claims it once a batch is done.
    outbox.backlog = false;
    outbox.pending = [row()];
    relay.poke();
    await sleep(50);
    expect(outbox.calls.filter((call) => call === 'express')).toHaveLength(2);
    expect(sends).toHaveLength(3);
    sends[0]?.settle();
    sends[1]?.settle();
    await until(() => sends.length === 4);
    sends[3]?.settle();
    await until(() => outbox.calls.includes('delete 6'));
    await relay.stop();
  });

  it('while the consumers are RELAY_MAX_LAG behind, leaves a backlog in the outbox but publishes new commits by express claims, notified or not; claims again once they catch up', async () => {
    const importer = randomUUID();
    const quiet = randomUUID();
    const imported = () => Array.from({ length: 4 }, () => row({ org_id: importer }));
    outbox.backlog = true;
    outbox.backlogged = new Set([importer]);
    outbox.pending = imported();
    let lag = 0;
    const registry = new Registry();
    const { producer, sends } = fakeProducer();
    const relay = relayWith(producer, 2, registry, { lag: () => lag, maxLag: 100 });
    relay.start();
    await until(() => sends.length === 2);
    lag = 100;
    sends[0]?.settle();
    sends[1]?.settle();
    await until(() => outbox.calls.includes('delete 3,4'));
    // The backlog waits: no claim of the loop while the consumers are behind.
    outbox.pending = imported();
    const claims = outbox.calls.filter((call) => call === 'claim').length;
    await sleep(300);
    expect(outbox.calls.filter((call) => call === 'claim')).toHaveLength(claims);
    expect(sends).toHaveLength(2);
    expect(await registry.getSingleMetricAsString('relay_lag_holds_total')).toMatch(/relay_lag_holds_total [1-9]/);
    // A commit whose notification was missed goes by an express claim in place of the poll.
    outbox.pending.push(row({ org_id: quiet }));
    await until(() => sends.length === 3);
    expect(sends[2]?.count).toBe(1);
    sends[2]?.settle();
    // A commit notified meanwhile goes by the express claim at once.
    outbox.pending.push(row({ org_id: quiet }));
    relay.poke();
    await until(() => sends.length === 4);
    expect(sends[3]?.count).toBe(1);
    sends[3]?.settle();
    lag = 99;
    await until(() => sends.length >= 5);
    expect(outbox.calls.filter((call) => call === 'claim').length).toBeGreaterThan(claims);
    for (const send of sends.slice(4)) send.settle();
    await relay.stop();
  });

  it('without a backlog, claims whatever the consumers lag: the few rows of a quiet outbox are not held', async () => {
    outbox.pending = [row()];
    const { producer, sends } = fakeProducer();
    const relay = relayWith(producer, 2, new Registry(), { lag: () => 1_000, maxLag: 100 });
    relay.start();
    await until(() => sends.length === 1);
    sends[0]?.settle();
    await relay.stop();
  });

  it("after a claim that held a tenant to its pace, waits the pace out before claiming again, though a batch is deleted meanwhile", async () => {
    outbox.pending = [row(), row(), row(), row()];
    outbox.pacedMs = 1_000;
    const registry = new Registry();
    const { producer, sends } = fakeProducer();
    const relay = relayWith(producer, 2, registry);
    relay.start();
    await until(() => sends.length === 1);
    sends[0]?.settle();
    await until(() => outbox.calls.includes('delete 1,2'));
    await sleep(200);
    expect(outbox.calls.filter((call) => call === 'claim')).toHaveLength(1);
    outbox.pacedMs = 0;
    await until(() => sends.length === 2);
    expect(await registry.getSingleMetricAsString('relay_paced_claims_total')).toMatch(/relay_paced_claims_total [1-9]/);
    sends[1]?.settle();
    await relay.stop();
  });

  it('keeps at most two batches in flight, and claims the next when one is acknowledged', async () => {
    outbox.pending = [row(), row(), row(), row(), row(), row()];
    const { producer, sends } = fakeProducer();
    const relay = relayWith(producer);
    relay.start();
    await until(() => sends.length === 2);
    relay.poke();
    await sleep(50);
    expect(sends).toHaveLength(2);
    expect(outbox.calls.filter((call) => call === 'claim')).toHaveLength(2);
    sends[0]?.settle();
    await until(() => sends.length === 3);
    expect(outbox.calls.slice(-3)).toEqual(['delete 1,2', 'claim', 'send 2']);
    sends[1]?.settle();
    sends[2]?.settle();
    await until(() => outbox.calls.includes('delete 5,6'));
    await relay.stop();
  });

  it('gives each failed batch back and backs off, even when commits keep waking it', async () => {
    outbox.pending = [row(), row(), row(), row()];
    const { producer, sends } = fakeProducer();
    const relay = relayWith(producer);
    relay.start();
    await until(() => sends.length === 2);
    sends[0]?.settle(new Error('broker transport failure'));
    await until(() => outbox.calls.includes('release 1,2'));
    sends[1]?.settle(new Error('broker transport failure'));
    await until(() => outbox.calls.includes('release 3,4'));
    expect(outbox.calls.some((call) => call.startsWith('delete'))).toBe(false);
    // Backing off at least 50 ms (100 ms with jitter), even when commits keep waking it.
    const claimsAfterFailure = outbox.calls.filter((call) => call === 'claim').length;
    for (let n = 0; n < 5; n += 1) relay.poke();
    await sleep(40);
    expect(outbox.calls.filter((call) => call === 'claim').length).toBe(claimsAfterFailure);
    await relay.stop();
  });

  it('parks a row without a valid tenant and publishes the rest of its batch', async () => {
    outbox.pending = [row({ org_id: null }), row()];
    const { producer, sends } = fakeProducer();
    const relay = relayWith(producer);
    relay.start();
    await until(() => sends.length === 1);
    expect(sends[0]?.count).toBe(1);
    expect(outbox.calls).toContain('park 1 org_id is missing');
    sends[0]?.settle();
    await until(() => outbox.calls.includes('delete 2'));
    await relay.stop();
  });

  it('on stop, finishes the batch in flight before it resolves', async () => {
    outbox.pending = [row()];
    const { producer, sends } = fakeProducer();
    const relay = relayWith(producer);
    relay.start();
    await until(() => sends.length === 1);
    let stopped = false;
    const stopping = relay.stop().then(() => (stopped = true));
    await sleep(20);
    expect(stopped).toBe(false);
    sends[0]?.settle();
    await stopping;
    expect(outbox.calls.at(-1)).toBe('delete 1');
  });

  it('claims again at once when poked while idle, folds pokes that arrive together into one claim, and claims again once a batch is deleted', async () => {
    const { producer, sends } = fakeProducer();
    const relay = relayWith(producer);
    relay.start();
    await until(() => outbox.calls.length === 1); // the first, empty claim; now waiting 200 ms
    outbox.pending = [row()];
    relay.poke();
    await until(() => sends.length === 1);
    relay.poke();
    relay.poke();
    await sleep(50);
    // One claim for the two pokes, then the poll wait.
    expect(outbox.calls.filter((call) => call === 'claim')).toHaveLength(3);
    sends[0]?.settle();
    await until(() => outbox.calls.includes('delete 1'));
    await sleep(50);
    // The deleted rows' entities may have a next row that no claim could take while they were in flight.
    expect(outbox.calls.filter((call) => call === 'claim')).toHaveLength(4);
    await relay.stop();
  });

  it("claims a commit that names its tenant beside the loop, its tenant's rows alone, without waking the loop; the next rows of its entities too, once it is published", async () => {
    const quiet = randomUUID();
    const importer = randomUUID();
    const registry = new Registry();
    const { producer, sends } = fakeProducer();
    const relay = relayWith(producer, 2, registry);
    relay.start();
    await until(() => outbox.calls.length === 1); // the first, empty claim; now waiting 200 ms
    // An import's rows the loop has not seen, and one commit of the quiet tenant.
    outbox.pending = [row({ org_id: importer }), row({ org_id: importer }), row({ org_id: importer }), row({ org_id: quiet })];
    relay.poke(quiet);
    await until(() => sends.length === 1);
    expect(sends[0]?.count).toBe(1);
    expect(outbox.calls).toEqual(['claim', `express ${quiet}`, 'send 1']);
    expect((await registry.getSingleMetric('relay_express_claimed_total')?.get())?.values[0]?.value).toBe(1);
    // Its entity's next row, committed while the first was in flight, goes the same way once that one is deleted.
    outbox.pending.push(row({ org_id: quiet }));
    sends[0]?.settle();
    await until(() => sends.length === 2);
    expect(outbox.calls.slice(2)).toEqual(['send 1', 'delete 4', `express ${quiet}`, 'send 1']);
    sends[1]?.settle();
    // The loop claims the import at its poll.
    await until(() => sends.length === 4);
    expect(sends.slice(2).map((send) => send.count)).toEqual([2, 1]);
    for (const send of sends.slice(2)) send.settle();
    await relay.stop();
  });

  it('wakes the loop when a named commit holds more rows than an express claim takes', async () => {
    const tenant = randomUUID();
    const { producer, sends } = fakeProducer();
    const relay = relayWith(producer, 1_000);
    relay.start();
    await until(() => outbox.calls.length === 1);
    outbox.pending = Array.from({ length: 150 }, () => row({ org_id: tenant }));
    relay.poke(tenant);
    await until(() => sends.length === 2);
    expect(outbox.calls.slice(1, 3)).toEqual([`express ${tenant}`, 'send 100']);
    expect(outbox.calls.slice(3)).toEqual(['claim', 'send 50']);
    for (const send of sends) send.settle();
    await relay.stop();
  });

  it('backs off when the database fails, without a busy loop', async () => {
    outbox.claimFailure = new Error('connection refused');
    const { producer } = fakeProducer();
    const relay = relayWith(producer);
    relay.start();
    await sleep(120);
    await relay.stop();
    // 100 ms then 200 ms (±50 % jitter): two or three attempts, never dozens.
    expect(outbox.calls.length).toBeLessThanOrEqual(3);
  });
});
