import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { createExpressClaim, EVERYONE, EXPRESS_ROWS, tenantsOf } from '../src/express-claim.ts';
import { createRelayMetrics } from '../src/metrics.ts';
import type { ClaimedRow } from '../src/outbox.ts';
import { claimedRow } from './claimed-row.ts';

const row = (orgId: string | null): ClaimedRow => claimedRow({ org_id: orgId });

/** An express claim over a fake claimer whose claims resolve when the test says so. */
function setUp({ backlog = false } = {}) {
  const claims: Array<{ tenants: ReadonlySet<string> | undefined; answer: (rows: ClaimedRow[]) => void; fail: (error: Error) => void }> = [];
  const claimer = {
    backlog: () => backlog,
    express: (_rows: number, tenants?: ReadonlySet<string>) =>
      new Promise<ClaimedRow[]>((answer, fail) => {
        claims.push({ tenants, answer, fail });
      }),
  };
  const published: ClaimedRow[][] = [];
  const wake = vi.fn();
  let running = true;
  const express = createExpressClaim({
    claimer,
    running: () => running,
    publish: (rows, done) => {
      published.push(rows);
      done();
    },
    wake,
    observeClaim: () => {},
    metrics: createRelayMetrics(new Registry(), async () => ({ depth: 0, oldestAgeSeconds: 0, parked: 0, tenants: [] })),
    logger: pino({ level: 'silent' }),
  });
  return { express, claims, published, wake, stop: () => (running = false) };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('the express claim', () => {
  it('claims a named tenant at once, and folds the tenants notified meanwhile into one more claim', async () => {
    const { express, claims, published } = setUp();
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    express.claim(new Set([a]));
    express.claim(new Set([b]));
    express.claim(new Set([c]));
    expect(claims.map((claim) => claim.tenants && [...claim.tenants])).toEqual([[a]]);

    claims[0]?.answer([]);
    await settle();
    expect(claims.map((claim) => claim.tenants && [...claim.tenants])).toEqual([[a], [b, c]]);
    expect(published).toEqual([]);
  });

  it('claims the next rows of the tenants it published, as the rows before them left the outbox', async () => {
    const { express, claims, published } = setUp();
    const a = randomUUID();
    express.claim(new Set([a]));
    const rows = [row(a)];
    claims[0]?.answer(rows);
    await settle();
    expect(published).toEqual([rows]);
    expect(claims.map((claim) => claim.tenants && [...claim.tenants])).toEqual([[a], [a]]);
  });

  it('takes a notification that names no tenant only during a backlog, for every tenant', async () => {
    const quiet = setUp({ backlog: false });
    quiet.express.claim(EVERYONE);
    expect(quiet.claims).toHaveLength(0);

    const busy = setUp({ backlog: true });
    busy.express.claim(EVERYONE);
    // Every tenant notified meanwhile: a named one folds into it.
    busy.express.claim(new Set([randomUUID()]));
    busy.express.claim(EVERYONE);
    busy.claims[0]?.answer([]);
    await settle();
    expect(busy.claims.map((claim) => claim.tenants)).toEqual([undefined, undefined]);
  });

  it('wakes the loop when a claim comes back full or fails', async () => {
    const { express, claims, wake } = setUp();
    const a = randomUUID();
    express.claim(new Set([a]));
    claims[0]?.answer(Array.from({ length: EXPRESS_ROWS }, () => row(a)));
    await settle();
    expect(wake).toHaveBeenCalledTimes(1);

    claims[1]?.fail(new Error('connection refused'));
    await settle();
    expect(wake).toHaveBeenCalledTimes(2);
  });

  it('starts nothing once the relay stops, and settles when the claim under way ends', async () => {
    const { express, claims, stop } = setUp();
    express.claim(new Set([randomUUID()]));
    stop();
    express.claim(new Set([randomUUID()]));
    let settled = false;
    const settling = express.settled().then(() => (settled = true));
    await settle();
    expect(settled).toBe(false);
    claims[0]?.answer([]);
    await settling;
    expect(claims).toHaveLength(1);
  });

  it('names every tenant for rows without one', () => {
    const [a, b] = [randomUUID(), randomUUID()];
    expect(tenantsOf([row(a), row(b), row(a)])).toEqual(new Set([a, b]));
    expect(tenantsOf([row(a), row(null)])).toBe(EVERYONE);
  });
});
