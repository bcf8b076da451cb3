import { tenantScopeSetting } from './tenant-scoped-reads';

describe('tenantScopeSetting', () => {
  it('joins tenant names with commas, and is empty (sees nothing) for none', () => {
    expect(tenantScopeSetting(['acme', 'globex'])).toBe('acme,globex');
    expect(tenantScopeSetting([])).toBe('');
  });

  it('is * alone when the list holds *', () => {
    expect(tenantScopeSetting(['*'])).toBe('*');
    expect(tenantScopeSetting(['acme', '*'])).toBe('*');
  });

  it('refuses a name that is not a log name, since a comma in it would widen the scope', () => {
    expect(() => tenantScopeSetting(['acme,globex'])).toThrow(/invalid tenant/);
    expect(() => tenantScopeSetting(['Acme'])).toThrow(/invalid tenant/);
    expect(() => tenantScopeSetting([''])).toThrow(/invalid tenant/);
  });
});
