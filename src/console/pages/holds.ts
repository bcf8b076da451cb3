import { Html, html } from '../html';
import { Viewer, csrfField, layout, problem, time } from './layout';

export interface HoldView {
  readonly id: string;
  readonly tenant: string;
  readonly matter: string;
  readonly description?: string | null;
  readonly status: string;
  readonly scope: Record<string, unknown>;
  readonly placedAt?: string;
  readonly history?: readonly Record<string, unknown>[];
  /** The release rule's state of an active hold (`GET /v1/holds/{id}`). */
  readonly release?: {
    readonly required: number;
    readonly missing: number;
    readonly approvals: readonly (Record<string, unknown> & { expiresAt: string })[];
    readonly expiresAt: string | null;
  };
}

/** The fields of the hold form, as typed (lists one item per line). */
export interface HoldForm {
  readonly tenant: string;
  readonly matter: string;
  readonly description: string;
  readonly subjects: string;
  readonly actors: string;
  readonly categories: string;
  readonly types: string;
  readonly from: string;
  readonly to: string;
}

export const HOLD_FORM_FIELDS: readonly (keyof HoldForm)[] = [
  'tenant',
  'matter',
  'description',
  'subjects',
  'actors',
  'categories',
  'types',
  'from',
  'to',
];

/** The body of `POST /v1/holds` (and its preview) from the form: empty lists and times left out. */
export function holdBody(form: HoldForm): Record<string, unknown> {
  const list = (text: string) =>
    text
      .split(/[\n,]/)
      .map((s) => s.trim())
      .filter((s) => s !== '');
  const scope: Record<string, unknown> = {};
  for (const name of ['subjects', 'actors', 'categories', 'types'] as const) {
    const items = list(form[name]);
    if (items.length > 0) scope[name] = items;
  }
  if (form.from.trim() !== '') scope.from = form.from.trim();
  if (form.to.trim() !== '') scope.to = form.to.trim();
  return {
    tenant: form.tenant.trim(),
    matter: form.matter,
    ...(form.description.trim() !== '' ? { description: form.description } : {}),
    scope,
  };
}

export function holdsPage(
  viewer: Viewer,
  filters: { tenant?: string; status?: string },
  holds: readonly HoldView[] | null,
  error: Parameters<typeof problem>[0] | null,
): Html {
  const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString();
  const main = html`<form class="filters" method="get" action="/console/holds" aria-label="Hold filters">
      <label>Tenant<input name="tenant" value="${filters.tenant ?? ''}" /></label>
      <label
        >Status<select name="status">
          ${['', 'active', 'released'].map(
            (s) =>
              html`<option value="${s}" ${filters.status === s ? html` selected` : null}>
                ${s === '' ? 'any' : s}
              </option>`,
          )}
        </select></label
      >
      <div class="actions"><button type="submit">Filter</button></div>
    </form>
    ${viewer.roles.includes('legal') ? html`<p><a class="button" href="/console/holds/new">Place a hold</a></p>` : null}
    ${error === null ? null : problem(error)}
    ${
      holds === null
        ? null
        : html`<p><a href="/console/holds.csv${query === '' ? '' : `?${query}`}">Download as CSV</a></p>
            <table>
              <caption>
                Legal holds
              </caption>
              <thead>
                <tr>
                  <th scope="col">Matter</th>
                  <th scope="col">Tenant</th>
                  <th scope="col">Status</th>
                  <th scope="col">Placed</th>
                </tr>
              </thead>
              <tbody>
                ${holds.map(
                  (h) =>
                    html`<tr>
                      <td><a href="/console/holds/${h.id}">${h.matter}</a></td>
                      <td>${h.tenant}</td>
                      <td>${h.status}</td>
                      <td>${time(h.placedAt)}</td>
                    </tr>`,
                )}${
                  holds.length === 0
                    ? html`<tr>
                        <td colspan="4">No holds.</td>
                      </tr>`
                    : null
                }
              </tbody>
            </table>`
    }`;
  return layout('Legal holds', viewer, main, '/console/holds');
}

