import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TenantSyncClient } from '@tenant-sync/client';
import { eventTopic } from '@tenant-sync/contracts';
import { createKafka } from '@tenant-sync/kafka';
import { freePort, waitFor } from '@tenant-sync/local-infra';
import { certsDir, eventually, mintToken, readTopic, startSystem, testTenants, type RunningSystem } from '@tenant-sync/testing';
import { metricNames } from './metric-names.ts';

const infra = inject('infra');
const observabilityDir = path.resolve(import.meta.dirname, '..');
const prometheusDir = path.join(observabilityDir, 'prometheus');
const dashboard = JSON.parse(readFileSync(path.join(observabilityDir, 'grafana', 'tenant-sync.json'), 'utf8')) as Dashboard;

/**
 * The series each alert reads. Every alert Prometheus loads must be listed here, and each name
 * must appear in the alert's expression: a renamed metric or a new alert cannot slip past.
 */
const seriesOfAlert: Record<string, string[]> = {
  TenantSyncTargetDown: ['up'],
  TenantSyncNotReady: ['readiness_check_up'],
  TenantSyncOutboxBehind: ['relay_oldest_pending_age_seconds'],
  TenantSyncOutboxStalled: ['relay_oldest_pending_age_seconds'],
  TenantSyncOutboxParkedRows: ['relay_parked_rows'],
  TenantSyncConsumerLag: ['consumer_lag'],
  TenantSyncConsumerStalled: ['relay_published_total', 'consumer_processed_total'],
  TenantSyncDeadLetters: ['consumer_dead_lettered_total'],
  TenantSyncSourceRefusesConsumer: ['consumer_source_auth_alerts_total'],
  TenantSyncCertificateExpiresSoon: ['tls_certificate_expiry_timestamp_seconds'],
  TenantSyncCertificateExpiring: ['tls_certificate_expiry_timestamp_seconds'],
};


interface Dashboard {
  panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
  templating: { list: Array<{ name: string; type: string; definition?: string }> };
}

interface PromResponse<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
}
interface Target {
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}
interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}
interface Rule {
  name: string;
  query: string;
  health: string;
  lastError?: string;
  type: string;
}

/**
 * A new broker serves consumer groups once `__consumer_offsets` exists and is loaded; before
 * that the consumer's start-up check (brokersAnswer's `admin.describeGroups`) can die of a
 * segmentation fault in @confluentinc/kafka-javascript (confluentinc/confluent-kafka-javascript#531).
 * This run's broker is new: a reader joins a group, then the same check runs in child processes
 * until one passes.
 */
async function groupCoordinatorReady(brokers: string, anyTopic: string): Promise<void> {
  await readTopic(brokers, anyTopic, 1, 3_000);
  const check = `import { brokersAnswer } from '@tenant-sync/kafka'; await brokersAnswer(${JSON.stringify(brokers)}, { group: 'observability-start' })();`;
  const passes = () =>
    new Promise<boolean>((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', check], { cwd: import.meta.dirname, stdio: 'ignore', timeout: 30_000 });
      child.once('exit', (code) => resolve(code === 0));
    });
  await waitFor('the group coordinator of a new broker', passes, 120_000, 1_000);
}

/** The committed scrape configuration, pointed at this run's ports and evaluated every second. */
function scrapeConfigFor(ports: Record<string, number>): string {
  let config = readFileSync(path.join(prometheusDir, 'prometheus.yml'), 'utf8');
  const replaceOnce = (from: string, to: string) => {
    const count = config.split(from).length - 1;
    if (count !== 1) throw new Error(`prometheus.yml has ${count} occurrences of ${from}, expected 1`);
    config = config.replace(from, to);
  };
  replaceOnce('scrape_interval: 15s', 'scrape_interval: 1s');
  replaceOnce('scrape_timeout: 10s', 'scrape_timeout: 1s');
  replaceOnce('evaluation_interval: 15s', 'evaluation_interval: 1s');
  const defaults: Record<string, number> = { source: 9101, relay: 9102, consumer: 9103, console: 9104 };
  for (const [job, port] of Object.entries(ports)) replaceOnce(`'127.0.0.1:${defaults[job]}'`, `'127.0.0.1:${port}'`);
  return config;
}

