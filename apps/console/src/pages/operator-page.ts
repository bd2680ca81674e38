import type { OperatorOverview } from '../operator/operator-overview.ts';
import { age, count, utc } from './format.ts';
import { html, type Html } from './html.ts';
import { layout } from './layout.ts';

export interface OperatorView extends OperatorOverview {
  operator: string;
  now: Date;
  /** What the last action did, shown once above everything. */
  notice: string | null;
}

const tile = (label: string, value: string, figure: string, tone: 'ok' | 'warn' | 'bad' | '' = '') =>
  html`<div class="tile ${tone}"><div class="label">${label}</div><div class="value" data-figure="${figure}">${value}</div></div>`;

const problem = (text: string) => html`<p class="problem">${text}</p>`;

const when = (value: Date | string | null) => (value ? utc(value) : '—');

function tenantsTable(view: OperatorView): Html {
  const outbox = new Map(view.outbox.map((row) => [row.org_id, row]));
  const deadLetters = view.deadLetters.ok ? view.deadLetters.value.perTenant : null;
  return html`<section class="panel">
  <h3>Tenants</h3>
  <table>
    <thead><tr><th>organisation</th><th>name</th><th>status</th><th class="num">members</th><th class="num">outbox pending</th><th class="num">oldest pending</th><th class="num">parked</th><th class="num">dead letters</th></tr></thead>
    <tbody>${view.orgs.map((org) => {
      const row = outbox.get(org.id);
      const oldest = row?.oldest_pending_s === null || row?.oldest_pending_s === undefined ? null : Number(row.oldest_pending_s);
      const letters = deadLetters?.get(org.id) ?? 0;
      return html`<tr data-org="${org.id}"><td class="mono org">${org.id}</td><td>${org.name}</td><td><span class="badge ${org.status === 'ACTIVE' ? 'ok' : 'warn'}">${org.status}</span></td><td class="num">${count(Number(org.members))}</td><td class="num">${count(Number(row?.pending ?? 0))}</td><td class="num">${oldest === null ? '—' : age(oldest)}</td><td class="num">${Number(row?.parked ?? 0) > 0 ? html`<span class="badge bad">${count(Number(row?.parked))}</span>` : '0'}</td><td class="num">${deadLetters ? (letters > 0 ? html`<span class="badge bad">${count(letters)}</span>` : '0') : '?'}</td></tr>`;
    })}</tbody>
  </table>
</section>`;
}

function lagTable(view: OperatorView): Html {
  if (!view.lag.ok) return html`<section class="panel"><h3>Consumer lag</h3>${problem(view.lag.problem)}</section>`;
  const topics = [...new Set(view.lag.value.map((row) => row.topic))];
  return html`<section class="panel">
  <h3>Consumer lag per partition</h3>
  <table>
    <thead><tr><th class="num">partition</th><th class="num">committed</th><th class="num">high watermark</th><th class="num">lag</th></tr></thead>
    ${topics.map(
      (topic) => html`<tbody><tr class="group"><th colspan="4" class="mono">${topic}</th></tr>${view.lag.ok
        ? view.lag.value
            .filter((row) => row.topic === topic)
            .map((row) => html`<tr><td class="num">${row.partition}</td><td class="num">${row.committed ?? '—'}</td><td class="num">${row.high}</td><td class="num">${row.lag > 0 ? html`<span class="badge warn">${count(row.lag)}</span>` : '0'}</td></tr>`)
        : ''}</tbody>`,
    )}
  </table>
</section>`;
}

function instancesTable(view: OperatorView): Html {
  const tone = { ready: 'ok', 'not ready': 'warn', unreachable: 'bad' } as const;
  return html`<section class="panel">
  <h3>Instances</h3>
  <table>
    <thead><tr><th>instance</th><th>operations port</th><th>state</th><th>checks</th></tr></thead>
    <tbody>${view.instances.map(
      (instance) => html`<tr><td>${instance.name}</td><td class="mono org">${instance.url}</td><td><span class="badge ${tone[instance.state]}">${instance.state}</span></td><td>${Object.entries(instance.checks).map(([check, state]) => html`<span class="badge ${state === 'ok' ? 'ok' : 'bad'}">${check} ${state}</span> `)}</td></tr>`,
    )}</tbody>
  </table>
</section>`;
}

function parkedTable(view: OperatorView): Html {
  return html`<section class="panel">
  <h3>Parked outbox rows</h3>
  <p class="hint">The relay refused to publish these (no valid tenant); each says why.</p>
  ${view.parked.length === 0
    ? html`<p class="muted">None.</p>`
    : html`<table>
    <thead><tr><th class="num">row</th><th>organisation</th><th>entity</th><th>action</th><th class="num">version</th><th>parked (UTC)</th><th>reason</th></tr></thead>
    <tbody>${view.parked.map(
      (row) => html`<tr><td class="num">${String(row.id)}</td><td class="mono">${row.org_id ?? '—'}</td><td class="mono">${row.aggregate_id}</td><td>${row.action}</td><td class="num">${String(row.version)}</td><td class="nowrap">${when(row.parked_at)}</td><td>${row.park_reason ?? ''}</td></tr>`,
    )}</tbody>
  </table>`}
</section>`;
}

