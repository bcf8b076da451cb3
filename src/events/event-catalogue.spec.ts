import { CATEGORIES, EVENT_CATALOGUE, EVENT_TYPE_PATTERN, SERVICE_CATEGORIES, categorize } from './event-catalogue';

describe('event catalogue', () => {
  it('lists only well-formed types in emitter categories', () => {
    for (const [type, category] of Object.entries(EVENT_CATALOGUE)) {
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
