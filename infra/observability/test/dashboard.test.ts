import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricNames } from './metric-names.ts';

interface Target {
  refId: string;
  expr: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: unknown;
  definition?: string;
  includeAll?: boolean;
  multi?: boolean;
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  editable: boolean;
  graphTooltip: number;
  time: { from: string; to: string };
  panels: Panel[];
  templating: { list: Variable[] };
}

const observabilityDir = path.resolve(import.meta.dirname, '..');
const dashboard = JSON.parse(readFileSync(path.join(observabilityDir, 'grafana', 'tenant-sync.json'), 'utf8')) as Dashboard;
const rules = readFileSync(path.join(observabilityDir, 'prometheus', 'alerts.yml'), 'utf8');
const dataPanels = dashboard.panels.filter((panel) => panel.type !== 'row');
const expressions = dataPanels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr);


describe('the Grafana dashboard', () => {
  it('is a dashboard of the JSON model Grafana imports: identity, schema version, time range, variables', () => {
    expect(dashboard).toMatchObject({ uid: 'tenant-sync', title: 'tenant-sync', editable: true, time: { from: 'now-6h', to: 'now' } });
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect([0, 1, 2]).toContain(dashboard.graphTooltip);
    expect(dashboard.templating.list.map((variable) => [variable.name, variable.type])).toEqual([
      ['datasource', 'datasource'],
      ['tenant', 'query'],
    ]);
    expect(dashboard.templating.list[0]?.query).toBe('prometheus');
    expect(dashboard.templating.list[1]).toMatchObject({ includeAll: true, multi: true });
  });

  it('lays its panels on the 24-column grid without overlap, each with a unique id and a title', () => {
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos;
      expect(panel.title.length, `panel ${panel.id}`).toBeGreaterThan(0);
      expect(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, panel.title).toBe(true);
      for (let column = x; column < x + w; column += 1) {
        for (let row = y; row < y + h; row += 1) {
          expect(cells.has(`${column},${row}`), `${panel.title} overlaps at ${column},${row}`).toBe(false);
          cells.add(`${column},${row}`);
        }
      }
    }
    // Rows hold their panels below them (not collapsed), so they carry none themselves.
    for (const row of dashboard.panels.filter((panel) => panel.type === 'row')) expect(row.panels).toEqual([]);
  });

  it('queries the data source of its variable from every panel, with distinct refIds', () => {
    expect(dataPanels.length).toBeGreaterThanOrEqual(15);
    for (const panel of dataPanels) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      const refIds = (panel.targets ?? []).map((target) => target.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      for (const target of panel.targets ?? []) {
        expect(target.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(target.expr.trim().length, panel.title).toBeGreaterThan(0);
      }
    }
  });

  it('filters the per-tenant metrics by the tenant variable, and its values come from those metrics', () => {
    const perTenant = ['relay_tenant_pending_depth', 'relay_tenant_oldest_pending_age_seconds', 'consumer_tenant_queued_references'];
    for (const metric of perTenant) {
      const uses = expressions.filter((expr) => metricNames(expr).includes(metric));
      expect(uses.length, metric).toBeGreaterThan(0);
      for (const expr of uses) expect(expr).toContain(`${metric}{tenant=~"$tenant"}`);
    }
    const tenant = dashboard.templating.list.find((variable) => variable.name === 'tenant');
    expect(tenant?.definition).toBe(`label_values({__name__=~"${perTenant.join('|')}"}, tenant)`);
  });

  it('has a panel for every metric an alert reads, and names the alert in its description', () => {
    const alertMetrics = new Set(
      [...rules.matchAll(/^\s+expr: (?:>-\n)?([\s\S]*?)\n\s+(?:for|labels):/gm)].flatMap((match) => metricNames(match[1] as string)),
    );
    expect([...alertMetrics].sort()).toEqual(
      [
        'consumer_dead_lettered_total',
        'consumer_lag',
        'consumer_processed_total',
        'consumer_source_auth_alerts_total',
        'readiness_check_up',
        'relay_oldest_pending_age_seconds',
        'relay_parked_rows',
        'relay_published_total',
        'tls_certificate_expiry_timestamp_seconds',
        'up',
      ].sort(),
    );
    for (const metric of alertMetrics) expect(expressions.some((expr) => metricNames(expr).includes(metric)), metric).toBe(true);
    const alertNames = [...rules.matchAll(/- alert: (\S+)/g)].map((match) => match[1] as string);
    const descriptions = dataPanels.map((panel) => panel.description ?? '').join('\n');
    for (const alert of alertNames) expect(descriptions, alert).toContain(alert);
  });
});