/** The placement form; after a preview, what the hold would cover and a form that places it. */
export function newHoldPage(
  viewer: Viewer,
  form: HoldForm,
  preview: { entries?: unknown; pendingDeletionRequests?: readonly Record<string, unknown>[] } | null,
  error: Parameters<typeof problem>[0] | null,
): Html {
  const field = (name: keyof HoldForm, label: string, multi = false, hint = '') =>
    multi
      ? html`<label
            >${label}<textarea name="${name}" rows="3" aria-describedby="${name}-hint">${form[name]}</textarea>
          </label>
          <p class="hint" id="${name}-hint">${hint}</p>`
      : html`<label
          >${label}<input
            name="${name}"
            value="${form[name]}"
            ${name === 'tenant' || name === 'matter' ? html` required` : null}
        /></label>`;
  const fields = html`${csrfField(viewer)} ${field('tenant', 'Tenant (or * for every tenant)')}
  ${field('matter', 'Matter reference (no personal data)')} ${field('description', 'Description (no personal data)')}
  ${field('subjects', 'Subjects', true, 'One pseudonymous subject id per line; empty for any.')}
  ${field('actors', 'Actor ids', true, 'One per line; empty for any.')}
  ${field('categories', 'Categories', true, 'One per line; empty for any.')}
  ${field('types', 'Event types', true, 'One per line; empty for any.')} ${field('from', 'From (RFC 3339, inclusive)')}
  ${field('to', 'To (RFC 3339, exclusive)')}`;
  const main = html`${error === null ? null : problem(error)}
    ${
      preview === null
        ? null
        : html`<section aria-labelledby="preview-h" class="preview">
            <h2 id="preview-h">Preview</h2>
            <p>This hold would cover <strong>${JSON.stringify(preview.entries ?? 0)}</strong> entries now.</p>
            ${
              (preview.pendingDeletionRequests ?? []).length === 0
                ? html`<p>It covers no pending deletion request.</p>`
                : html`<p>It would block these pending deletion requests:</p>
                    <ul>
                      ${(preview.pendingDeletionRequests ?? []).map(
                        (r) =>
                          html`<li>
                            <a href="/console/deletions/${String(r.id)}">${String(r.id)}</a> ${String(r.kind ?? '')}
                          </li>`,
                      )}
                    </ul>`
            }
            <form method="post" action="/console/holds">
              ${hidden(viewer, form)}<button type="submit">Place this hold</button>
            </form>
          </section>`
    }
    <form method="post" action="/console/holds/preview" aria-label="Hold">
      ${fields}
      <div class="actions"><button type="submit">Preview</button></div>
    </form>`;
  return layout('Place a legal hold', viewer, main, '/console/holds');
}

function hidden(viewer: Viewer, form: HoldForm): Html {
  return html`${csrfField(viewer)}${HOLD_FORM_FIELDS.map((name) => html`<input type="hidden" name="${name}" value="${form[name]}" />`)}`;
}

