import { Html, html } from '../html';
import { Viewer, csrfField, layout, problem, time } from './layout';

type ErrorBody = Parameters<typeof problem>[0];

/**
 * The sign-in page: with the identity provider when one is configured (`provider`: its name), and
 * with an API key (the session then acts through it), with the pre-session CSRF token.
 */
export function signInPage(csrf: string, next: string, error: ErrorBody | null, provider: string | null): Html {
  const main = html`${error === null ? null : problem(error)}
    ${
      provider === null
        ? null
        : html`<p class="actions">
            <a class="button" href="/console/sign-in/oidc?next=${encodeURIComponent(next)}">Sign in with ${provider}</a>
          </p>`
    }
    <form method="post" action="/console/sign-in" aria-label="Sign in">
      <input type="hidden" name="_csrf" value="${csrf}" />
      <input type="hidden" name="next" value="${next}" />
      <label>API key<input name="key" type="password" autocomplete="off" required aria-describedby="key-hint" /></label>
      <p class="hint" id="key-hint">
        Your own key. The console acts with its roles and tenants; signing out or revoking the key ends the session.
      </p>
      <div class="actions"><button type="submit">Sign in</button></div>
    </form>`;
  return layout('Sign in', null, main);
}

/**
 * The answer to the identity provider's redirect once the session is open. Not a redirect: that
 * navigation began on the provider's site, so the browser would withhold the SameSite=Strict
 * session cookie from a redirect's target; a refresh this page makes is same-site and carries it.
 */
