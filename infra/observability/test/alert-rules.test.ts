import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const prometheusDir = path.resolve(import.meta.dirname, '../prometheus');
const rulesFile = path.join(prometheusDir, 'alerts.yml');
const rulesTestFile = path.join(prometheusDir, 'alerts.test.yml');
const operationsDoc = path.resolve(import.meta.dirname, '../../../docs/operations.md');

/** promtool's exit code and output; a non-zero exit is a result here, not an exception. */
async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

const alertNames = [...readFileSync(rulesFile, 'utf8').matchAll(/^\s+- alert: (\S+)$/gm)].map((match) => match[1] as string);

/** alerts.yml with the expression of `alert` replaced by one that never returns anything. */
function withSilencedAlert(alert: string): string {
  const lines = readFileSync(rulesFile, 'utf8').split('\n');
  const start = lines.indexOf(`      - alert: ${alert}`);
  const exprAt = lines.findIndex((line, index) => index > start && line.startsWith('        expr:'));
  // A folded expression (`expr: >-`) continues on the lines indented deeper than `expr:`.
  let end = exprAt + 1;
  while (/^ {10}\S/.test(lines[end] ?? '')) end += 1;
  lines.splice(exprAt, end - exprAt, '        expr: vector(1) == 0');
  return lines.join('\n');
}

describe('the alert rules', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'alert-rules-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('are valid rules, and the scrape configuration that loads them is a valid configuration', async () => {
    const rules = await promtool('check', 'rules', rulesFile);
    expect(rules.output).toContain(`SUCCESS: ${alertNames.length} rules found`);
    expect(rules.code).toBe(0);
    const config = await promtool('check', 'config', path.join(prometheusDir, 'prometheus.yml'));
    expect(config.output).toContain('is valid prometheus config file syntax');
    expect(config.code).toBe(0);
  });

  it('pass their unit tests: each alert fires on the series it is for and stays silent on the others', async () => {
    const result = await promtool('test', 'rules', rulesTestFile);
    expect(result.output).toContain('SUCCESS');
    expect(result.code).toBe(0);
  });

  it('each have a unit test that expects them silent at some point', () => {
    const tests = readFileSync(rulesTestFile, 'utf8');
    expect(alertNames.length).toBeGreaterThanOrEqual(11);
    for (const alert of alertNames) {
      expect(tests, alert).toMatch(new RegExp(`alertname: ${alert}\\n\\s+exp_alerts: \\[\\]`));
    }
  });

  it.each(alertNames)('%s has a unit test that fails when the alert never fires', async (alert) => {
    const dir = mkdtempSync(path.join(scratch, `${alert}-`));
    writeFileSync(path.join(dir, 'alerts.yml'), withSilencedAlert(alert));
    copyFileSync(rulesTestFile, path.join(dir, 'alerts.test.yml'));
    const silenced = await promtool('check', 'rules', path.join(dir, 'alerts.yml'));
    expect(silenced.code, silenced.output).toBe(0);
    const result = await promtool('test', 'rules', path.join(dir, 'alerts.test.yml'));
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`alertname: ${alert},`);
  });

  it('each point at a section of docs/operations.md that says what to do', () => {
    const doc = readFileSync(operationsDoc, 'utf8');
    const anchors = new Set([...doc.matchAll(/^#{2,4} (.+)$/gm)].map((match) => (match[1] as string).trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
    const runbooks = [...readFileSync(rulesFile, 'utf8').matchAll(/runbook: docs\/operations\.md#(\S+)$/gm)].map((match) => match[1] as string);
    expect(runbooks).toHaveLength(alertNames.length);
    for (const anchor of runbooks) expect(anchors, anchor).toContain(anchor);
    for (const alert of alertNames) expect(doc, alert).toContain(alert);
  });
});