/** One hold: its scope, its release rule's state, the release form, and its history from the ledger. */
export function holdPage(
  viewer: Viewer,
  hold: HoldView,
  error: Parameters<typeof problem>[0] | null,
  notice?: string,
): Html {
  const history = hold.history ?? [];
  const release = hold.release;
  const main = html`${error === null ? null : problem(error)}
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <dl class="members">
      <dt>Matter</dt>
      <dd>${hold.matter}</dd>
      <dt>Tenant</dt>
      <dd>${hold.tenant}</dd>
      <dt>Status</dt>
      <dd>${hold.status}</dd>
      <dt>Description</dt>
      <dd>${hold.description ?? ''}</dd>
      <dt>Scope</dt>
      <dd><pre>${JSON.stringify(hold.scope, null, 2)}</pre></dd>
    </dl>
    ${
      hold.status === 'released'
        ? null
        : html`<section aria-labelledby="release-h">
            <h2 id="release-h">Release</h2>
            ${
              release === undefined
                ? null
                : html`<p id="release-state">
                      A release needs ${release.required} distinct legal persons.
                      ${
                        release.approvals.length === 0
                          ? 'Nobody has asked yet.'
                          : html`${release.missing === 0 ? 'Enough have asked.' : html`${release.missing} more must still ask.`}
                              The request expires ${time(release.expiresAt)} unless they do.`
                      }
                    </p>
                    ${
                      release.approvals.length === 0
                        ? null
                        : html`<table>
                            <caption>
                              Release requests that count
                            </caption>
                            <thead>
                              <tr>
                                <th scope="col">Asked by</th>
                                <th scope="col">When</th>
                                <th scope="col">Reason</th>
                                <th scope="col">Counts until</th>
                              </tr>
                            </thead>
                            <tbody>
                              ${release.approvals.map(
                                (r) =>
                                  html`<tr>
                                    <td>${personOf(r)}</td>
                                    <td>${time(r.at)}</td>
                                    <td>${String(r.reason ?? '')}</td>
                                    <td>${time(r.expiresAt)}</td>
                                  </tr>`,
                              )}
                            </tbody>
                          </table>`
                    }`
            }
            ${
              viewer.roles.includes('legal')
                ? html`<form method="post" action="/console/holds/${hold.id}/release">
                    ${csrfField(viewer)}
                    <label>Reason<input name="reason" required /></label>
                    <button type="submit">Request or approve the release</button>
                  </form>`
                : null
            }
          </section>`
    }
    ${
      hold.status === 'released' || !viewer.roles.includes('legal')
        ? null
        : html`<section aria-labelledby="amend-h"><h2 id="amend-h">Widen</h2>
<p>An amendment may only widen the scope; narrowing is a release and a new hold. It clears release requests made so far.</p>
<form method="post" action="/console/holds/${hold.id}/amend" aria-label="Widen the hold">${csrfField(viewer)}
${(['subjects', 'actors', 'categories', 'types'] as const).map(
  (name) =>
    html`<label>${name[0].toUpperCase() + name.slice(1)}<textarea name="${name}" rows="3">${listOf(hold.scope[name]).join('\n')}</textarea></label>`,
)}
<label>From (RFC 3339, inclusive)<input name="from" value="${typeof hold.scope.from === 'string' ? hold.scope.from : ''}"></label>
<label>To (RFC 3339, exclusive)<input name="to" value="${typeof hold.scope.to === 'string' ? hold.scope.to : ''}"></label>
<label>Description<input name="description" value="${hold.description ?? ''}"></label>
<label>Reason for the amendment<input name="reason" required></label>
<div class="actions"><button type="submit">Widen the hold</button></div></form></section>`
    }
<section aria-labelledby="history-h">
      <h2 id="history-h">History</h2>
      <table>
        <caption>
          Ledger entries of this hold
        </caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">What</th>
            <th scope="col">By</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          ${history.map(
            (h) =>
              html`<tr>
                <td>${time(h.at)}</td>
                <td>${HISTORY_LABELS[String(h.type)] ?? String(h.type)}</td>
                <td>${Array.isArray(h.approvers) ? `approved by ${approversOf(h.approvers)}` : personOf(h)}</td>
                <td><pre>${JSON.stringify(detailsOf(h), null, 2)}</pre></td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>`;
  return layout(`Hold ${hold.matter}`, viewer, main, '/console/holds');
}

/** What each ledger entry of a hold says happened. */
const HISTORY_LABELS: Record<string, string> = {
  'hold.placed': 'placed',
  'hold.amended': 'amended (widened)',
  'hold.release_requested': 'release requested',
  'hold.released': 'released',
};

function approversOf(approvers: readonly unknown[]): string {
  return approvers.map((by) => personOf({ by })).join(', ');
}

function personOf(change: Record<string, unknown>): string {
  const by = change.by;
  if (by === null || typeof by !== 'object') return '';
  const { name, principal } = by as { name?: unknown; principal?: unknown };
  return principal === undefined ? String(name) : `${String(name)} (principal ${String(principal)})`;
}

function detailsOf(change: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...change };
  for (const name of ['type', 'at', 'by', 'id', 'approvers']) delete rest[name];
  return rest;
}

function listOf(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}
