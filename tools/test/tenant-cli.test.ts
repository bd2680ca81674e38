import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { deadLetterTopic, DeadLetterHeaders, eventTopic } from '@tenant-sync/contracts';
import { createKafka, ensureTopics } from '@tenant-sync/kafka';
import { readTopic, testTenants } from '@tenant-sync/testing';

const infra = inject('infra');
const cli = fileURLToPath(new URL('../tenant.ts', import.meta.url));
/** Alice's own login, a member of tenant_operator: the audit log knows her by it. */
const alice = { role: 'alice', password: randomUUID() };
const aliceUrl = (() => {
  const url = new URL(infra.operatorUrl);
  url.username = alice.role;
  url.password = alice.password;
  return url.toString();
})();
beforeAll(async () => {
  const superuser = postgres(infra.adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [existing] = await superuser`SELECT 1 FROM pg_roles WHERE rolname = ${alice.role}`;
    if (!existing) await superuser.unsafe(`CREATE ROLE ${alice.role} LOGIN IN ROLE tenant_operator`);
    await superuser.unsafe(`ALTER ROLE ${alice.role} PASSWORD '${alice.password}'`);
  } finally {
    await superuser.end();
  }
});

const env = {
  ...process.env,
  OPERATOR_DATABASE_URL: aliceUrl,
  KAFKA_BROKERS: infra.brokers,
  KAFKA_TOPIC_TEMPLATE: infra.topicTemplate,
};

async function tenant(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return tenantWith(env, ...args);
}

