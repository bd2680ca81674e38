import type { DeadLetter } from '@tenant-sync/operator';
import type { EntityKind } from '../entity-types.ts';
import type { CopyComparison, RowState } from '../tenant/compare-copies.ts';
import type { EntityListing } from '../tenant/tenant-apis.ts';
import { age, ago, count, utc } from './format.ts';
import { html, type Html } from './html.ts';
import { layout } from './layout.ts';

export interface EntityOverview {
  kind: EntityKind;
  source: EntityListing;
  copy: EntityListing;
  comparison: CopyComparison | null;
}

export interface TenantView {
  orgId: string;
  subject: string;
  now: Date;
  entities: EntityOverview[];
  /** The tenant's dead letters read, newest first, with their entity type. */
  deadLetters: Array<{ kind: EntityKind; letter: DeadLetter }>;
  /** How many of the tenant's dead letters were read in all (more than are listed, at times). */
  deadLetterCount: number;
  /** Whether the dead letters could be read (Kafka answered). */
  deadLettersProblem: string | null;
  refreshMs: number;
}

const stateClass: Record<RowState, string> = { 'in sync': 'ok', behind: 'warn', 'not copied yet': 'warn', 'deletion pending': 'warn' };

const listed = (listing: EntityListing) =>
  listing.available ? html`<strong>${count(listing.items.length, !listing.complete)}</strong>` : html`<span class="muted" title="${listing.problem}">not available</span>`;

function lag(comparison: CopyComparison | null): Html {
  if (!comparison) return html`<span class="muted">unknown</span>`;
  if (comparison.pending === 0) return html`<span class="badge ok">in sync</span>`;
  const oldest = comparison.oldestPendingSeconds === null ? '' : `, oldest ${age(comparison.oldestPendingSeconds)}`;
  return html`<span class="badge warn">${count(comparison.pending)} behind${oldest}</span>`;
}

function newest(comparison: CopyComparison | null, now: Date): Html {
  const item = comparison?.newestSynced;
  if (!item) return html`<span class="muted">none yet</span>`;
  return html`<span>v${item.version} of <em>${item.name}</em></span><br><span class="muted" title="${item.updatedAt}">changed ${utc(item.updatedAt)} UTC · ${ago(item.updatedAt, now)}</span>`;
}

function entityCard({ kind, source, copy, comparison }: EntityOverview, now: Date): Html {
  return html`<section class="card" data-entity="${kind.type}">
  <h2>${kind.label}</h2>
  <dl class="figures">
    <div><dt>at the source</dt><dd data-figure="${kind.label}-source">${listed(source)}</dd></div>
    <div><dt>in the consumer's copy</dt><dd data-figure="${kind.label}-copy">${listed(copy)}</dd></div>
    <div><dt>lag</dt><dd data-figure="${kind.label}-lag">${lag(comparison)}</dd></div>
    <div><dt>newest synced</dt><dd data-figure="${kind.label}-newest">${newest(comparison, now)}</dd></div>
  </dl>
</section>`;
}

function recentTable({ kind, comparison }: EntityOverview): Html {
  if (!comparison || comparison.recent.length === 0) return html``;
  return html`<section class="panel">
  <h3>${kind.label}: changed last</h3>
  <table>
    <thead><tr><th>name</th><th>id</th><th class="num">source version</th><th class="num">copy version</th><th>state</th></tr></thead>
    <tbody>${comparison.recent.map(
      (row) => html`<tr><td>${row.name}</td><td class="mono">${row.id}</td><td class="num">${row.sourceVersion ?? '—'}</td><td class="num">${row.copyVersion ?? '—'}</td><td><span class="badge ${stateClass[row.state]}">${row.state}</span></td></tr>`,
    )}</tbody>
  </table>
</section>`;
}

function deadLetterTable(view: TenantView): Html {
  const { deadLetters, deadLettersProblem } = view;
  const body = deadLettersProblem
    ? html`<p class="muted">The dead letters cannot be read right now (${deadLettersProblem}).</p>`
    : deadLetters.length === 0
      ? html`<p class="muted">None: the consumer has accepted every message of this tenant.</p>`
      : html`<table>
    <thead><tr><th>when (UTC)</th><th>type</th><th>entity</th><th>reason</th></tr></thead>
    <tbody>${deadLetters.map(
      ({ kind, letter }) => html`<tr><td class="nowrap">${letter.at ? utc(letter.at) : '—'}</td><td>${kind.label}</td><td class="mono">${letter.entityId ?? '—'}</td><td><span class="badge bad">${letter.code ?? 'unknown'}</span> ${letter.reason}</td></tr>`,
    )}</tbody>
  </table>`;
  return html`<section class="panel" id="dead-letters">
  <h3>Dead letters <span class="count">${count(view.deadLetterCount)}</span></h3>
  <p class="hint">Messages about this tenant's data that the consumer could not accept, and why. An operator can replay them once the cause is fixed.</p>
  ${body}
</section>`;
}

/** The tenant admin's view: each entity type at the source and in the copy, the lag, the dead letters. */
export function tenantPage(view: TenantView): string {
  const who = html`<span>tenant <span class="mono">${view.orgId}</span> · ${view.subject}</span>
    <form method="post" action="/sign-out"><button class="link" type="submit">Sign out</button></form>`;
  const body = html`<div class="heading">
  <h1>Sync status</h1>
  <p class="muted">Your tenant's data at the source (:8001) and in the consumer's copy (:8002), read with your token. Updated <span data-figure="updated">${utc(view.now)}</span> UTC.</p>
</div>
<div class="cards">${view.entities.map((entity) => entityCard(entity, view.now))}
  <section class="card">
    <h2>dead letters</h2>
    <dl class="figures"><div><dt>of this tenant</dt><dd data-figure="dead-letters"><strong>${count(view.deadLetterCount)}</strong></dd></div></dl>
    <p class="hint"><a href="#dead-letters">see the reasons</a></p>
  </section>
</div>
${view.entities.map(recentTable)}
${deadLetterTable(view)}`;
  return layout({ title: 'Sync status', who, refreshMs: view.refreshMs, body });
}
