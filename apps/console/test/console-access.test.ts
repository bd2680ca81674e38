import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { mintToken, testTenants } from '@tenant-sync/testing';
import { consoleClient, consumerCertificate, forgedOperatorCertificate, forgedToken, messagesIn, operatorCertificate } from './helpers.ts';
import { startConsoleStack, type ConsoleStack } from './stack.ts';

const infra = inject('infra');
const { a, b, suspended } = testTenants;

/**
 * Who may open what, attacked over real TLS against the real console process: no credential, a
 * forged one, a tenant's where an operator's is needed, and forms from another site. Each is
 * refused, and afterwards nothing has changed: no audit entry, no message in any topic.
 */
describe('console access', () => {
  const sourceDb = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  let stack: ConsoleStack;
  let origin: string;
  const clients: Array<ReturnType<typeof consoleClient>> = [];
  const client = (identity?: { cert: Buffer; key: Buffer }) => {
    const made = consoleClient(stack.consoleUrl, identity);
    clients.push(made);
    return made;
  };
  const allTopics = () => Object.values(stack.topics);
  const state = async () => ({
    audit: (await sourceDb`SELECT count(*)::int AS n FROM operator_audit_log`)[0]?.n as number,
    tenancy: await sourceDb`SELECT o.id, o.status, m.subject, m.role, m.status AS member FROM organizations o LEFT JOIN memberships m ON m.org_id = o.id ORDER BY 1, 3`,
    messages: await messagesIn(infra.brokers, allTopics()),
  });

  beforeAll(async () => {
    stack = await startConsoleStack(infra);
    origin = stack.consoleUrl;
  });

  afterAll(async () => {
    await Promise.all(clients.map((made) => made.close()));
    await stack?.stop();
    await sourceDb.end();
  });

  it('refuses every credential that is missing, forged or of the wrong kind, and changes nothing', async () => {
    const before = await state();
    const anonymous = client();
    const adminA = await mintToken({ orgId: a.id, subject: a.admin });

    // The tenant view: no token is sent to sign in; a forged, a member's or a suspended org's token is refused.
    const none = await anonymous.get('/');
    expect(none.status).toBe(303);
    expect(none.headers.location).toBe('/sign-in');
    const forged = await anonymous.get('/', { authorization: `Bearer ${await forgedToken(a.id, a.admin)}`, accept: 'application/json' });
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.body)).toMatchObject({ statusCode: 401, code: 'AUTH_UNAUTHORIZED' });
    const forgedCookie = await anonymous.get('/', { cookie: `__Host-console-token=${await forgedToken(a.id, a.admin)}` });
    expect(forgedCookie.status).toBe(401);
    expect(forgedCookie.headers['content-type']).toMatch(/text\/html/);
    expect(String(forgedCookie.headers['set-cookie'])).toContain('Max-Age=0');
    const member = await anonymous.get('/', { authorization: `Bearer ${await mintToken({ orgId: a.id, subject: a.member, role: 'member' })}`, accept: 'application/json' });
    expect(member.status).toBe(403);
    const inactive = await anonymous.get('/', { authorization: `Bearer ${await mintToken({ orgId: suspended.id, subject: suspended.admin })}`, accept: 'application/json' });
    expect(inactive.status).toBe(401);
    const otherTenantsHeader = await anonymous.get('/', { authorization: `Bearer ${adminA}`, 'x-tenant-id': b.id, accept: 'application/json' });
    expect(otherTenantsHeader.status).toBe(401);

    // Signing in checks the token at once; a forged one gets no cookie.
    const signIn = await anonymous.post('/sign-in', { token: await forgedToken(a.id, a.admin) }, { origin });
    expect(signIn.status).toBe(401);
    expect(signIn.headers['set-cookie']).toBeUndefined();

    // The operator view: a tenant admin's valid token, as a header or as the session cookie, opens nothing.
    for (const headers of [{ authorization: `Bearer ${adminA}` }, { cookie: `__Host-console-token=${adminA}` }] as Array<Record<string, string>>) {
      const page = await anonymous.get('/operator', { ...headers, accept: 'application/json' });
      expect(page.status).toBe(401);
      expect(JSON.parse(page.body)).toMatchObject({ code: 'CONSOLE_OPERATOR_UNAUTHORIZED' });
      const replay = await anonymous.post('/operator/dead-letters/replay', { topic: stack.topics.userDlq, partition: '0', offset: '0' }, { ...headers, origin });
      expect(replay.status).toBe(401);
    }
    // Neither does a certificate of the right CA for another service, nor one with the operator's name from another CA.
    for (const identity of [consumerCertificate(), forgedOperatorCertificate()]) {
      const page = await client(identity).get('/operator', { accept: 'application/json' });
      expect(page.status).toBe(401);
      expect(JSON.parse(page.body)).toMatchObject({ code: 'CONSOLE_OPERATOR_UNAUTHORIZED' });
    }
    // The operator's own certificate, on a form another site made (or a request with no origin), is refused before anything runs.
    const operator = client(operatorCertificate());
    const form = { topic: stack.topics.userDlq, partition: '0', offset: '0' };
    for (const headers of [{ origin: 'https://evil.example' }, {}, { origin, 'sec-fetch-site': 'cross-site' }] as Array<Record<string, string>>) {
      const replay = await operator.post('/operator/dead-letters/replay', form, headers);
      expect(replay.status).toBe(403);
      expect(JSON.parse(replay.body)).toMatchObject({ code: 'CONSOLE_CROSS_SITE' });
    }
    // A topic that is not a dead-letter topic of the system is no replay source, whoever asks.
    const elsewhere = await operator.post('/operator/dead-letters/replay', { ...form, topic: stack.topics.user }, { origin });
    expect(elsewhere.status).toBe(400);
    expect(JSON.parse(elsewhere.body)).toMatchObject({ code: 'CONSOLE_UNKNOWN_TOPIC' });

    expect(await state()).toEqual(before);
  });

  it('opens the operator view for the operator certificate and records the read under the operator login', async () => {
    const page = await client(operatorCertificate()).get('/operator');
    expect(page.status).toBe(200);
    expect(page.body).toContain('Operations');
    expect(page.body).toContain(a.id);
    const [entry] = await sourceDb`SELECT operator, db_role, command, detail FROM operator_audit_log ORDER BY id DESC LIMIT 1`;
    expect(entry).toMatchObject({ db_role: 'tenant_operator', command: 'read console overview', detail: { via: 'console', operator: 'spiffe://tenant-sync.local/operator' } });
  });

  it('answers a malformed request with a 4xx, never a 500', async () => {
    const operator = client(operatorCertificate());
    const anonymous = client();
    const adminA = await mintToken({ orgId: a.id, subject: a.admin });
    const answers = await Promise.all([
      operator.post('/operator/dead-letters/replay', { topic: stack.topics.userDlq, partition: 'x', offset: '0' }, { origin }),
      operator.post('/operator/dead-letters/replay', { topic: stack.topics.userDlq, partition: '0', offset: '99999999' }, { origin }),
      operator.post('/operator/dead-letters/replay', { topic: stack.topics.userDlq, partition: '0', offset: '0', extra: '1' }, { origin }),
      operator.get('/operator?replayed=<script>'),
      anonymous.post('/sign-in', { token: 'x'.repeat(20_000) }, { origin }),
      anonymous.post('/sign-in', { token: 'a.b.c' }, { origin }),
      anonymous.get('/', { cookie: '__Host-console-token=%%%' }),
      anonymous.get('/', { authorization: `Bearer ${adminA}`, 'x-tenant-id': 'not-a-uuid', accept: 'application/json' }),
    ]);
    for (const answer of answers) expect(answer.status, answer.body).toBeGreaterThanOrEqual(300);
    for (const answer of answers) expect(answer.status, answer.body).toBeLessThan(500);
  });
});
