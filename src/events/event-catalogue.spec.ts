import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CATEGORIES,
  EVENT_CATALOGUE,
  EVENT_TYPE_PATTERN,
  SERVICE_CATEGORIES,
  categorize,
  eventTypeSchema,
} from './event-catalogue';

describe('event catalogue', () => {
  it('lists only well-formed types in emitter categories', () => {
    for (const [type, { category }] of Object.entries(EVENT_CATALOGUE)) {
      expect(type).toMatch(new RegExp(EVENT_TYPE_PATTERN));
      expect(CATEGORIES).toContain(category);
      expect(SERVICE_CATEGORIES).not.toContain(category);
    }
  });

  it('gives known types their category and refuses a contradicting one', () => {
    expect(categorize('auth.login.failed', undefined)).toEqual({ ok: true, category: 'auth' });
    expect(categorize('auth.login.failed', 'auth')).toEqual({ ok: true, category: 'auth' });
    expect(categorize('auth.login.failed', 'billing')).toMatchObject({ ok: false, field: 'category' });
  });

  it('takes types outside the catalogue in a named emitter category only', () => {
    expect(categorize('billing.tax.recomputed', 'billing')).toEqual({ ok: true, category: 'billing' });
    expect(categorize('billing.tax.recomputed', undefined)).toMatchObject({ ok: false, field: 'category' });
    expect(categorize('billing.tax.recomputed', 'finance')).toMatchObject({ ok: false, field: 'category' });
    expect(categorize('custom.thing.happened', 'holds')).toMatchObject({ ok: false, field: 'category' });
  });

  it("keeps the types of the service's own facts to the service", () => {
    for (const type of ['hold.placed', 'deletion.completed', 'access.search', 'retention.policy_changed']) {
      expect(categorize(type, undefined)).toMatchObject({ ok: false, field: 'type' });
    }
  });
});

/** The catalogue as docs/events.md shows it, between its markers. */
function catalogueMarkdown(): string {
  const code = (names: readonly string[]) => (names.length === 0 ? '' : names.map((n) => `\`${n}\``).join(', '));
  const rows = Object.entries(EVENT_CATALOGUE).map(
    ([type, s]) =>
      `| \`${type}\` | \`${s.category}\` | ${s.description} | ${Object.entries(s.context)
        .map(([name, what]) => `\`${name}\`: ${what}`)
        .join('; ')} | ${code(s.personal)} | ${code(s.notPersonal)} |`,
  );
  return [
    '| type | category | what happened | `context` fields | personal (in `personal.data` only) | declared not personal |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

describe('the catalogue as schemas', () => {
  const DOC = join(__dirname, '../../docs/events.md');
  const START = '<!-- catalogue:start (generated from src/events/event-catalogue.ts by its spec) -->';
  const END = '<!-- catalogue:end -->';

  it('declares personal and not-personal fields that do not overlap, for every type', () => {
    for (const [type, schema] of Object.entries(EVENT_CATALOGUE)) {
      expect(schema.description).toMatch(/\S/);
      for (const name of schema.personal) expect([type, schema.context[name]]).toEqual([type, undefined]);
      for (const name of schema.notPersonal) {
        expect([type, schema.context[name]]).toEqual([type, expect.any(String)]);
        expect(schema.personal).not.toContain(name);
      }
    }
    expect(EVENT_CATALOGUE['auth.login.succeeded'].personal).toEqual(['ip', 'userAgent', 'email']);
    expect(eventTypeSchema('toString')).toBeUndefined();
    expect(eventTypeSchema('auth.logout')?.category).toBe('auth');
  });

  // UPDATE_EVENTS_DOC=1 npx jest src/events/event-catalogue.spec.ts rewrites the table.
  it('is documented in docs/events.md exactly', () => {
    const doc = readFileSync(DOC, 'utf8');
    const [before, rest] = doc.split(START);
    const after = rest?.split(END)[1];
    expect(after).toBeDefined();
    const expected = `${before}${START}\n${catalogueMarkdown()}\n${END}${after}`;
    if (process.env.UPDATE_EVENTS_DOC === '1') writeFileSync(DOC, expected);
    expect(doc).toBe(expected);
  });
});
