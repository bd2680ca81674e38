import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testTenants, type AppProcess } from '@tenant-sync/testing';
import { createReferenceClient, type ReferenceClient } from '../src/reference-client.ts';
import { consumerTls, startSource } from './harness.ts';

const infra = inject('infra');
const { a } = testTenants;

describe('ReferenceClient#membership against the real source', () => {
  let source: AppProcess | undefined;
  let client: ReferenceClient;
  const calls: string[] = [];

  beforeAll(async () => {
    const started = await startSource(infra);
    source = started.source;
    client = createReferenceClient({
      baseUrl: started.internalUrl,
      consumerId: 'consumer',
      tls: consumerTls(),
      timeoutMs: 5_000,
      onCall: (route, status) => calls.push(`${route} ${status}`),
    });
  });

  afterAll(async () => {
    await client?.close();
    await source?.stop();
  });

  it("answers the seeded admin's membership, and a subject of the longest allowed length as a non-member", async () => {
    await expect(client.membership(a.id, a.admin)).resolves.toMatchObject({ orgStatus: 'ACTIVE', role: 'tenant_admin', memberStatus: 'ACTIVE' });
    await expect(client.membership(a.id, 'a'.repeat(128))).resolves.toMatchObject({ orgStatus: 'ACTIVE', memberStatus: null });
    await expect(client.membership(a.id, 'ünïcödé-😀'.repeat(12))).resolves.toMatchObject({ memberStatus: null });
    expect(calls).toEqual(['membership 200', 'membership 200', 'membership 200']);
  });

  it.each([
    ['a dot segment', '.'],
    ['a double-dot segment', '..'],
    ['NUL', `${a.admin}\u0000`],
    ['150 characters', 'a'.repeat(150)],
    ['a lone surrogate', 'admin\ud800'],
  ])('is a member of nothing for %s, without asking the source', async (_name, subject) => {
    const before = calls.length;
    await expect(client.membership(a.id, subject)).resolves.toBeNull();
    expect(calls.length).toBe(before);
  });
});