export function signedInPage(next: string): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta http-equiv="refresh" content="0;url=${next}" />
        <title>Signed in · Audit trail</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
      </head>
      <body>
        <main id="main">
          <h1>Signed in</h1>
          <p><a href="${next}">Continue to the console</a></p>
        </main>
      </body>
    </html> `;
}

/** An error page: the API's refusal, or a console one. */
export function errorPage(viewer: Viewer | null, title: string, error: ErrorBody): Html {
  return layout(title, viewer, problem(error));
}

export interface LogView {
  readonly log: string;
  readonly checkpoint: string | null;
  readonly report: Record<string, unknown> | null;
  /** The installation's `ledger` health: `up` while the database agrees with its checkpoint mirror. */
  readonly mirror: string;
}

/** A log: its latest signed checkpoint, a "verify now" action and its last report. */
export function logPage(viewer: Viewer, view: LogView, error: ErrorBody | null): Html {
  const size = view.checkpoint?.split('\n')[1];
  const main = html`${error === null ? null : problem(error)}
    <dl class="members">
      <dt>Log</dt>
      <dd>${view.log}</dd>
      <dt>Size at the latest checkpoint</dt>
      <dd>${size ?? 'no checkpoint yet'}</dd>
      <dt>Checkpoint mirror</dt>
      <dd>${view.mirror === 'up' ? 'the database agrees with the mirror' : view.mirror === 'degraded' ? 'the database is behind or forked from its mirror: appends are refused (docs/operations.md)' : view.mirror}</dd>
    </dl>
    ${
      view.checkpoint === null
        ? null
        : html`<h2>Latest signed checkpoint</h2>
            <pre class="checkpoint">${view.checkpoint}</pre>`
    }
    <form method="post" action="/console/logs/${view.log}/verify">
      ${csrfField(viewer)}<button type="submit">Verify now</button>
    </form>
    ${
      view.report === null
        ? null
        : html`<section aria-labelledby="report-h">
            <h2 id="report-h">Verification report</h2>
            <p class="${view.report.ok ? 'ok' : 'failed'}" role="status">
              ${view.report.ok ? 'The log verifies.' : 'The log does NOT verify.'}
            </p>
            <pre>${JSON.stringify(view.report, null, 2)}</pre>
          </section>`
    }`;
  return layout(`Log ${view.log}`, viewer, main, '/console/logs');
}

/** Logs the viewer may read, by tenant: a form to open one (the API lists no logs). */
export function logsPage(viewer: Viewer): Html {
  const main = html`<form method="get" action="/console/logs/open" aria-label="Open a log">
      <label>Log (a tenant, or platform)<input name="log" required /></label>
      <div class="actions"><button type="submit">Open</button></div>
    </form>
    ${
      viewer.tenants.includes('*')
        ? null
        : html`<ul>
            ${viewer.tenants.map((t) => html`<li><a href="/console/logs/${t}">${t}</a></li>`)}
          </ul>`
    }`;
  return layout('Logs', viewer, main, '/console/logs');
}

/** Deletion requests with their state and what blocks each. */
export function deletionsPage(
  viewer: Viewer,
  items: readonly Record<string, unknown>[] | null,
  error: ErrorBody | null,
): Html {
  const main = html`${error === null ? null : problem(error)}
  ${
    items === null
      ? null
      : html`<table>
          <caption>
            Deletion requests
          </caption>
          <thead>
            <tr>
              <th scope="col">Request</th>
              <th scope="col">Kind</th>
              <th scope="col">Tenant</th>
              <th scope="col">Status</th>
              <th scope="col">Requested</th>
            </tr>
          </thead>
          <tbody>
            ${items.map(
              (r) =>
                html`<tr>
                  <td><a href="/console/deletions/${String(r.id)}">${String(r.id)}</a></td>
                  <td>${String(r.kind ?? '')}</td>
                  <td>${String(r.tenant ?? '')}</td>
                  <td>${String(r.status ?? '')}</td>
                  <td>${time(r.requestedAt ?? r.createdAt)}</td>
                </tr>`,
            )}${
              items.length === 0
                ? html`<tr>
                    <td colspan="5">No deletion requests.</td>
                  </tr>`
                : null
            }
          </tbody>
        </table>`
  }`;
  return layout('Deletion requests', viewer, main, '/console/deletions');
}

/** One deletion request as the API answers it: state, blocks and receipts. */
export function deletionPage(viewer: Viewer, request: Record<string, unknown>): Html {
  return layout(
    `Deletion request ${String(request.id)}`,
    viewer,
    html`<pre>${JSON.stringify(request, null, 2)}</pre>`,
    '/console/deletions',
  );
}

/** Keys (admin): list, create (the secret shown once), rotate, revoke. */
export function keysPage(
  viewer: Viewer,
  keys: readonly Record<string, unknown>[] | null,
  error: ErrorBody | null,
  secret: { name: string; key: string } | null,
): Html {
  const main = html`${error === null ? null : problem(error)}
    ${
      secret === null
        ? null
        : html`<div class="notice" role="status">
            <p>The secret of <strong>${secret.name}</strong>, shown once: copy it now.</p>
            <pre class="secret">${secret.key}</pre>
          </div>`
    }
    <form method="post" action="/console/keys" aria-label="Create a key">
      ${csrfField(viewer)}
      <label>Name<input name="name" required /></label>
      <label>Roles (comma separated)<input name="roles" required /></label>
      <label>Tenants (comma separated, or *)<input name="tenants" required /></label>
      <label>Principal id (optional)<input name="principal" /></label>
      <div class="actions"><button type="submit">Create key</button></div>
    </form>
    ${
      keys === null
        ? null
        : html`<table>
            <caption>
              API keys
            </caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Roles</th>
                <th scope="col">Tenants</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              ${keys.map(
                (k) =>
                  html`<tr>
                    <td>${String(k.name)}</td>
                    <td><code>${String(k.prefix)}</code></td>
                    <td>${String((k.roles as string[]).join(', '))}</td>
                    <td>${String((k.tenants as string[]).join(', '))}</td>
                    <td>${k.revokedAt ? html`revoked ${time(k.revokedAt)}` : 'active'}</td>
                    <td>
                      ${
                        k.revokedAt
                          ? null
                          : html`<form method="post" action="/console/keys/${String(k.id)}/rotate">
                                ${csrfField(viewer)}<button type="submit">Rotate</button>
                              </form>
                              <form method="post" action="/console/keys/${String(k.id)}/revoke">
                                ${csrfField(viewer)}<button type="submit">Revoke</button>
                              </form>`
                      }
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }`;
  return layout('API keys', viewer, main, '/console/keys');
}

/** Settings: the pinned log key (kept by the browser; the script fills this page). */
export function settingsPage(viewer: Viewer): Html {
  const main = html`<section aria-labelledby="pin-h" id="pinned-key">
    <h2 id="pin-h">Pinned log key</h2>
    <p>
      Entries are verified in your browser against this key, never against one the server sends at the time. Compare its
      fingerprint with the one your organisation publishes.
    </p>
    <p id="pinned-key-text" role="status">No key is pinned: the first event you open asks you to confirm one.</p>
    <button type="button" id="forget-key" hidden>Forget the pinned key</button>
  </section>`;
  return layout('Settings', viewer, main, '/console/settings');
}

/** Data-subject requests (legal): kind, status, due date, overdue. */
export function subjectRequestsPage(
  viewer: Viewer,
  items: readonly Record<string, unknown>[] | null,
  error: ErrorBody | null,
): Html {
  const main = html`${error === null ? null : problem(error)}
