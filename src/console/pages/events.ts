import { Html, html } from '../html';
import { Viewer, layout, problem, time } from './layout';

/** The search filters of `GET /v1/events` the console offers, in form order, with their labels. */
export const EVENT_FILTERS: readonly { name: string; label: string; type?: string }[] = [
  { name: 'tenant', label: 'Tenant' },
  { name: 'type', label: 'Type' },
  { name: 'category', label: 'Category' },
  { name: 'actor', label: 'Actor id' },
  { name: 'actorType', label: 'Actor type' },
  { name: 'target', label: 'Target id' },
  { name: 'targetType', label: 'Target type' },
  { name: 'subject', label: 'Subject' },
  { name: 'source', label: 'Source' },
  { name: 'outcome', label: 'Outcome' },
  { name: 'personalEmail', label: 'Email (personal data)', type: 'email' },
  { name: 'personalIp', label: 'IP address (personal data)' },
  { name: 'from', label: 'Recorded from (RFC 3339, inclusive)' },
  { name: 'to', label: 'Recorded before (RFC 3339)' },
];

export type EventItem = Record<string, unknown> & { id?: string; log?: string; index?: number };

export interface SearchResult {
  readonly items: readonly EventItem[];
  readonly nextCursor: string | null;
  readonly incomplete?: boolean;
}

/** The search page: its filters (a GET form, so every search is a link), and the first page of results. */
export function eventsPage(
  viewer: Viewer,
  filters: Record<string, string>,
  result: SearchResult | null,
  error: Parameters<typeof problem>[0] | null,
): Html {
  const main = html`<form class="filters" method="get" action="/console/events" aria-label="Search filters">
      ${EVENT_FILTERS.map(
        (f) =>
          html`<label
            >${f.label}<input
              name="${f.name}"
              type="${f.type ?? 'text'}"
              value="${filters[f.name] ?? ''}"
              autocomplete="off"
          /></label>`,
      )}
      <div class="actions">
        <button type="submit">Search</button>
        <a href="/console/events">Clear</a>
        <button type="button" class="time-toggle" aria-pressed="false">Show local time</button>
      </div>
    </form>
    ${error === null ? null : problem(error)}
    ${
      result === null
        ? null
        : html`${result.incomplete ? html`<p class="alert" role="status">Some entries of this range are quarantined: the results may miss them.</p>` : null}
            <p>
              <a href="/console/exports${exportQuery(filters)}">Export these results (NDJSON)</a> ·
              <a href="/console/exports${exportQuery(filters, 'csv')}">CSV</a>
            </p>
            <table class="results">
              <caption>
                Entries, newest first
              </caption>
              <thead>
                <tr>
                  <th scope="col">Recorded</th>
                  <th scope="col">Type</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Target</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Log · index</th>
                </tr>
              </thead>
              <tbody id="rows">
                ${eventRows(filters, result)}
              </tbody>
            </table>`
    }`;
  return layout('Events', viewer, main, '/console/events');
}

/**
 * Rows of a results page, and after them a row that fetches the next page when it scrolls into
 * view (htmx `revealed`), with a plain link for readers without script.
 */
export function eventRows(filters: Record<string, string>, result: SearchResult): Html {
  const rows = result.items.map(
    (item) =>
      html`<tr>
        <td>${time(item.recordedAt)}</td>
        <td><a href="/console/events/${String(item.id)}">${String(item.type)}</a></td>
        <td>${party(item.actor)}</td>
        <td>${party(item.target)}</td>
        <td>${String(item.outcome ?? '')}</td>
        <td><a href="/console/logs/${String(item.log)}">${String(item.log)}</a> · ${String(item.index)}</td>
      </tr>`,
  );
  if (result.items.length === 0)
    rows.push(
      html`<tr>
        <td colspan="6">No entries match.</td>
      </tr>`,
    );
  const next = result.nextCursor;
  if (next === null) return html`${rows}`;
  const query = new URLSearchParams({ ...filters, cursor: next }).toString();
  return html`${rows}
    <tr class="more" hx-get="/console/events/rows?${query}" hx-trigger="revealed" hx-swap="outerHTML">
      <td colspan="6"><a href="/console/events?${query}">Older entries</a></td>
    </tr>`;
}

