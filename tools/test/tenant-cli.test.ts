import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createKafka } from '@tenant-sync/kafka';
import { readTopic, testTenants } from '@tenant-sync/testing';

const infra = inject('infra');
const cli = fileURLToPath(new URL('../tenant.ts', import.meta.url));
const env = {
  ...process.env,
  OPERATOR_DATABASE_URL: infra.operatorUrl,
  OPERATOR_NAME: 'alice',
  KAFKA_BROKERS: infra.brokers,
  KAFKA_TOPIC: infra.topic,
  KAFKA_DLQ_TOPIC: infra.dlqTopic,
};

async function tenant(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], { env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

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

  it('lists dead letters with their reasons and replays one to its original topic without the dlq headers', async () => {
    const kafka = createKafka({ brokers: infra.brokers, clientId: 'cli-test', logger: pino({ level: 'error' }) });
    const producer = kafka.producer();
    await producer.connect();
    const value = JSON.stringify({ entity: { type: 'USER', id: '0d7c2a52-4b5a-4a2f-9d8f-0b6f6c2f8b11' }, tenant_context: { org_id: testTenants.a.id } });
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
});