${
  items === null
    ? null
    : html`<table><caption>Subject requests</caption><thead><tr><th scope="col">Request</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Due</th></tr></thead>
<tbody>${items.map(
        (r) =>
          html`<tr><td><a href="/console/subject-requests/${String(r.id)}">${String(r.id)}</a></td><td>${String(r.kind ?? '')}</td><td>${String(r.status ?? '')}${r.overdue ? html` <strong>overdue</strong>` : null}</td><td>${time(r.dueAt)}</td></tr>`,
      )}${items.length === 0 ? html`<tr><td colspan="4">No subject requests.</td></tr>` : null}</tbody></table>`
}`;
  return layout('Subject requests', viewer, main, '/console/subject-requests');
}

/** One subject request: its parts and what blocks them, and the access bundle when there is one. */
export function subjectRequestPage(viewer: Viewer, request: Record<string, unknown>): Html {
  const main = html`${
    request.kind === 'access'
      ? html`<p><a href="/console/subject-requests/${String(request.id)}/bundle">Download the access bundle (NDJSON)</a></p>`
      : null
  }<pre>${JSON.stringify(request, null, 2)}</pre>`;
  return layout(`Subject request ${String(request.id)}`, viewer, main, '/console/subject-requests');
}

/** The roles a grant may hold (docs/api.md "Roles"). */
const ROLES = ['emitter', 'investigator', 'legal', 'admin'] as const;

/**
 * Principals (admin): the people and services behind keys, their grants, and the forms that
 * create a principal, grant or revoke a role, and revoke a principal; each posts to the console,
 * which makes the same call of the JSON API (`/v1/principals`, `/v1/grants`).
 */
export function principalsPage(
  viewer: Viewer,
  principals: readonly Record<string, unknown>[] | null,
  error: ErrorBody | null,
  notice: string | null,
): Html {
  const main = html`${error === null ? null : problem(error)}
    ${notice === null ? null : html`<p class="notice" role="status">${notice}</p>`}
    <form method="post" action="/console/principals" aria-label="Create a principal">
      ${csrfField(viewer)}
      <label>Name<input name="name" required autocomplete="off" /></label>
      <label
        >Kind<select name="kind">
          <option value="person">person</option>
          <option value="service">service</option>
        </select></label
      >
      <label>Email (a person's; personal data)<input name="email" type="email" autocomplete="off" /></label>
      <label
        >OpenID Connect subject (optional)<input
          name="oidcSubject"
          autocomplete="off"
          aria-describedby="oidc-hint"
      /></label>
      <p class="hint" id="oidc-hint">
        The issuer and the subject as <code>issuer#sub</code>: the person then signs in with the identity provider.
      </p>
      <div class="actions"><button type="submit">Create principal</button></div>
    </form>
    ${
      principals === null
        ? null
        : html`<table>
            <caption>
              Principals
            </caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Sign-in subject</th>
                <th scope="col">State</th>
                <th scope="col">Grants</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              ${principals.map((p) => principalRow(viewer, p))}
              ${
                principals.length === 0
                  ? html`<tr>
                      <td colspan="6">No principals.</td>
                    </tr>`
                  : null
              }
            </tbody>
          </table>`
    }`;
  return layout('Principals', viewer, main, '/console/principals');
}

function principalRow(viewer: Viewer, p: Record<string, unknown>): Html {
  const id = String(p.id);
  const revoked = typeof p.revokedAt === 'string';
  const grants = ((p.grants ?? []) as Record<string, unknown>[]).filter((g) => g.status !== 'revoked');
  return html`<tr>
    <td>${String(p.name)}</td>
    <td>${String(p.kind)}</td>
    <td>${typeof p.oidcSubject === 'string' ? html`<code>${p.oidcSubject}</code>` : ''}</td>
    <td>${revoked ? html`revoked ${time(p.revokedAt)}` : 'active'}</td>
    <td>
      ${
        grants.length === 0
          ? 'none'
          : html`<ul>
              ${grants.map(
                (g) =>
                  html`<li>
                    ${String(g.role)} over ${((g.tenants ?? []) as string[]).join(', ')} (${String(g.status)})
                    ${
                      revoked
                        ? null
                        : html`<form method="post" action="/console/grants/${String(g.id)}/revoke">
                            ${csrfField(viewer)}<button type="submit">
                              Revoke ${String(g.role)} grant of ${String(p.name)}
                            </button>
                          </form>`
                    }
                  </li>`,
              )}
            </ul>`
      }
    </td>
    <td>
      ${
        revoked
          ? null
          : html`<form method="post" action="/console/principals/${id}/grants" aria-label="Grant a role to ${String(p.name)}">
                ${csrfField(viewer)}
                <label
                  >Role<select name="role">
                    ${ROLES.map((role) => html`<option value="${role}">${role}</option>`)}
                  </select></label
                >
                <label>Tenants (comma separated, or *)<input name="tenants" required /></label>
                <button type="submit">Grant</button>
              </form>
              <form method="post" action="/console/principals/${id}/revoke">
                ${csrfField(viewer)}<button type="submit">Revoke ${String(p.name)}</button>
              </form>`
      }
    </td>
  </tr>`;
}