function deadLetterTable(view: OperatorView): Html {
  if (!view.deadLetters.ok) return html`<section class="panel"><h3>Dead letters</h3>${problem(view.deadLetters.problem)}</section>`;
  const { listed, total } = view.deadLetters.value;
  return html`<section class="panel" id="dead-letters">
  <h3>Dead letters <span class="count">${count(total)}</span></h3>
  <p class="hint">Newest first. A replay re-validates the message as the consumer would and publishes it to its entity type's events topic only — never to a topic a header names. Each replay is recorded in the audit log.</p>
  ${listed.length === 0
    ? html`<p class="muted">None.</p>`
    : html`<table>
    <thead><tr><th>when (UTC)</th><th>position</th><th>tenant (header) and entity</th><th>reason</th><th></th></tr></thead>
    <tbody>${listed.map(
      ({ kind, letter, refusal }) => html`<tr><td class="nowrap">${when(letter.at)}</td><td class="mono">${letter.partition}:${letter.offset}<span class="sub">${letter.topic}</span></td><td class="mono">${letter.tenantHeader ?? '—'}<span class="sub">${kind.label} ${letter.entityId ?? '—'}</span></td><td class="reason"><span class="badge bad">${letter.code ?? 'unknown'}</span> ${letter.reason}</td><td>${
        refusal
          ? html`<span class="muted" title="${refusal}">not replayable</span>`
          : html`<form method="post" action="/operator/dead-letters/replay"><input type="hidden" name="topic" value="${letter.topic}"><input type="hidden" name="partition" value="${letter.partition}"><input type="hidden" name="offset" value="${letter.offset}"><button type="submit">Replay</button></form>`
      }</td></tr>`,
    )}</tbody>
  </table>`}
</section>`;
}

function auditTable(view: OperatorView): Html {
  return html`<section class="panel">
  <h3>Audit log, newest first</h3>
  <table>
    <thead><tr><th>when (UTC)</th><th>database login</th><th>command</th><th>organisation</th></tr></thead>
    <tbody>${view.trail.map((row) => html`<tr><td class="nowrap">${when(row.at)}</td><td>${row.operator}</td><td>${row.command}</td><td class="mono">${row.org_id ?? '—'}</td></tr>`)}</tbody>
  </table>
</section>`;
}

/** The operator's view of every tenant: sync state, outbox, lag, instances, dead letters with replay. */
export function operatorPage(view: OperatorView): string {
  const pending = view.outbox.reduce((sum, row) => sum + Number(row.pending), 0);
  const parked = view.outbox.reduce((sum, row) => sum + Number(row.parked), 0);
  const oldest = view.outbox.reduce<number | null>((max, row) => (row.oldest_pending_s === null ? max : Math.max(max ?? 0, Number(row.oldest_pending_s))), null);
  const lag = view.lag.ok ? view.lag.value.reduce((sum, row) => sum + row.lag, 0) : null;
  const published = view.lag.ok ? view.lag.value.reduce((sum, row) => sum + Number(row.high), 0) : null;
  const ready = view.instances.filter((instance) => instance.state === 'ready').length;
  const active = view.orgs.filter((org) => org.status === 'ACTIVE').length;
  const letters = view.deadLetters.ok ? view.deadLetters.value.total : null;
  const who = html`<span>operator <span class="mono">${view.operator}</span></span>`;
  const body = html`<div class="heading">
  <h1>Operations</h1>
  <p class="muted">Every tenant, as the operator's database login and Kafka see them. This view and every action in it are recorded in the audit log. Read <span data-figure="updated">${utc(view.now)}</span> UTC · <a href="/operator">refresh</a></p>
</div>
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
<div class="tiles">
  ${tile('tenants active', `${count(active)} of ${count(view.orgs.length)}`, 'tenants', active === view.orgs.length ? 'ok' : 'warn')}
  ${tile('outbox pending', count(pending), 'outbox-pending', pending > 0 ? 'warn' : 'ok')}
  ${tile('oldest pending', oldest === null ? '—' : age(oldest), 'outbox-oldest', oldest !== null && oldest > 5 ? 'warn' : 'ok')}
  ${tile('parked rows', count(parked), 'parked', parked > 0 ? 'bad' : 'ok')}
  ${tile('events published', published === null ? '?' : count(published), 'published')}
  ${tile('consumer lag', lag === null ? '?' : count(lag), 'lag', lag === null ? 'bad' : lag > 0 ? 'warn' : 'ok')}
  ${tile('dead letters', letters === null ? '?' : count(letters), 'dead-letters', letters === null || letters > 0 ? 'bad' : 'ok')}
  ${tile('instances ready', `${ready} of ${view.instances.length}`, 'instances', ready === view.instances.length ? 'ok' : 'bad')}
</div>
${tenantsTable(view)}
<div class="columns">${lagTable(view)}${instancesTable(view)}</div>
${deadLetterTable(view)}
${parkedTable(view)}
${auditTable(view)}`;
  return layout({ title: 'Operations', who, body });
}
