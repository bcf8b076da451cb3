import { Html, html } from '../html';

/** Who is signed in, as the header shows it, and the CSRF token of the page's forms. */
export interface Viewer {
  readonly name: string;
  readonly roles: readonly string[];
  readonly tenants: readonly string[];
  readonly csrf: string;
}

const NAV: readonly { href: string; label: string; roles: readonly string[] }[] = [
  { href: '/console/events', label: 'Events', roles: ['investigator'] },
  { href: '/console/logs', label: 'Logs', roles: ['investigator'] },
  { href: '/console/holds', label: 'Holds', roles: ['legal', 'investigator'] },
  { href: '/console/deletions', label: 'Deletions', roles: ['legal', 'admin'] },
  { href: '/console/subject-requests', label: 'Subject requests', roles: ['legal'] },
  { href: '/console/keys', label: 'Keys', roles: ['admin'] },
  { href: '/console/principals', label: 'Principals', roles: ['admin'] },
  { href: '/console/settings', label: 'Settings', roles: ['emitter', 'investigator', 'legal', 'admin'] },
];

/**
 * Every page: a skip link, the navigation the viewer's roles can use, the sign-out form, and the
 * two scripts, served from the service itself (the Content-Security-Policy allows nothing else and
 * no inline script). htmx is configured by a meta element: no eval, no inline indicator styles.
 */
export function layout(title: string, viewer: Viewer | null, main: Html, current = ''): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta
          name="htmx-config"
          content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true}'
        />
        <title>${title} · Audit trail</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
        <script src="/console/assets/htmx.min.js" defer></script>
        <script src="/console/assets/console.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <p class="brand">Audit trail</p>
          ${
            viewer === null
              ? null
              : html`<nav aria-label="Sections">
                    <ul>
                      ${NAV.filter((item) => item.roles.some((role) => viewer.roles.includes(role))).map(
                        (item) =>
                          html`<li>
                            <a href="${item.href}" ${current === item.href ? html` aria-current="page"` : null}
                              >${item.label}</a
                            >
                          </li>`,
                      )}
                    </ul>
                  </nav>
                  <form class="sign-out" method="post" action="/console/sign-out">
                    <input type="hidden" name="_csrf" value="${viewer.csrf}" />
                    <span>${viewer.name} (${viewer.roles.join(', ')}; tenants ${viewer.tenants.join(', ')})</span>
                    <button type="submit">Sign out</button>
                  </form>`
          }
        </header>
        <main id="main" tabindex="-1">
          <h1>${title}</h1>
          ${main}
        </main>
      </body>
    </html> `;
}

/** A refusal of the API, shown as the page's alert: its code, message and the fields it names. */
export function problem(error: {
  code?: string;
  message?: string;
  errors?: { path: string; message: string }[];
}): Html {
  return html`<div class="alert" role="alert">
    <p><strong>${error.code ?? 'error'}</strong>: ${error.message ?? ''}</p>
    ${
      error.errors && error.errors.length > 0
        ? html`<ul>
            ${error.errors.map((e) => html`<li><code>${e.path}</code> ${e.message}</li>`)}
          </ul>`
        : null
    }
  </div>`;
}

/** A UTC timestamp the console's script can show in local time (`<time>` keeps the exact value). */
export function time(value: unknown): Html {
  if (typeof value !== 'string') return html``;
  return html`<time datetime="${value}">${value}</time>`;
}

/** A hidden CSRF field for a form. */
export function csrfField(viewer: Viewer): Html {
  return html`<input type="hidden" name="_csrf" value="${viewer.csrf}" />`;
}
