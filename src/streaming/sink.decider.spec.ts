import { Principal } from '../access';
import { NewSink } from './sink-request';
import { decideApprove, decideChange, decideCreate, decideReplay, mayManageSink } from './sink.decider';

const principal = (
  id: string,
  roles: Principal['roles'],
  tenants: string[],
  extra: Partial<Principal> = {},
): Principal => ({
  keyId: `key-${id}`,
  keyName: id,
  principalId: id,
  name: id,
  kind: 'person',
  roles,
  tenants,
  expiresAt: null,
  knownTo: [id],
  ...extra,
});

const admin = principal('admin-1', ['admin'], ['acme']);
const legal = principal('legal-1', ['legal'], ['*']);
const request: NewSink = {
  name: 'siem',
  kind: 'ndjson',
  url: 'https://siem.example/in',
  secret: 's'.repeat(32),
  tenants: ['acme'],
  categories: null,
  types: null,
  from: 'end',
  personalData: false,
};

describe('sink decisions', () => {
  it('creates active sinks, pending ones when they carry personal data', () => {
    expect(decideCreate(admin, 'id', request)).toMatchObject({
      status: 'active',
      createdBy: 'admin-1',
      secretSet: true,
    });
    expect(decideCreate(admin, 'id', { ...request, personalData: true }).status).toBe('pending');
  });

  it('refuses tenants outside the key scope, and "*" to a scoped key', () => {
    expect(() => decideCreate(admin, 'id', { ...request, tenants: ['acme', 'globex'] })).toThrow(/scope/);
    expect(() => decideCreate(admin, 'id', { ...request, tenants: ['*'] })).toThrow(/scope/);
    expect(decideCreate(principal('root', ['admin'], ['*']), 'id', { ...request, tenants: ['*'] }).tenants).toEqual([
      '*',
    ]);
  });

  it('hides sinks outside the scope', () => {
    const sink = decideCreate(principal('root', ['admin'], ['*']), 'id', { ...request, tenants: ['globex'] });
    expect(mayManageSink(admin, sink)).toBe(false);
    expect(() => decideChange(admin, sink, { name: 'x' })).toThrow(/no such sink/);
    expect(() => decideReplay(admin, sink, 'globex', 0, 5)).toThrow(/no such sink/);
  });

  it('records no change when nothing changes; a secret always counts', () => {
    const sink = decideCreate(admin, 'id', request);
    expect(decideChange(admin, sink, { name: 'siem' }).changed).toEqual([]);
    expect(decideChange(admin, sink, { secret: 'x'.repeat(32) }).changed).toEqual(['secret']);
  });

  it('a personal-data sink goes back to pending when where or what it sends changes', () => {
    const pending = decideCreate(admin, 'id', { ...request, personalData: true });
    const approved = decideApprove(legal, pending);
    expect(approved).toMatchObject({ status: 'active', approvedBy: 'legal-1' });
    expect(decideChange(admin, approved, { name: 'renamed' }).next.status).toBe('active');
    const moved = decideChange(admin, approved, { url: 'https://elsewhere.example' }).next;
    expect(moved).toMatchObject({ status: 'pending', approvedBy: null });
    const turnedOn = decideChange(admin, decideCreate(admin, 'id', request), { personalData: true }).next;
    expect(turnedOn.status).toBe('pending');
  });

  it('approval: a legal person over the tenants, not the creator, not through a key the creator has seen', () => {
    const pending = decideCreate(admin, 'id', { ...request, personalData: true });
    expect(() => decideApprove(principal('admin-1', ['legal', 'admin'], ['*']), pending)).toThrow(/may not approve/);
    expect(() => decideApprove(principal('l2', ['legal'], ['*'], { knownTo: ['l2', 'admin-1'] }), pending)).toThrow(
      /rotate/,
    );
    expect(() => decideApprove(principal('l3', ['legal'], ['globex']), pending)).toThrow(/no such sink/);
    expect(() => decideApprove(principal('svc', ['legal'], ['*'], { kind: 'service' }), pending)).toThrow(/person/);
    expect(() => decideApprove(legal, decideCreate(admin, 'id', request))).toThrow(/pending/);
    expect(() => decideApprove(legal, decideApprove(legal, pending))).toThrow(/pending/);
  });

  it('replays move back only, in a covered log', () => {
    const sink = decideCreate(admin, 'id', request);
    expect(() => decideReplay(admin, sink, 'acme', 3, 5)).not.toThrow();
    expect(() => decideReplay(admin, sink, 'acme', 6, 5)).toThrow(/back only/);
    expect(() => decideReplay(admin, sink, 'globex', 0, 5)).toThrow(/does not cover/);
  });
});