/**
 * The committed scrape configuration and alert rules in a real Prometheus, scraping the three
 * real apps of a running system; the console is not part of that system, so its port answers
 * nothing. Checked through Prometheus's HTTP API.
 */
describe('Prometheus with the committed configuration, scraping the running apps', () => {
  let system: RunningSystem | undefined;
  let prometheus: ChildProcess | undefined;
  let prometheusLog = '';
  let apiBase = '';
  let client: TenantSyncClient | undefined;
  const scratch = mkdtempSync(path.join(tmpdir(), 'prometheus-'));
  const killPrometheus = () => prometheus?.kill('SIGKILL');

  async function api<T>(route: string): Promise<T> {
    const response = await fetch(`${apiBase}${route}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as PromResponse<T>;
    if (body.status !== 'success') throw new Error(`${route}: ${body.error ?? response.status}`);
    return body.data;
  }
  const query = (promql: string) => api<{ resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(promql)}`);
  const series = (selector: string) => api<Array<Record<string, string>>>(`/api/v1/series?match[]=${encodeURIComponent(selector)}`);

  beforeAll(async () => {
    await groupCoordinatorReady(infra.brokers, infra.topic);
    system = await startSystem(infra);
    const [webPort, consolePort] = await Promise.all([freePort(), freePort()]);
    const ports = { source: system.source.opsPort, relay: system.relay.opsPort, consumer: system.consumer.opsPort, console: consolePort };
    writeFileSync(path.join(scratch, 'prometheus.yml'), scrapeConfigFor(ports));
    copyFileSync(path.join(prometheusDir, 'alerts.yml'), path.join(scratch, 'alerts.yml'));

    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${path.join(scratch, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(scratch, 'data')}`,
        `--web.listen-address=127.0.0.1:${webPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout?.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    prometheus.stderr?.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    process.once('exit', killPrometheus);
    apiBase = `http://127.0.0.1:${webPort}`;
    await waitFor(
      'Prometheus to be ready',
      async () => {
        if (prometheus?.exitCode !== null) throw new Error(`prometheus exited with ${prometheus?.exitCode}:\n${prometheusLog}`);
        return (await fetch(`${apiBase}/-/ready`).catch(() => null))?.status === 200;
      },
      30_000,
    );

    // One change through the system (every counter and consumer_lag get a sample) and one
    // message the consumer must dead-letter.
    client = new TenantSyncClient({
      baseUrl: `https://localhost:${system.ports.public}`,
      cacheUrl: `https://localhost:${system.ports.cache}`,
      ca: readFileSync(path.join(certsDir, 'ca.crt')),
      token: await mintToken({ orgId: testTenants.a.id, subject: testTenants.a.admin }),
    });
    const user = await client.createUser(testTenants.a.id, { name: 'Metric Person', email: `metric-${randomUUID()}@a.test` });
    await eventually(async () => expect((await client!.listCachedUsers(testTenants.a.id)).items.map(({ id }) => id)).toContain(user.id), 30_000, 250);
    const producer = createKafka({ brokers: infra.brokers, clientId: 'observability-test', logger: pino({ level: 'error' }) }).producer();
    await producer.connect();
    try {
      await producer.send({ topic: eventTopic(system.topicTemplate, 'USER'), messages: [{ key: randomUUID(), value: 'this is not an event', headers: { 'x-tenant-id': testTenants.a.id } }] });
    } finally {
      await producer.disconnect();
    }
  }, 180_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus?.once('exit', resolve));
      prometheus.kill('SIGTERM');
      const timer = setTimeout(killPrometheus, 10_000);
      await exited;
      clearTimeout(timer);
    }
    process.off('exit', killPrometheus);
    await client?.close();
    await system?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }, 60_000);

  it('scrapes the three apps, each under its own job; the console job, not running here, is down', async () => {
    const targets = await eventually(async () => {
      const { activeTargets } = await api<{ activeTargets: Target[] }>('/api/v1/targets');
      const byJob = Object.fromEntries(activeTargets.map((target) => [target.labels.job, target]));
      for (const job of ['source', 'relay', 'consumer']) expect(byJob[job]?.health, `${job}: ${byJob[job]?.lastError}`).toBe('up');
      expect(byJob.console?.health).toBe('down');
      return activeTargets;
    }, 20_000, 250);
    expect(targets.map((target) => target.labels.job).sort()).toEqual(['console', 'consumer', 'relay', 'source']);
    const up = await query('up');
    expect(Object.fromEntries(up.result.map(({ metric, value }) => [metric.job, value[1]]))).toEqual({ source: '1', relay: '1', consumer: '1', console: '0' });
  });

  it('loads every alert, evaluates each without error, and knows which series each reads', async () => {
    const rules = await eventually(async () => {
      const { groups } = await api<{ groups: Array<{ rules: Rule[] }> }>('/api/v1/rules');
      const all = groups.flatMap((group) => group.rules);
      for (const rule of all) expect(rule.health, `${rule.name}: ${rule.lastError}`).toBe('ok');
      return all;
    }, 20_000, 250);
    expect(rules.every((rule) => rule.type === 'alerting')).toBe(true);
    expect(rules.map((rule) => rule.name).sort()).toEqual(Object.keys(seriesOfAlert).sort());
    for (const rule of rules) for (const name of seriesOfAlert[rule.name] ?? []) expect(rule.query, rule.name).toMatch(new RegExp(`\\b${name}\\b`));
  });

  it('has a series, from the app that owns it, for every metric the alerts read', async () => {
    const names = [...new Set(Object.values(seriesOfAlert).flat())];
    await eventually(async () => {
      const absent: string[] = [];
      for (const name of names) {
        const found = await series(name);
        if (found.length === 0) absent.push(name);
        const owner = name.split('_')[0];
        if (owner === 'relay' || owner === 'consumer') for (const labels of found) expect(labels.job, name).toBe(owner);
      }
      expect(absent).toEqual([]);
    }, 30_000, 500);
    // consumer_lag names the topic and partition the change went through, and it has caught up.
    const lag = await query('consumer_lag');
    expect(lag.result.length).toBeGreaterThan(0);
    for (const { metric, value } of lag.result) {
      expect(metric.topic).toBe(eventTopic(system!.topicTemplate, 'USER'));
      expect(metric.partition).toMatch(/^\d+$/);
      expect(Number(value[1])).toBeLessThan(1000);
    }
  });

  it('fires the dead-letter alert for the message the consumer refused, and no alert of a healthy system', async () => {
    const alerts = await eventually(async () => {
      const { alerts: active } = await api<{ alerts: Alert[] }>('/api/v1/alerts');
      expect(active.find((alert) => alert.labels.alertname === 'TenantSyncDeadLetters')).toMatchObject({ state: 'firing', labels: { reason: 'not_json' } });
      expect(active.find((alert) => alert.labels.alertname === 'TenantSyncTargetDown')).toMatchObject({ labels: { job: 'console' } });
      return active;
    }, 30_000, 500);
    // The console's port answers nothing: its target-down alert is pending (it fires after 2
    // minutes). Nothing else is wrong with this system.
    expect(alerts.map((alert) => `${alert.labels.alertname} ${alert.labels.job ?? alert.labels.reason}`).sort()).toEqual([
      'TenantSyncDeadLetters not_json',
      'TenantSyncTargetDown console',
    ]);
  });

  it('answers every query of the Grafana dashboard, which reads only metrics the apps export', async () => {
    const metadata = await api<Record<string, unknown>>('/api/v1/metadata');
    const exported = new Set([...Object.keys(metadata), 'up']);
    const expressions = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));
    expect(expressions.length).toBeGreaterThanOrEqual(20);
    for (const { panel, expr } of expressions) {
      // Grafana's variables, as Grafana substitutes them.
      const promql = expr.replaceAll('$__rate_interval', '1m').replaceAll('$tenant', '.*');
      await expect(query(promql), `${panel}: ${expr}`).resolves.toMatchObject({ resultType: 'vector' });
      const metrics = metricNames(expr);
      expect(metrics.length, panel).toBeGreaterThan(0);
      for (const name of metrics) expect(exported, `${panel}: ${name}`).toContain(name);
    }
    const tenant = dashboard.templating.list.find((variable) => variable.name === 'tenant');
    const selector = /^label_values\((.+), tenant\)$/.exec(tenant?.definition ?? '')?.[1];
    expect(selector).toBeDefined();
    await expect(series(selector as string)).resolves.toBeInstanceOf(Array);
  });
});