async function tenantWith(cliEnv: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], { env: cliEnv, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** A valid event of `orgId`, as the relay publishes it. */
function userEvent(orgId: string, entityId: string = randomUUID()): string {
  return JSON.stringify({
    event_id: randomUUID(),
    entity: { type: 'USER', id: entityId },
    action: 'UPDATED',
    version: 1,
    timestamp: new Date().toISOString(),
    source_system: 'tenant-sync-source',
    tenant_context: { org_id: orgId },
  });
}

// What must never reach a terminal raw: C0 but the line feed, DEL, C1, line and paragraph
// separators, bidi embeddings, overrides and isolates.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const rawControl = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('admin CLI (npm run tenant)', () => {
  const admin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  afterAll(() => admin.end());

  const org = '33333333-3333-4333-8333-333333333333';
  const audited = () => admin<{ operator: string; db_role: string; command: string; org_id: string | null }[]>`
    SELECT operator, db_role, command, org_id FROM operator_audit_log ORDER BY id`;

  it('creates, suspends and reactivates an org and manages its members, each change audited by the database', async () => {
    const before = (await audited()).length;
    expect((await tenant('create-org', '--name', 'Acme', '--id', org, '--admin', 'acme-admin')).stdout).toContain(`created organisation ${org}`);
    expect((await tenant('suspend', org)).stdout).toContain('is now SUSPENDED');
    expect((await admin`SELECT status FROM organizations WHERE id = ${org}`)[0]).toEqual({ status: 'SUSPENDED' });
    expect((await tenant('reactivate', org)).stdout).toContain('is now ACTIVE');
    expect((await tenant('add-member', org, 'bob', '--role', 'member')).code).toBe(0);
    expect((await tenant('remove-member', org, 'bob')).code).toBe(0);
    expect(await admin`SELECT subject, role, status FROM memberships WHERE org_id = ${org} ORDER BY subject`).toEqual([
      { subject: 'acme-admin', role: 'tenant_admin', status: 'ACTIVE' },
      { subject: 'bob', role: 'member', status: 'REMOVED' },
    ]);
    expect((await audited()).slice(before)).toEqual([
      { operator: 'alice', db_role: 'tenant_operator', command: 'insert organizations', org_id: org },
      { operator: 'alice', db_role: 'tenant_operator', command: 'insert memberships', org_id: org },
      { operator: 'alice', db_role: 'tenant_operator', command: 'update organizations', org_id: org },
      { operator: 'alice', db_role: 'tenant_operator', command: 'update organizations', org_id: org },
      { operator: 'alice', db_role: 'tenant_operator', command: 'insert memberships', org_id: org },
      { operator: 'alice', db_role: 'tenant_operator', command: 'update memberships', org_id: org },
    ]);
    const listing = await tenant('orgs');
    expect(listing.stdout).toMatch(new RegExp(`${org}\\s+Acme\\s+ACTIVE`));
  });

  it('refuses bad input with a clear message and a non-zero exit, changing nothing', async () => {
    const orgs = await admin`SELECT id, status FROM organizations ORDER BY id`;
    const before = (await audited()).length;
    const cases: Array<[string[], number, RegExp]> = [
      [[], 2, /a command is required/],
      [['launch'], 2, /unknown command "launch"/],
      [['suspend', "1' OR '1'='1"], 2, /must be a UUID/],
      [['suspend', '44444444-4444-4444-8444-444444444444'], 1, /no organisation 44444444/],
      [['add-member', testTenants.a.id, 'eve', '--role', 'root'], 2, /--role must be member or tenant_admin/],
      [['remove-member', testTenants.a.id, 'nobody'], 1, /not an active member/],
      [['create-org', '--name', 'Again', '--id', testTenants.a.id], 1, /already exists/],
      [['replay', 'latest'], 2, /<partition>:<offset>/],
      [['replay'], 2, /<partition>:<offset>/],
      [['replay', '0:0', '--org', testTenants.a.id], 2, /<partition>:<offset>/],
      [['replay', '--org', 'acme'], 2, /must be a UUID/],
      [['replay', '--reason', ''], 2, /--reason must not be empty/],
      [['replay', '--since', 'yesterday'], 2, /--since must be an ISO time/],
      [['replay', '--since', '2025-02-01T00:00:00Z', '--until', '2025-01-01T00:00:00Z'], 2, /--since must be before --until/],
      [['--frobnicate'], 2, /Unknown option/],
    ];
    for (const [args, code, message] of cases) {
      const result = await tenant(...args);
      expect({ args, code: result.code }).toEqual({ args, code });
      expect(result.stderr).toMatch(message);
    }
    expect(await admin`SELECT id, status FROM organizations ORDER BY id`).toEqual(orgs);
    expect((await audited()).length).toBe(before);
  });

  it('names the database it cannot reach, without its password', async () => {
    const url = new URL(infra.operatorUrl);
    url.password = 'wrong-secret';
    url.port = '1';
    const result = await promisify(execFile)(process.execPath, [cli, 'orgs'], { env: { ...env, OPERATOR_DATABASE_URL: url.toString() }, timeout: 60_000 }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(result).toMatchObject({ code: 1 });
    expect((result as { stderr: string }).stderr).toMatch(/cannot use the operator database at postgres:\/\/tenant_operator:\*\*\*@/);
    expect((result as { stderr: string }).stderr).not.toContain('wrong-secret');
  });

  it('is the only cross-tenant path: the operator role reads no personal data, the app roles cannot use its policies', async () => {
    const operator = postgres(infra.operatorUrl, { max: 1, onnotice: () => {} });
    const app = postgres(infra.sourceAppUrl, { max: 1, onnotice: () => {} });
    try {
      await expect(operator`SELECT email FROM users`).rejects.toThrow(/permission denied/);
      await expect(operator`UPDATE operator_audit_log SET operator = 'nobody'`).rejects.toThrow(/permission denied/);
      await expect(operator`DELETE FROM operator_audit_log`).rejects.toThrow(/permission denied/);
      // An app session that names itself an operator still sees no organisation but its own.
      const seen = await app.begin(async (trx) => {
        await trx`SELECT set_config('app.operator', 'alice', true), set_config('app.current_tenant', ${testTenants.a.id}, true)`;
        return trx`SELECT id FROM organizations`;
      });
      expect(seen.map((row) => row.id)).toEqual([testTenants.a.id]);
      await expect(app`SELECT * FROM operator_audit_log`).rejects.toThrow(/permission denied/);
    } finally {
      await Promise.all([operator.end(), app.end()]);
    }
  });

  it('lets the database alone write the audit log: no insert, no back-dated entry in another name, no actor from a setting', async () => {
    const operator = postgres(aliceUrl, { max: 1, onnotice: () => {} });
    try {
      const before = (await audited()).length;
      await expect(
        operator`INSERT INTO operator_audit_log (at, operator, db_role, command) VALUES (now() - interval '1 year', 'bob', 'tenant_operator', 'suspend')`,
      ).rejects.toThrow(/permission denied/);
      await expect(operator`UPDATE operator_audit_log SET operator = 'nobody'`).rejects.toThrow(/permission denied/);
      await expect(operator`DELETE FROM operator_audit_log`).rejects.toThrow(/permission denied/);
      // The one entry point an operator has names the action only: actor, role and time are the database's.
      await operator.begin(async (trx) => {
        await trx`SELECT set_config('app.operator', 'bob', true)`;
        await trx`SELECT record_operator_action('read organisations', NULL, '{"by": "bob"}')`;
        await trx`UPDATE organizations SET name = name WHERE id = ${testTenants.a.id}`;
      });
      const added = await admin<{ operator: string; db_role: string; command: string; age: number }[]>`
        SELECT operator, db_role, command, extract(epoch FROM clock_timestamp() - at)::int AS age FROM operator_audit_log ORDER BY id OFFSET ${before}`;
      expect(added).toEqual([
        { operator: 'alice', db_role: 'tenant_operator', command: 'read organisations', age: 0 },
        { operator: 'alice', db_role: 'tenant_operator', command: 'update organizations', age: 0 },
      ]);
    } finally {
      await operator.end();
    }
  });

  it('lists dead letters with their reasons and replays one to its original topic without the dlq headers', async () => {
    const kafka = createKafka({ brokers: infra.brokers, clientId: 'cli-test', logger: pino({ level: 'error' }) });
    const producer = kafka.producer();
    await producer.connect();
    const value = userEvent(testTenants.a.id, '0d7c2a52-4b5a-4a2f-9d8f-0b6f6c2f8b11');
    await producer.send({
      topic: infra.dlqTopic,
      messages: [{
        key: 'user-1',
        value,
        headers: { 'x-tenant-id': testTenants.a.id, 'dlq-reason': 'organisation unknown or not active', 'dlq-original-topic': infra.topic, 'dlq-original-partition': '2', 'dlq-original-offset': '17' },
      }],
    });
    await producer.disconnect();

    const listing = await tenant('dlq');
    expect(listing.code).toBe(0);
    expect(listing.stdout).toContain('1 dead letters');
    expect(listing.stdout).toMatch(new RegExp(`0:0 .* ${testTenants.a.id} .* ${infra.topic.replace(/\./g, '\\.')}/2:17 .* organisation unknown or not active`));

    const replay = await tenant('replay', '0:0');
    expect(replay.stdout).toContain(`replayed 0:0 (organisation unknown or not active) to ${infra.topic}`);
    const [replayed] = await readTopic(infra.brokers, infra.topic, 1);
    expect(replayed).toMatchObject({ key: 'user-1', value, headers: { 'x-tenant-id': testTenants.a.id } });
    expect(Object.keys(replayed!.headers).filter((name) => name.startsWith('dlq-'))).toEqual([]);
    expect((await audited()).at(-1)).toEqual({ operator: 'alice', db_role: 'tenant_operator', command: 'replay dead letter', org_id: testTenants.a.id });
  });

  describe('dead letters on topics of their own', () => {
    const kafka = createKafka({ brokers: infra.brokers, clientId: 'cli-test', logger: pino({ level: 'error' }) });
    // `#>> '{}'`: the detail's JSON text, whether it is stored as an object or as a string of JSON.
    const audits = async () =>
      (await admin<{ command: string; org_id: string | null; detail: string }[]>`SELECT command, org_id, detail #>> '{}' AS detail FROM operator_audit_log ORDER BY id`).map(
        (row) => ({ ...row, detail: JSON.parse(row.detail) as Record<string, unknown> }),
      );

    /** An events topic, its dead-letter topic and another topic, removed after the test; the CLI pointed at the first two. */
    async function ownTopics(dlqPartitions = 1) {
      const template = `cli-${randomUUID().slice(0, 8)}-{type}`;
      const topic = eventTopic(template, 'USER');
      const topics = { topic, dlqTopic: deadLetterTopic(topic), otherTopic: eventTopic(template, 'OTHER') };
      await ensureTopics(kafka, [
        { topic, numPartitions: 3 },
        { topic: topics.dlqTopic, numPartitions: dlqPartitions },
        { topic: topics.otherTopic, numPartitions: 1 },
      ]);
      onTestFinished(async () => {
        const admin = kafka.admin();
        await admin.connect();
        await admin.deleteTopics({ topics: Object.values(topics) }).finally(() => admin.disconnect());
      });
      const cli = (...args: string[]) => tenantWith({ ...env, KAFKA_TOPIC_TEMPLATE: template }, ...args);
      return { ...topics, template, cli };
    }

    /** A dead letter as the consumer writes it: a valid event of `orgId` unless `value` says otherwise. */
    function letter(
      eventsTopic: string,
      options: { key?: string; orgId?: string; value?: string; code?: string | null; reason?: string; headers?: Record<string, string>; partition?: number; timestamp?: number } = {},
    ) {
      const orgId = options.orgId ?? testTenants.a.id;
      const code = options.code === undefined ? 'org_inactive' : options.code;
      return {
        key: options.key ?? randomUUID(),
        value: options.value ?? userEvent(orgId),
        ...(options.partition === undefined ? {} : { partition: options.partition }),
        ...(options.timestamp === undefined ? {} : { timestamp: String(options.timestamp) }),
        headers: {
          'x-tenant-id': orgId,
          'event-type': 'USER_UPDATED',
          [DeadLetterHeaders.reason]: options.reason ?? 'organisation unknown or not active at the source',
          ...(code === null ? {} : { [DeadLetterHeaders.code]: code }),
          [DeadLetterHeaders.originalTopic]: eventsTopic,
          [DeadLetterHeaders.originalPartition]: '1',
          [DeadLetterHeaders.originalOffset]: '7',
          ...options.headers,
        },
      };
    }

    // Keys and headers as bytes: librdkafka would cut strings at a NUL.
    const asBytes = ({ key, headers, ...rest }: ReturnType<typeof letter>) => ({
      ...rest,
      key: Buffer.from(key),
      headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Buffer.from(value)])),
    });

    async function send(topic: string, messages: Array<ReturnType<typeof letter> | ReturnType<typeof asBytes>>) {
      const producer = kafka.producer();
      await producer.connect();
      try {
        await producer.send({ topic, messages });
      } finally {
        await producer.disconnect();
      }
    }

    async function messageCount(topic: string): Promise<number> {
      const admin = kafka.admin();
      await admin.connect();
      try {
        return (await admin.fetchTopicOffsets(topic)).reduce((sum, { low, high }) => sum + Number(high) - Number(low), 0);
      } finally {
        await admin.disconnect();
      }
    }

    it('prints what a dead letter says with its control characters escaped, never raw', async () => {
      const { topic, dlqTopic, cli } = await ownTopics();
      const attack = '\u001b[31mRED\u001b[0m\r\u0000\u0007\u009b2J\u2028\u202eevil\u2066';
      await send(dlqTopic, [
        letter(topic, { key: `key-${attack}`, reason: `reason-${attack}`, code: `code-${attack}`, value: 'not json', headers: { 'x-tenant-id': `org-${attack}` } }),
        letter(topic, {
          value: JSON.stringify({ entity: { id: `entity-${attack}` }, tenant_context: { org_id: `org-${attack}` } }),
          headers: { [DeadLetterHeaders.originalTopic]: `topic-${attack}` },
        }),
      ].map(asBytes));

      const listing = await cli('dlq');
      expect(listing.code).toBe(0);
      expect(listing.stdout).not.toMatch(rawControl);
      expect(listing.stderr).not.toMatch(rawControl);
      const shown = '\\x1b[31mRED\\x1b[0m\\r\\x00\\x07\\x9b2J\\u2028\\u202eevil\\u2066';
      for (const field of ['key', 'reason', 'code', 'org', 'entity', 'topic']) expect(listing.stdout).toContain(`${field}-${shown}`);

      // Refusals quote the message too: the letters are not valid events, the second names another topic.
      const before = await messageCount(topic);
      for (const args of [['replay', '0:0'], ['replay', '0:1'], ['replay', '--since', '2000-01-01T00:00:00Z']]) {
        const result = await cli(...args);
        expect({ args, code: result.code }).toEqual({ args, code: 1 });
        expect(result.stdout + result.stderr).not.toMatch(rawControl);
      }
      expect((await cli('replay', '0:1')).stderr).toContain(`it came from topic "topic-\\u001b[31mRED`);
      expect(await messageCount(topic)).toBe(before);
    }, 120_000);

    it('refuses to replay a dead letter whose header names another topic, publishing nothing there or anywhere', async () => {
      const { topic, dlqTopic, otherTopic, cli } = await ownTopics();
      await send(dlqTopic, [letter(topic, { headers: { [DeadLetterHeaders.originalTopic]: otherTopic } })]);
      const before = (await audits()).length;

      const single = await cli('replay', '0:0');
      expect(single.code).toBe(1);
      expect(single.stderr).toContain(`refused to replay 0:0: it came from topic "${otherTopic}", not from ${topic}`);
      const bulk = await cli('replay', '--org', testTenants.a.id);
      expect(bulk.code).toBe(1);
      expect(bulk.stdout).toContain('replayed 0 and refused 1 of 1 matching dead letters');
      expect(bulk.stdout).toContain(`refused 0:0: it came from topic "${otherTopic}"`);

      expect(await messageCount(otherTopic)).toBe(0);
      expect(await messageCount(topic)).toBe(0);
      // The bulk run is on record with its counts; the refused single replay changed nothing.
      expect((await audits()).slice(before)).toEqual([
        { command: 'replay dead letters', org_id: testTenants.a.id, detail: expect.objectContaining({ matched: 1, replayed: 0, refused: 1, positions: [] }) },
      ]);
    }, 120_000);

    it('refuses to replay a message the consumer would reject again', async () => {
      const { topic, dlqTopic, cli } = await ownTopics();
      await send(dlqTopic, [
        letter(topic, { value: 'not json', code: 'not_json' }),
        letter(topic, { value: userEvent(testTenants.a.id), headers: { 'x-tenant-id': testTenants.b.id } }),
        letter(topic, { value: JSON.stringify({ ...JSON.parse(userEvent(testTenants.a.id)), email: 'eve@example.com' }) }),
        letter(topic, { value: '' }),
        letter(topic, { value: JSON.stringify({ ...JSON.parse(userEvent(testTenants.a.id)), entity: { type: 'TEAM', id: randomUUID() } }) }),
      ]);
      const before = (await audits()).length;
      const cases: Array<[string, RegExp]> = [
        ['0:0', /refused to replay 0:0: it is not a valid event \(not_json: /],
        ['0:1', /refused to replay 0:1: it is not a valid event \(tenant_mismatch: /],
        ['0:2', /refused to replay 0:2: it is not a valid event \(invalid_event: /],
        ['0:3', /refused to replay 0:3: it is not a valid event \(not_json: /],
        ['0:4', /refused to replay 0:4: it is not a valid event \(type_mismatch: /],
      ];
      for (const [position, message] of cases) {
        const result = await cli('replay', position);
        expect({ position, code: result.code }).toEqual({ position, code: 1 });
        expect(result.stderr).toMatch(message);
      }
      expect(await messageCount(topic)).toBe(0);
      expect((await audits()).length).toBe(before);
    }, 120_000);

    it('reads and replays the dead letters of another entity type with --type, to that type\'s topic only', async () => {
      const { topic, template, cli } = await ownTopics();
      const teams = eventTopic(template, 'TEAM');
      await ensureTopics(kafka, [
        { topic: teams, numPartitions: 1 },
        { topic: deadLetterTopic(teams), numPartitions: 1 },
      ]);
      onTestFinished(async () => {
        const admin = kafka.admin();
        await admin.connect();
        await admin.deleteTopics({ topics: [teams, deadLetterTopic(teams)] }).finally(() => admin.disconnect());
      });
      const team = randomUUID();
      await send(deadLetterTopic(teams), [letter(teams, { key: team, value: JSON.stringify({ ...JSON.parse(userEvent(testTenants.b.id, team)), entity: { type: 'TEAM', id: team } }), orgId: testTenants.b.id })]);

      const listing = await cli('dlq', '--type', 'team');
      expect(listing.stdout).toContain(`1 dead letters in ${deadLetterTopic(teams)}`);
      expect((await cli('dlq')).stdout).toContain(`0 dead letters in ${deadLetterTopic(topic)}`);
      const replay = await cli('replay', '0:0', '--type', 'team');
      expect(replay.stdout).toContain(`to ${teams}`);
      expect(await messageCount(teams)).toBe(1);
      expect(await messageCount(topic)).toBe(0);
      expect((await cli('dlq', '--type', '../etc')).code).toBe(2);
    }, 120_000);

    it('replays in bulk exactly the dead letters of a reason, of an organisation, or both, each run audited once', async () => {
      const { topic, dlqTopic, otherTopic, cli } = await ownTopics();
      const { a, b } = testTenants;
      await send(dlqTopic, [
        letter(topic, { key: 'a-inactive', orgId: a.id }),
        letter(topic, { key: 'b-inactive', orgId: b.id }),
        letter(topic, { key: 'a-not-found', orgId: a.id, code: 'not_found', reason: 'entity not found at the source' }),
        letter(topic, { key: 'b-write', orgId: b.id, code: 'write_rejected', reason: 'the database refused the row' }),
        letter(topic, { key: 'a-uncoded', orgId: a.id, code: null, reason: 'organisation suspended' }),
        letter(topic, { key: 'b-elsewhere', orgId: b.id, code: 'source_rejected', headers: { [DeadLetterHeaders.originalTopic]: otherTopic } }),
      ]);
      const before = (await audits()).length;

      const byCode = await cli('replay', '--reason', 'org_inactive');
      expect(byCode).toMatchObject({ code: 0, stdout: expect.stringContaining('replayed 2 and refused 0 of 2 matching') });
      const byText = await cli('replay', '--reason', 'organisation suspended');
      expect(byText).toMatchObject({ code: 0, stdout: expect.stringContaining('replayed 1 and refused 0 of 1 matching') });
      const byOrg = await cli('replay', '--org', b.id);
      expect(byOrg).toMatchObject({ code: 1, stdout: expect.stringContaining('replayed 2 and refused 1 of 3 matching') });
      expect(byOrg.stdout).toContain(`refused 0:5: it came from topic "${otherTopic}"`);
      const both = await cli('replay', '--org', a.id, '--reason', 'not_found');
      expect(both).toMatchObject({ code: 0, stdout: expect.stringContaining('replayed 1 and refused 0 of 1 matching') });

      const replayed = await readTopic(infra.brokers, topic, 6);
      expect(replayed.map((message) => message.key).sort()).toEqual(['a-inactive', 'a-not-found', 'a-uncoded', 'b-inactive', 'b-inactive', 'b-write']);
      expect(await messageCount(topic)).toBe(6);
      expect(await messageCount(otherTopic)).toBe(0);
      for (const message of replayed) expect(Object.keys(message.headers).filter((name) => name.startsWith('dlq-'))).toEqual([]);
      expect(replayed.find((message) => message.key === 'b-write')?.headers).toEqual({ 'x-tenant-id': b.id, 'event-type': 'USER_UPDATED' });

      expect((await audits()).slice(before)).toEqual([
        { command: 'replay dead letters', org_id: null, detail: expect.objectContaining({ matched: 2, replayed: 2, refused: 0, positions: ['0:0', '0:1'] }) },
        { command: 'replay dead letters', org_id: null, detail: expect.objectContaining({ matched: 1, replayed: 1, refused: 0, positions: ['0:4'] }) },
        { command: 'replay dead letters', org_id: b.id, detail: expect.objectContaining({ matched: 3, replayed: 2, refused: 1, positions: ['0:1', '0:3'] }) },
        { command: 'replay dead letters', org_id: a.id, detail: expect.objectContaining({ matched: 1, replayed: 1, refused: 0, positions: ['0:2'] }) },
      ]);
    }, 120_000);

    it('replays in bulk the dead letters of a time window, by their Kafka timestamps', async () => {
      const { topic, dlqTopic, cli } = await ownTopics();
      // Within the test broker's retention (a day): older letters could be deleted mid-test.
      const hour = 60 * 60 * 1000;
      const now = Math.floor(Date.now() / hour) * hour;
      await send(dlqTopic, [
        letter(topic, { key: 'three-hours-ago', timestamp: now - 3 * hour + 1000 }),
        letter(topic, { key: 'two-hours-ago', timestamp: now - 2 * hour + 1000 }),
        letter(topic, { key: 'an-hour-ago', timestamp: now - hour + 1000 }),
      ]);
      const iso = (time: number) => new Date(time).toISOString();

      const window = await cli('replay', '--since', iso(now - 2 * hour), '--until', iso(now - hour + 1000));
      expect(window).toMatchObject({ code: 0, stdout: expect.stringContaining('replayed 1 and refused 0 of 1 matching') });
      expect((await readTopic(infra.brokers, topic, 1)).map((message) => message.key)).toEqual(['two-hours-ago']);
      const since = await cli('replay', '--since', iso(now - hour + 1000));
      expect(since).toMatchObject({ code: 0, stdout: expect.stringContaining('replayed 1 and refused 0 of 1 matching') });
      expect(await messageCount(topic)).toBe(2);
    }, 120_000);

    it('replays the one dead letter at a position of a large topic, and lists the last ones only', async () => {
      const { topic, dlqTopic, cli } = await ownTopics(2);
      for (const partition of [0, 1]) {
        await send(dlqTopic, Array.from({ length: 60 }, (_, index) => letter(topic, { key: `p${partition}-${index}`, partition })));
      }

      const replay = await cli('replay', '1:37');
      expect(replay).toMatchObject({ code: 0, stdout: expect.stringContaining(`replayed 1:37 (organisation unknown or not active at the source) to ${topic}`) });
      expect((await readTopic(infra.brokers, topic, 1)).map((message) => message.key)).toEqual(['p1-37']);
      expect(await messageCount(topic)).toBe(1);
      expect((await audited()).at(-1)).toMatchObject({ command: 'replay dead letter', org_id: testTenants.a.id });

      for (const position of ['1:60', '2:0']) {
        const missing = await cli('replay', position);
        expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining(`no dead letter at ${position} in ${dlqTopic}`) });
      }

      const listing = await cli('dlq', '--limit', '5');
      expect(listing.code).toBe(0);
      expect(listing.stdout).toContain(`120 dead letters in ${dlqTopic}; the last 5:`);
      const positions = listing.stdout.split('\n').flatMap((line) => /^(\d+:\d+)\s/.exec(line)?.[1] ?? []);
      expect(positions).toEqual(['1:55', '1:56', '1:57', '1:58', '1:59']);
      expect(await messageCount(topic)).toBe(1);
    }, 120_000);
  });
});