function party(value: unknown): string {
  if (value === null || typeof value !== 'object') return '';
  const { type, id } = value as { type?: unknown; id?: unknown };
  return `${String(type)}: ${String(id)}`;
}

function exportQuery(filters: Record<string, string>, format?: string): string {
  const params = new URLSearchParams(Object.entries(filters).filter(([, v]) => v !== ''));
  if (format) params.set('format', format);
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** One entry as recorded, its personal data or erasure, the holds that cover it, and the in-browser verification. */
export function eventPage(
  viewer: Viewer,
  entry: EventItem,
  holds: { held: boolean; holds: { id: string; matter?: string }[] } | null,
): Html {
  const id = String(entry.id);
  const personal = entry.personal as { subject?: string; data?: unknown; erased?: boolean } | undefined;
  const members = { ...entry };
  delete members.personal;
  delete members.inclusion;
  delete members.leaf;
  delete members.corrections;
  delete members.erased;
  const erased = entry.erased as { at?: string; by?: string | null } | undefined;
  const corrections = (entry.corrections ?? []) as readonly { log: string; index: number }[];
  const main = html`<section
      aria-labelledby="verify-h"
      class="verification"
      id="verification"
      data-evidence="/console/events/${id}/evidence.json"
    >
      <h2 id="verify-h">Verification</h2>
      <p id="verify-status" role="status" aria-live="polite">Not checked yet: verification runs in your browser.</p>
      <div id="verify-pin" hidden></div>
      <p>
        <a href="/console/events/${id}/evidence.json" download="event-${id}.json">Download the entry with its proof</a>
        for offline verification.
      </p>
    </section>
    <section aria-labelledby="entry-h">
      <h2 id="entry-h">Entry as recorded</h2>
      <dl class="members">
        ${Object.entries(members).map(
          ([name, value]) =>
            html`<dt>${name}</dt>
              <dd>
                ${name === 'recordedAt' || name === 'occurredAt' ? time(value) : typeof value === 'object' ? html`<pre>${JSON.stringify(value, null, 2)}</pre>` : String(value)}
              </dd>`,
        )}
      </dl>
    </section>
    <section aria-labelledby="personal-h">
      <h2 id="personal-h">Personal data</h2>
      ${
        personal === undefined
          ? html`<p>This entry has no personal data.</p>`
          : personal.erased
            ? html`<p class="erased">
                Erased${erased === undefined ? null : html` ${time(erased.at)}`}${
                  erased?.by ? html` by request <a href="/console/deletions/${erased.by}">${erased.by}</a>` : null
                }.
                Subject <code>${personal.subject}</code>; the leaf keeps only the digest.
              </p>`
            : html`<p>Subject <code>${personal.subject}</code>.</p>
                <pre>${JSON.stringify(personal.data, null, 2)}</pre>`
      }
    </section>
    <section aria-labelledby="corrections-h">
      <h2 id="corrections-h">Corrections</h2>
      ${
        corrections.length === 0
          ? html`<p>No correction names this entry.</p>`
          : html`<p>Its personal data was corrected (the entry itself never changes):</p>
              <ul>${corrections.map((c) => html`<li>entry ${c.index} of log ${c.log}</li>`)}</ul>
              <p><a href="/console/events?${new URLSearchParams({ tenant: String(entry.log), type: 'audit.correction', target: id }).toString()}">Open the corrections</a></p>`
      }
    </section>
    <section aria-labelledby="holds-h">
      <h2 id="holds-h">Legal holds</h2>
      ${
        holds === null
          ? html`<p>Holds could not be checked.</p>`
          : holds.held
            ? html`<ul>
                ${holds.holds.map((h) => html`<li><a href="/console/holds/${h.id}">${h.matter ?? h.id}</a></li>`)}
              </ul>`
            : html`<p>No hold covers this entry.</p>`
      }
    </section>`;
  return layout(`Event ${String(entry.type)}`, viewer, main, '/console/events');
}
