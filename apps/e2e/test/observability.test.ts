import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { eventTopic } from '@tenant-sync/contracts';
import { certsDir, eventually, mintToken, readTopic, startSystem, testTenants, type RunningSystem } from '@tenant-sync/testing';

const infra = inject('infra');
const { a } = testTenants;

type Line = Record<string, unknown>;

/**
 * What an operator sees of one change: the three real apps, logging at `debug`, followed by
 * one trace id from the HTTP request to the consumer's fetch; no personal data anywhere.
 */
describe('observability of one change across the three apps', () => {
  let system: RunningSystem | undefined;
  const agent = new Agent({ connect: { ca: readFileSync(path.join(certsDir, 'ca.crt')) } });
  const consumerDb = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  const personal = { name: 'Trace Person', email: 'trace.person@a.test', phone: '+44 20 7946 0958' };
  const traceId = randomUUID().replaceAll('-', '');
  let userId = '';
  let token = '';

  beforeAll(async () => {
    system = await startSystem(infra, { env: { LOG_LEVEL: 'debug' } });
    const ports = system.ports;

    token = await mintToken({ orgId: a.id, subject: a.admin });
    const response = await request(`https://localhost:${ports.public}/users`, {
      method: 'POST',
      dispatcher: agent,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
        'x-request-id': 'observability-create',
      },
      body: JSON.stringify(personal),
    });
    expect(response.statusCode).toBe(201);
    userId = ((await response.body.json()) as { id: string }).id;
    await eventually(async () => {
      expect(await consumerDb`SELECT id FROM synced_users WHERE id = ${userId}`).toHaveLength(1);
    }, 20_000);
  });

  afterAll(async () => {
    await system?.stop();
    await agent.close();
    await consumerDb.end();
  });

  const linesOf = (name: 'source' | 'relay' | 'consumer'): Line[] => system?.[name].logLines() ?? [];

  it('names request, tenant and trace on every line the create request wrote', () => {
    const requestLines = linesOf('source').filter((line) => line.reqId === 'observability-create');
    expect(requestLines.map((line) => line.msg)).toEqual(expect.arrayContaining(['incoming request', 'request completed']));
    for (const line of requestLines) expect(line).toMatchObject({ traceId, app: 'source', listener: 'public' });
    // The tenant is known once the token is checked: from then on every line names it.
    const afterAuth = requestLines.slice(requestLines.findIndex((line) => line.tenantId !== undefined));
    expect(afterAuth.length).toBeGreaterThan(0);
    for (const line of afterAuth) expect(line.tenantId).toBe(a.id);
    expect(requestLines.at(-1)).toMatchObject({ msg: 'request completed', tenantId: a.id, res: { statusCode: 201 } });
  });

  it('follows the change by one trace id: Kafka header, consumer log, and the consumer fetch at the source', async () => {
    const [message] = (await readTopic(infra.brokers, eventTopic(system!.topicTemplate, 'USER'), 1)).filter((candidate) => candidate.key === userId);
    expect(message?.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    await eventually(async () => {
      const consumerLines = linesOf('consumer').filter((line) => line.traceId === traceId);
      expect(consumerLines.map((line) => line.msg)).toContain('tenant references applied');
      for (const line of consumerLines) expect(line.tenantId).toBe(a.id);

      const fetchLines = linesOf('source').filter((line) => line.listener === 'internal' && line.traceId === traceId);
      expect(fetchLines.map((line) => line.msg)).toContain('request completed');
      for (const line of fetchLines.filter((line) => line.msg === 'request completed')) {
        expect(line).toMatchObject({ tenantId: a.id, consumerId: 'consumer' });
      }
    }, 10_000);
  });

  it('writes no personal data and no credential in any line of any app, even at debug level', () => {
    const everything = JSON.stringify([...linesOf('source'), ...linesOf('relay'), ...linesOf('consumer')]);
    // The scan covers the lines of this change in all three apps.
    for (const name of ['source', 'relay', 'consumer'] as const) expect(linesOf(name).length).toBeGreaterThan(3);
    expect(everything).toContain(traceId);
    for (const secret of [personal.name, personal.email, personal.phone, token, token.split('.')[2] as string]) {
      expect(everything).not.toContain(secret);
    }
    expect(everything).not.toMatch(/Bearer ey/);
  });
});
