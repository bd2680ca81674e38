import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import pino from 'pino';
import postgres from 'postgres';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createKafka } from '@tenant-sync/kafka';
import { certsDir, mintToken, testTenants } from '@tenant-sync/testing';
import { ca } from './helpers.ts';
import { startConsoleStack, type ConsoleStack } from './stack.ts';

const infra = inject('infra');
const { a, b, suspended } = testTenants;
const outputDir = path.join(import.meta.dirname, '..', 'test-output', 'console-browser');

/**
 * Chromium on the real stack: a tenant admin signs in and watches the numbers follow a write;
 * a tenant admin of B sees nothing of A anywhere; an operator with a client certificate sees
 * every tenant, the lag and the instances, and replays a dead letter. Screenshots go to
 * test-output/console-browser/ (git-ignored).
 */
describe('the console in a browser', () => {
  const sourceDb = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const kafka = createKafka({ brokers: infra.brokers, clientId: 'console-browser-test', logger: pino({ level: 'error' }) });
  const api = new Agent({ connect: { ca } });
  let stack: ConsoleStack;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  /** A page of its own browser context (its own cookies), optionally presenting the operator's certificate. */
  async function openPage(withOperatorCertificate = false): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      ...(withOperatorCertificate
        ? { clientCertificates: [{ origin: stack.consoleUrl, certPath: path.join(certsDir, 'operator-client.crt'), keyPath: path.join(certsDir, 'operator-client.key') }] }
        : {}),
    });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    return page;
  }

  const screenshot = (page: Page, name: string) => page.screenshot({ path: path.join(outputDir, `${name}.png`), fullPage: true });
  const figure = (page: Page, name: string) => page.locator(`[data-figure="${name}"]`).first().innerText();

  async function createEntity(token: string, kind: 'users' | 'teams', body: object): Promise<{ id: string }> {
    const response = await request(new URL(`/${kind}`, stack.sourceUrl), {
      method: 'POST',
      dispatcher: api,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.body.text();
    expect(response.statusCode, text).toBe(201);
    return JSON.parse(text) as { id: string };
  }

  /** Writes a message straight to an events topic, as anyone who may produce there could. */
  async function publish(topic: string, orgId: string, value: object | string) {
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic, messages: [{ key: randomUUID(), value: typeof value === 'string' ? value : JSON.stringify(value), headers: { 'x-tenant-id': orgId } }] });
    } finally {
      await producer.disconnect();
    }
  }

  const event = (orgId: string, entityId: string) => ({
    event_id: randomUUID(),
    entity: { type: 'USER', id: entityId },
    action: 'UPDATED',
    version: 1,
    timestamp: new Date().toISOString(),
    source_system: 'console-browser-test',
    tenant_context: { org_id: orgId },
  });

  async function signIn(page: Page, orgId: string, subject: string) {
    await page.goto(stack.consoleUrl);
    await expect.poll(() => new URL(page.url()).pathname).toBe('/sign-in');
    await page.fill('textarea[name=token]', await mintToken({ orgId, subject, expiresIn: '30m' }));
    const [answer] = await Promise.all([page.waitForResponse((response) => response.url().endsWith('/sign-in') && response.request().method() === 'POST'), page.click('button[type=submit]')]);
    expect(answer.status(), await answer.text().catch(() => '')).toBe(303);
    await page.waitForURL(`${stack.consoleUrl}/`);
  }

  beforeAll(async () => {
    mkdirSync(outputDir, { recursive: true });
    stack = await startConsoleStack(infra);
    // Chromium trusts the console's own key, pinned by its SPKI hash, and nothing else unverified.
    const spki = createHash('sha256').update(new X509Certificate(readFileSync(path.join(certsDir, 'console.crt'))).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    // Playwright presents client certificates through a proxy in this process, which verifies the console with the default CAs.
    tls.setDefaultCACertificates([...tls.getCACertificates('default'), ca.toString()]);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      timeout: 60_000,
      // Playwright gives every launch a new, empty --user-data-dir of its own.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--ignore-certificate-errors-spki-list=${spki}`,
      ],
    });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await stack?.stop();
    await api.close();
    await sourceDb.end();
  });

  it('shows a tenant admin their numbers, and they follow a write', async () => {
    const page = await signedInPage(a.id, a.admin);
    await screenshot(page, 'tenant-a-signed-in');
    const before = Number(await figure(page, 'users-source'));
    const token = await mintToken({ orgId: a.id, subject: a.admin });
    const user = await createEntity(token, 'users', { name: 'Ada Console', email: `ada-${randomUUID()}@a.test` });
    await createEntity(token, 'teams', { name: `Console team ${randomUUID().slice(0, 6)}` });
    // The page refreshes itself (CONSOLE_REFRESH_MS=1000): no reload.
    await expect.poll(() => figure(page, 'users-source'), { timeout: 30_000 }).toBe(String(before + 1));
    await expect.poll(() => figure(page, 'users-copy'), { timeout: 30_000 }).toBe(String(before + 1));
    await expect.poll(() => figure(page, 'users-lag'), { timeout: 30_000 }).toBe('in sync');
    await expect.poll(() => figure(page, 'teams-source'), { timeout: 30_000 }).toBe('1');
    await expect(page.locator('main').innerText()).resolves.toContain('Ada Console');
    await expect(page.locator('main').innerText()).resolves.toContain(user.id);
    await screenshot(page, 'tenant-a-after-write');
  });

  it("lists the tenant's dead letters with their reasons, and a tenant admin of B sees nothing of A in any view", async () => {
    const entityOfA = randomUUID();
    await publish(stack.topics.user, a.id, { tenant_context: { org_id: a.id }, entity: { id: entityOfA } });
    const pageA = await signedInPage(a.id, a.admin);
    await expect.poll(() => pageA.locator('#dead-letters').innerText(), { timeout: 40_000 }).toContain(entityOfA);
    await expect(pageA.locator('#dead-letters').innerText()).resolves.toContain('invalid_event');
    await screenshot(pageA, 'tenant-a-dead-letters');

    const pageB = await signedInPage(b.id, b.admin);
    await pageB.waitForTimeout(2_500);
    const seenByB: string[] = [await pageB.content()];
    await screenshot(pageB, 'tenant-b');
    for (const pathname of ['/operator', '/operator/dead-letters/replay', '/sign-in', '/no-such-page']) {
      await pageB.goto(`${stack.consoleUrl}${pathname}`);
      seenByB.push(await pageB.content());
    }
    await screenshot(pageB, 'tenant-b-elsewhere');
    const usersOfA = await sourceDb`SELECT id::text, name, email FROM users WHERE org_id = ${a.id}`;
    expect(usersOfA.length).toBeGreaterThan(0);
    for (const html of seenByB) {
      expect(html).not.toContain(a.id);
      expect(html).not.toContain(entityOfA);
      for (const user of usersOfA) {
        expect(html).not.toContain(user.id);
        expect(html).not.toContain(user.email);
      }
      expect(html).not.toContain('Ada Console');
    }
  });

  it('refuses the operator view to a tenant admin', async () => {
    const page = await signedInPage(a.id, a.admin);
    const response = await page.goto(`${stack.consoleUrl}/operator`);
    expect(response?.status()).toBe(401);
    await expect(page.locator('main').innerText()).resolves.toContain('CONSOLE_OPERATOR_UNAUTHORIZED');
    await screenshot(page, 'tenant-a-on-operator-view');
  });

  it('shows the operator every tenant, the lag and the instances, and replays a dead letter, audited', async () => {
    // A valid event of the suspended organisation: the consumer dead-letters it (org_inactive); the rules allow its replay.
    const entity = randomUUID();
    await publish(stack.topics.user, suspended.id, event(suspended.id, entity));
    const page = await openPage(true);
    await page.goto(`${stack.consoleUrl}/operator`);
    expect(await page.locator('h1').innerText()).toBe('Operations');
    const text = await page.locator('main').innerText();
    for (const org of [a.id, b.id, suspended.id]) expect(text).toContain(org);
    expect(await figure(page, 'instances')).toBe('3 of 3');
    const published = Number((await figure(page, 'published')).replaceAll(',', ''));

    await createEntity(await mintToken({ orgId: b.id, subject: b.admin }), 'users', { name: 'Bea Console', email: `bea-${randomUUID()}@b.test` });
    await expect
      .poll(async () => {
        await page.goto(`${stack.consoleUrl}/operator`);
        return Number((await figure(page, 'published')).replaceAll(',', ''));
      }, { timeout: 30_000 })
      .toBeGreaterThan(published);

    const row = page.locator('#dead-letters tr', { hasText: entity });
    await expect
      .poll(async () => {
        await page.goto(`${stack.consoleUrl}/operator`);
        return row.count();
      }, { timeout: 40_000 })
      .toBe(1);
    await expect(row.innerText()).resolves.toContain('org_inactive');
    const lettersBefore = Number(await figure(page, 'dead-letters'));
    await screenshot(page, 'operator');

    const [replayed] = await Promise.all([page.waitForResponse((response) => response.url().endsWith('/replay')), row.locator('button', { hasText: 'Replay' }).click()]);
    expect(replayed.status(), await replayed.text().catch(() => '')).toBe(303);
    await page.waitForURL(/\/operator\?replayed=/);
    await expect(page.locator('.notice').innerText()).resolves.toContain('Replayed');
    const [entry] = await sourceDb`SELECT command, org_id::text, detail FROM operator_audit_log WHERE command = 'replay dead letter' ORDER BY id DESC LIMIT 1`;
    expect(entry).toMatchObject({ org_id: suspended.id, detail: { via: 'console', operator: 'spiffe://tenant-sync.local/operator', entity } });
    // Replayed to the events topic, the organisation still suspended: the consumer dead-letters it again.
    await expect
      .poll(async () => {
        await page.goto(`${stack.consoleUrl}/operator`);
        return Number(await figure(page, 'dead-letters'));
      }, { timeout: 40_000 })
      .toBe(lettersBefore + 1);
    await screenshot(page, 'operator-after-replay');
  });

  it("records how long the console's pages took to render, from its own metrics", async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${stack.apps.console.opsPort}/metrics`)).text();
    const figure = (name: string, route: string) =>
      Number(new RegExp(`^http_request_duration_seconds_${name}\\{[^}]*method="GET",route="${route.replaceAll('/', '\\/')}",status="200"[^}]*\\} ([0-9.e+-]+)$`, 'm').exec(metrics)?.[1] ?? 0);
    const pages = Object.fromEntries(
      ['/', '/operator'].map((route) => [route, { requests: figure('count', route), meanMs: Math.round((figure('sum', route) / figure('count', route)) * 1_000) }]),
    );
    writeFileSync(path.join(outputDir, 'page-times.json'), `${JSON.stringify(pages, null, 2)}\n`);
    console.log('console page times', pages);
    expect(pages['/']?.requests).toBeGreaterThan(0);
    expect(pages['/operator']?.requests).toBeGreaterThan(0);
  });

  /** A new browser context signed in as `subject` of `orgId`. */
  async function signedInPage(orgId: string, subject: string): Promise<Page> {
    const page = await openPage();
    await signIn(page, orgId, subject);
    return page;
  }
});
