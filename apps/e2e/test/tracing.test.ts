import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { eventTopic } from '@tenant-sync/contracts';
import {
  certsDir,
  eventually,
  mintToken,
  readTopic,
  startOtlpReceiver,
  startSystem,
  testTenants,
  type OtlpReceiver,
  type ReceivedSpan,
  type RunningSystem,
} from '@tenant-sync/testing';

const infra = inject('infra');
const { a } = testTenants;

/** OTLP's span kinds. */
const kind = { server: 2, client: 3, producer: 4, consumer: 5 };

/**
 * The three real apps, started from their entry points with the standard OTel variables
 * pointing at a receiver in this process: one change is one trace, from `POST /users` to the
 * consumer's commit, and no span carries the user's personal data.
 */
describe('traces of one change across the three apps, exported over OTLP', () => {
  let receiver: OtlpReceiver | undefined;
  let system: RunningSystem | undefined;
  const agent = new Agent({ connect: { ca: readFileSync(path.join(certsDir, 'ca.crt')) } });
  const consumerDb = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  const personal = { name: 'Span Person', email: 'span.person@a.test', phone: '+44 20 7946 0123' };
  const traceId = randomUUID().replaceAll('-', '');
  const callerSpanId = '00f067aa0ba902b7';
  let userId = '';
  let token = '';

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    system = await startSystem(infra, {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '200' },
    });
    token = await mintToken({ orgId: a.id, subject: a.admin });
    const response = await request(`https://localhost:${system.ports.public}/users`, {
      method: 'POST',
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpanId}-01` },
      body: JSON.stringify(personal),
    });
    expect(response.statusCode).toBe(201);
    userId = ((await response.body.json()) as { id: string }).id;
  });

  afterAll(async () => {
    await system?.stop();
    await receiver?.close();
    await agent.close();
    await consumerDb.end();
  });

  /**
   * The spans of the change's trace once all of them have arrived (the consumer's commit among
   * them), each found by who made it and its parent.
   */
  async function traceOfTheChange() {
    return eventually(async () => {
      const spans = receiver!.spans().filter((span) => span.traceId === traceId);
      const childrenOf = (parent: ReceivedSpan) => spans.filter((span) => span.parentSpanId === parent.spanId);
      const parentOf = (child: ReceivedSpan) => {
        const found = spans.find((span) => span.spanId === child.parentSpanId);
        expect(found, `the parent of ${child.service} ${child.name}`).toBeDefined();
        return found!;
      };
      const only = (found: ReceivedSpan[], what: string) => {
        expect(found, what).toHaveLength(1);
        return found[0]!;
      };
      const publish = only(spans.filter((span) => span.service === 'relay'), 'the relay publish');
      const write = parentOf(publish);
      const request = parentOf(write);
      const apply = only(childrenOf(publish), 'the consumer apply');
      const fetch = only(childrenOf(apply).filter((span) => span.kind === kind.client && span.name.startsWith('POST ')), 'the consumer fetch');
      const commit = only(childrenOf(apply).filter((span) => span.name === 'tenant transaction'), 'the consumer commit');
      const answer = only(childrenOf(fetch), 'the source answer to the fetch');
      // The read, after the check of the consumer's tenant (one more transaction unless cached).
      const reads = childrenOf(answer).filter((span) => span.name === 'tenant transaction');
      expect(reads.length, 'the source read').toBeGreaterThanOrEqual(1);
      const read = reads.at(-1)!;
      return { spans, request, write, publish, apply, fetch, answer, read, commit };
    }, 20_000);
  }

  it('makes one trace from POST /users to the consumer commit, each span a child of the one before', async () => {
    const { request, write, publish, apply, fetch, answer, read, commit } = await traceOfTheChange();
    // The commit's span ends once the transaction has committed: the copy has the user.
    expect(await consumerDb`SELECT id FROM synced_users WHERE id = ${userId}`).toHaveLength(1);
    expect([request, write, publish, apply, fetch, answer, read, commit].map((span) => [span.service, span.kind, span.name])).toEqual([
      ['source', kind.server, 'POST /users'],
      ['source', kind.client, 'tenant transaction'],
      ['relay', kind.producer, `send ${eventTopic(system!.topicTemplate, 'USER')}`],
      ['consumer', kind.consumer, `process ${eventTopic(system!.topicTemplate, 'USER')}`],
      ['consumer', kind.client, 'POST /internal/sync/user/batch'],
      ['source', kind.server, 'POST /internal/sync/user/batch'],
      ['source', kind.client, 'tenant transaction'],
      ['consumer', kind.client, 'tenant transaction'],
    ]);
    // The caller's span is the root's parent: the trace is the one the client started.
    expect(request.parentSpanId).toBe(callerSpanId);
    expect(request.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/users', 'url.path': '/users', 'http.response.status_code': 201 });
    expect(write.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'tenant.id': a.id });
    const topic = eventTopic(system!.topicTemplate, 'USER');
    expect(publish.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.destination.name': topic, 'messaging.kafka.message.key': userId, 'tenant.id': a.id });
    expect(apply.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.destination.name': topic, 'tenant.id': a.id });
    expect(fetch.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 200, 'tenant.id': a.id });
    expect(answer.attributes).toMatchObject({ 'http.route': '/internal/sync/user/batch', 'http.response.status_code': 200 });
    expect(commit.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'tenant.id': a.id });
    for (const span of [request, write, publish, apply, fetch, answer, read, commit]) expect(span.status.code ?? 0).not.toBe(2);
  });

  it('writes the publish span into the Kafka message as its traceparent', async () => {
    const { publish } = await traceOfTheChange();
    const [message] = (await readTopic(infra.brokers, eventTopic(system!.topicTemplate, 'USER'), 1)).filter((candidate) => candidate.key === userId);
    expect(message?.headers.traceparent).toBe(`00-${traceId}-${publish.spanId}-01`);
  });

  it('leaves no span of the source outside a request: authentication look-ups join the request trace too', async () => {
    const { request } = await traceOfTheChange();
    const sourceSpans = receiver!.spans().filter((span) => span.service === 'source');
    expect(sourceSpans.filter((span) => span.parentSpanId === '' && span.kind !== kind.server)).toEqual([]);
    // The membership check of the token's subject is a transaction of its own, in the request's trace.
    expect(sourceSpans.filter((span) => span.parentSpanId === request.spanId).map((span) => span.name)).toEqual(['tenant transaction', 'tenant transaction']);
  });

  it('puts no personal data and no credential in any span of any app', async () => {
    await traceOfTheChange();
    const everything = JSON.stringify(receiver!.spans());
    for (const service of ['source', 'relay', 'consumer']) expect(receiver!.spans().some((span) => span.service === service)).toBe(true);
    for (const secret of [personal.name, personal.email, personal.phone, token, token.split('.')[2] as string]) {
      expect(everything).not.toContain(secret);
    }
  });
});
