import fc from 'fast-check';
import {
  GrantExceedsHolderError,
  GrantNeedsPersonError,
  GrantNotFoundError,
  GrantNotPendingError,
  PrincipalNotActiveError,
  PrincipalNotFoundError,
  ReservedNameError,
  SecondPersonRequiredError,
} from '../access.errors';
import { OPERATOR_PRINCIPALS, Principal, ROLES, Role, operator } from '../roles';
import {
  GrantState,
  NewGrant,
  PrincipalEvent,
  PrincipalState,
  applyPrincipalEvents,
  decideApproveGrant,
  decideCreatePrincipal,
  decideFirstLegalPerson,
  decideGrant,
  decideOperatorPrincipal,
  decideRevokeGrant,
  decideRevokePrincipal,
  decideServiceForKey,
  evolve,
  isReservedName,
  mayManagePrincipal,
  principalOfEvent,
  rolesOver,
} from './principal.decider';

const NOW = new Date('2026-12-01T09:00:00.000Z');
const AT = NOW.toISOString();

/** A person acting through its own key; `seenBy` are others who have seen that key's secret. */
function person(name: string, roles: Role[], tenants: string[] = ['*'], seenBy: string[] = []): Principal {
  return {
    keyId: `key-${name}`,
    keyName: `${name}-laptop`,
    principalId: `p-${name}`,
    name,
    kind: 'person',
    roles,
    tenants,
    expiresAt: null,
    knownTo: [`p-${name}`, ...seenBy],
  };
}

const root = person('root', ['admin']);
const acmeAdmin = person('ada', ['admin'], ['acme']);
/** An admin who also holds legal: she asks for legal grants, so she may never approve them. */
const lena = person('lena', ['admin', 'legal']);
/** A legal person independent of everyone here. */
const leo = person('leo', ['legal']);

function created(id: string, name: string, kind: 'person' | 'service' = 'person'): PrincipalEvent {
  return {
    type: 'principal.created',
    principal: { id, name, kind, email: null, oidcSubject: null },
    by: root.principalId,
    at: AT,
  };
}

function added(id: string, grant: NewGrant, by = root.principalId): PrincipalEvent {
  return { type: 'principal.grant_added', id, grant, by, at: AT };
}

/** given(events) → state */
const given = (...events: PrincipalEvent[]) => applyPrincipalEvents(undefined, events) as PrincipalState;

const gina = given(created('p-gina', 'gina'));
const billing = given(created('p-billing', 'billing', 'service'));
/** Gina, for whom Lena asked `legal` over acme: pending a second legal person. */
const pending = given(created('p-gina', 'gina'), {
  type: 'principal.grant_requested',
  id: 'p-gina',
  grant: { id: 'g-legal', role: 'legal', tenants: ['acme'] },
  by: lena.principalId,
  at: AT,
});

describe('principal decider', () => {
  describe('names', () => {
    it.each([
      'audit-trail',
      'Audit-Trail',
      'AUDIT-TRAIL',
      'operator',
      'Operator',
      'operator/cli',
      'OPERATOR/x',
      'operator/',
    ])('refuses the reserved name %j, whoever asks and however it is made', (name) => {
      expect(() =>
        decideCreatePrincipal(root, { id: 'p-x', name, kind: 'person', email: null, oidcSubject: null }, NOW),
      ).toThrow(ReservedNameError);
      expect(() =>
        decideCreatePrincipal(
          operator('cli'),
          { id: 'p-x', name, kind: 'service', email: null, oidcSubject: null },
          NOW,
        ),
      ).toThrow(ReservedNameError);
      expect(() =>
        decideFirstLegalPerson(operator('cli'), { id: 'p-x', name, email: null, oidcSubject: null }, 'g', NOW),
      ).toThrow(ReservedNameError);
      expect(() => decideServiceForKey(root, { id: 'p-x', name }, [], NOW)).toThrow(ReservedNameError);
    });

    it('property: every casing of the service name and of the operator names is reserved', () => {
      const reserved = fc.oneof(
        fc.mixedCase(fc.constant('audit-trail')),
        fc.mixedCase(fc.constant('operator')),
        fc.tuple(fc.mixedCase(fc.constant('operator/')), fc.string()).map(([head, tail]) => head + tail),
      );
      fc.assert(fc.property(reserved, (name) => isReservedName(name)));
    });

    it('leaves names that merely resemble them free', () => {
      for (const name of ['audit-trail-bot', 'operators', 'my/operator', 'operator-x', 'billing'])
        expect(
          decideCreatePrincipal(root, { id: 'p-x', name, kind: 'service', email: null, oidcSubject: null }, NOW),
        ).toHaveLength(1);
    });
  });

  describe('grant', () => {
    it('gives every role but legal at once', () => {
      const events = decideGrant(root, billing, { id: 'g1', role: 'emitter', tenants: ['acme'] }, NOW);
      expect(events).toEqual([
        {
          type: 'principal.grant_added',
          id: 'p-billing',
          grant: { id: 'g1', role: 'emitter', tenants: ['acme'] },
          by: 'p-root',
          at: AT,
        },
      ]);
      expect(rolesOver((applyPrincipalEvents(billing, events) as PrincipalState).grants, ['acme'])).toEqual([
        'emitter',
      ]);
    });

    it('gives legal to a person only pending: it grants nothing until approved', () => {
      const events = decideGrant(lena, gina, { id: 'g-legal', role: 'legal', tenants: ['acme'] }, NOW);
      expect(events.map((e) => e.type)).toEqual(['principal.grant_requested']);
      const state = applyPrincipalEvents(gina, events) as PrincipalState;
      expect(state.grants).toEqual([
        expect.objectContaining({ id: 'g-legal', status: 'pending', requestedBy: 'p-lena' }),
      ]);
      expect(rolesOver(state.grants, ['acme'])).toEqual([]);
    });

    it('refuses legal to a service, even from an admin of every tenant', () => {
      expect(() => decideGrant(root, billing, { id: 'g', role: 'legal', tenants: ['acme'] }, NOW)).toThrow(
        GrantNeedsPersonError,
      );
      expect(() => decideGrant(operator('cli'), billing, { id: 'g', role: 'legal', tenants: ['*'] }, NOW)).toThrow(
        GrantNeedsPersonError,
      );
    });

    it('refuses a grant beyond the granter own tenant scope', () => {
      expect(() => decideGrant(acmeAdmin, billing, { id: 'g', role: 'emitter', tenants: ['globex'] }, NOW)).toThrow(
        GrantExceedsHolderError,
      );
      expect(() => decideGrant(acmeAdmin, billing, { id: 'g', role: 'emitter', tenants: ['*'] }, NOW)).toThrow(
        /tenant \*/,
      );
      expect(() =>
        decideGrant(acmeAdmin, billing, { id: 'g', role: 'admin', tenants: ['acme', 'globex'] }, NOW),
      ).toThrow(/globex/);
      expect(decideGrant(acmeAdmin, billing, { id: 'g', role: 'emitter', tenants: ['acme'] }, NOW)).toHaveLength(1);
    });

    it('refuses a revoked principal, and answers "no such principal" for the operator and the hidden', () => {
      const revoked = given(created('p-gina', 'gina'), {
        type: 'principal.revoked',
        id: 'p-gina',
        by: 'p-root',
        at: AT,
      });
      const grant = { id: 'g', role: 'investigator' as const, tenants: ['acme'] };
      expect(() => decideGrant(root, revoked, grant, NOW)).toThrow(PrincipalNotActiveError);
      const op = given(...decideOperatorPrincipal(OPERATOR_PRINCIPALS.cli, 'g-op', NOW));
      expect(() => decideGrant(root, op, grant, NOW)).toThrow(PrincipalNotFoundError);
      const globex = given(
        created('p-gina', 'gina'),
        added('p-gina', { id: 'g0', role: 'investigator', tenants: ['globex'] }),
      );
      expect(() => decideGrant(acmeAdmin, globex, grant, NOW)).toThrow(PrincipalNotFoundError);
      expect(() => decideGrant(root, undefined, grant, NOW)).toThrow(PrincipalNotFoundError);
    });
  });

  describe('approve a legal grant', () => {
    const approve =
      (by: Principal, state: PrincipalState = pending) =>
      () =>
        decideApproveGrant(by, state, 'g-legal', NOW);

    it('by an independent legal person: the grant becomes active', () => {
      const events = approve(leo)();
      expect(events).toEqual([
        { type: 'principal.grant_approved', id: 'p-gina', grantId: 'g-legal', by: 'p-leo', at: AT },
      ]);
      const state = applyPrincipalEvents(pending, events) as PrincipalState;
      expect(state.grants).toEqual([
        expect.objectContaining({
          id: 'g-legal',
          status: 'active',
          requestedBy: 'p-lena',
          approvedBy: 'p-leo',
          approvedAt: AT,
        }),
      ]);
      expect(rolesOver(state.grants, ['acme'])).toEqual(['legal']);
    });

    it('refuses the grantee', () => {
      expect(approve(person('gina', ['legal']))).toThrow(/neither the grantee nor whoever asked/);
    });

    it('refuses whoever asked for it', () => {
      expect(approve(lena)).toThrow(SecondPersonRequiredError);
      expect(approve(lena)).toThrow(/neither the grantee nor whoever asked/);
    });

    it('refuses a service and the operator, even holding legal', () => {
      expect(approve({ ...leo, kind: 'service' })).toThrow(/approved by a person who holds legal/);
      expect(approve({ ...operator('cli'), roles: ['admin', 'legal'] })).toThrow(SecondPersonRequiredError);
    });

    it('refuses a person without legal over every tenant of the grant', () => {
      expect(approve(root)).toThrow(/approved by a person who holds legal/);
      // Legal over acme only, for a grant over acme and globex: the grantee is not even visible.
      const wide = given(created('p-gina', 'gina'), {
        type: 'principal.grant_requested',
        id: 'p-gina',
        grant: { id: 'g-legal', role: 'legal', tenants: ['acme', 'globex'] },
        by: lena.principalId,
        at: AT,
      });
      expect(approve(person('laura', ['legal'], ['acme']), wide)).toThrow(PrincipalNotFoundError);
    });

    it('refuses a key whose secret the asker has seen (the admin made the approver key)', () => {
      expect(approve(person('leo', ['legal'], ['*'], ['p-lena']))).toThrow(/must rotate it first/);
    });

    it('refuses a key whose secret the grantee has seen', () => {
      expect(approve(person('leo', ['legal'], ['*'], ['p-gina']))).toThrow(/must rotate it first/);
    });

    it('refuses a grant that is not pending, and one that does not exist', () => {
      const approved = applyPrincipalEvents(pending, approve(leo)()) as PrincipalState;
      expect(approve(person('lou', ['legal']), approved)).toThrow(GrantNotPendingError);
      const withdrawn = applyPrincipalEvents(
        pending,
        decideRevokeGrant(root, pending, 'g-legal', NOW),
      ) as PrincipalState;
      expect(approve(leo, withdrawn)).toThrow(/revoked, not pending/);
      expect(() => decideApproveGrant(leo, pending, 'g-other', NOW)).toThrow(GrantNotFoundError);
    });
  });

  describe('rolesOver', () => {
    const grant = (role: Role, tenants: string[], status: GrantState['status'] = 'active'): GrantState => ({
      id: `g-${role}-${tenants.join('+')}-${status}`,
      role,
      tenants,
      status,
      requestedBy: null,
      requestedAt: AT,
      approvedBy: null,
      approvedAt: null,
      revokedAt: null,
    });

    it('counts only active grants', () => {
      expect(rolesOver([grant('legal', ['*'], 'pending'), grant('admin', ['*'], 'revoked')], ['acme'])).toEqual([]);
      expect(rolesOver([grant('legal', ['*'], 'active')], ['acme'])).toEqual(['legal']);
    });

    it('a "*" grant covers every tenant and "*"; a tenant grant covers neither "*" nor tenants it does not name', () => {
      expect(rolesOver([grant('admin', ['*'])], ['*'])).toEqual(['admin']);
      expect(rolesOver([grant('admin', ['*'])], ['acme', 'globex'])).toEqual(['admin']);
      expect(rolesOver([grant('admin', ['acme', 'globex'])], ['*'])).toEqual([]);
      expect(rolesOver([grant('admin', ['acme'])], ['acme', 'globex'])).toEqual([]);
    });

    it('one grant must cover every tenant: two grants over a tenant each do not add up', () => {
      expect(rolesOver([grant('legal', ['acme']), grant('legal', ['globex'])], ['acme', 'globex'])).toEqual([]);
    });

    it('property: a role is returned exactly when one active grant of it covers all the tenants', () => {
      const tenant = fc.constantFrom('*', 'acme', 'globex', 'initech');
      const arbitraryGrant = fc
        .record({
          role: fc.constantFrom(...ROLES),
          tenants: fc.uniqueArray(tenant, { minLength: 1 }),
          status: fc.constantFrom('pending' as const, 'active' as const, 'revoked' as const),
        })
        .map(({ role, tenants, status }) => grant(role, tenants, status));
      const covers = (g: GrantState, tenants: string[]) =>
        g.tenants.includes('*') || (!tenants.includes('*') && tenants.every((t) => g.tenants.includes(t)));
      fc.assert(
        fc.property(
          fc.array(arbitraryGrant, { maxLength: 6 }),
          fc.uniqueArray(tenant, { minLength: 1 }),
          (grants, tenants) => {
            const held = rolesOver(grants, tenants);
            for (const role of ROLES)
              expect(held.includes(role)).toBe(
                grants.some((g) => g.role === role && g.status === 'active' && covers(g, tenants)),
              );
          },
        ),
      );
    });
  });

  describe('mayManagePrincipal', () => {
    it('shows a principal only to admins whose scope holds every grant it has or awaits', () => {
      expect(mayManagePrincipal(acmeAdmin, gina)).toBe(true);
      const atGlobex = given(
        created('p-gina', 'gina'),
        added('p-gina', { id: 'g1', role: 'investigator', tenants: ['globex'] }),
      );
      expect(mayManagePrincipal(acmeAdmin, atGlobex)).toBe(false);
      expect(mayManagePrincipal(root, atGlobex)).toBe(true);
      const everywhere = given(
        created('p-gina', 'gina'),
        added('p-gina', { id: 'g1', role: 'investigator', tenants: ['*'] }),
      );
      expect(mayManagePrincipal(acmeAdmin, everywhere)).toBe(false);
      const mixed = given(
        created('p-gina', 'gina'),
        added('p-gina', { id: 'g1', role: 'investigator', tenants: ['acme', 'globex'] }),
      );
      expect(mayManagePrincipal(acmeAdmin, mixed)).toBe(false);
      // A pending grant hides as much as an active one; a withdrawn one no longer does.
      expect(mayManagePrincipal(person('ada', ['admin'], ['globex']), pending)).toBe(false);
      const withdrawn = applyPrincipalEvents(atGlobex, decideRevokeGrant(root, atGlobex, 'g1', NOW)) as PrincipalState;
      expect(mayManagePrincipal(acmeAdmin, withdrawn)).toBe(true);
    });

    it('a hidden principal is answered as a missing one', () => {
      const atGlobex = given(
        created('p-gina', 'gina'),
        added('p-gina', { id: 'g1', role: 'investigator', tenants: ['globex'] }),
      );
      expect(() => decideRevokePrincipal(acmeAdmin, atGlobex, NOW)).toThrow(PrincipalNotFoundError);
      expect(() => decideRevokeGrant(acmeAdmin, atGlobex, 'g1', NOW)).toThrow(PrincipalNotFoundError);
      expect(() => decideGrant(acmeAdmin, atGlobex, { id: 'g2', role: 'emitter', tenants: ['acme'] }, NOW)).toThrow(
        PrincipalNotFoundError,
      );
    });
  });

  describe('revoke', () => {
    it('revokes a principal once; it then takes no grant', () => {
      const events = decideRevokePrincipal(root, gina, NOW);
      expect(events).toEqual([{ type: 'principal.revoked', id: 'p-gina', by: 'p-root', at: AT }]);
      const revoked = applyPrincipalEvents(gina, events) as PrincipalState;
      expect(revoked.revokedAt).toBe(AT);
      expect(decideRevokePrincipal(root, revoked, NOW)).toEqual([]);
      expect(() => decideGrant(root, revoked, { id: 'g', role: 'emitter', tenants: ['acme'] }, NOW)).toThrow(
        PrincipalNotActiveError,
      );
    });

    it('never revokes the operator, nor a principal that does not exist', () => {
      const op = given(...decideOperatorPrincipal(OPERATOR_PRINCIPALS.scheduler, 'g-op', NOW));
      expect(() => decideRevokePrincipal(root, op, NOW)).toThrow(PrincipalNotFoundError);
      expect(() => decideRevokePrincipal(root, undefined, NOW)).toThrow(PrincipalNotFoundError);
    });

    it('withdraws a grant, active or pending, once: its role is gone', () => {
      const active = given(
        created('p-gina', 'gina'),
        added('p-gina', { id: 'g1', role: 'investigator', tenants: ['acme'] }),
      );
      const events = decideRevokeGrant(root, active, 'g1', NOW);
      expect(events).toEqual([{ type: 'principal.grant_revoked', id: 'p-gina', grantId: 'g1', by: 'p-root', at: AT }]);
      const withdrawn = applyPrincipalEvents(active, events) as PrincipalState;
      expect(withdrawn.grants[0]).toMatchObject({ status: 'revoked', revokedAt: AT });
      expect(rolesOver(withdrawn.grants, ['acme'])).toEqual([]);
      expect(decideRevokeGrant(root, withdrawn, 'g1', NOW)).toEqual([]);
      expect(decideRevokeGrant(root, pending, 'g-legal', NOW).map((e) => e.type)).toEqual(['principal.grant_revoked']);
      expect(() => decideRevokeGrant(root, active, 'g-other', NOW)).toThrow(GrantNotFoundError);
    });
  });

  describe('evolve', () => {
    it('folds a whole life into exactly the state the tables hold', () => {
      const life: PrincipalEvent[] = [
        created('p-gina', 'gina'),
        added('p-gina', { id: 'g1', role: 'investigator', tenants: ['acme'] }),
        {
          type: 'principal.grant_requested',
          id: 'p-gina',
          grant: { id: 'g2', role: 'legal', tenants: ['acme'] },
          by: 'p-lena',
          at: '2026-12-01T10:00:00.000Z',
        },
        { type: 'principal.grant_approved', id: 'p-gina', grantId: 'g2', by: 'p-leo', at: '2026-12-01T11:00:00.000Z' },
        { type: 'principal.grant_revoked', id: 'p-gina', grantId: 'g1', by: 'p-root', at: '2026-12-01T12:00:00.000Z' },
        { type: 'principal.revoked', id: 'p-gina', by: 'p-root', at: '2026-12-01T13:00:00.000Z' },
      ];
      const state: PrincipalState = {
        id: 'p-gina',
        name: 'gina',
        kind: 'person',
        email: null,
        oidcSubject: null,
        createdAt: AT,
        createdBy: 'p-root',
        revokedAt: '2026-12-01T13:00:00.000Z',
        grants: [
          {
            id: 'g1',
            role: 'investigator',
            tenants: ['acme'],
            status: 'revoked',
            requestedBy: 'p-root',
            requestedAt: AT,
            approvedBy: null,
            approvedAt: AT,
            revokedAt: '2026-12-01T12:00:00.000Z',
          },
          {
            id: 'g2',
            role: 'legal',
            tenants: ['acme'],
            status: 'active',
            requestedBy: 'p-lena',
            requestedAt: '2026-12-01T10:00:00.000Z',
            approvedBy: 'p-leo',
            approvedAt: '2026-12-01T11:00:00.000Z',
            revokedAt: null,
          },
        ],
      };
      expect(applyPrincipalEvents(undefined, life)).toEqual(state);
      expect(life.reduce<PrincipalState | undefined>(evolve, undefined)).toEqual(state);
      // Folding in two steps is folding at once: a projector may stop anywhere and resume.
      expect(applyPrincipalEvents(applyPrincipalEvents(undefined, life.slice(0, 3)), life.slice(3))).toEqual(state);
      expect(applyPrincipalEvents(state, [])).toBe(state);
      expect(life.map(principalOfEvent)).toEqual(Array(life.length).fill('p-gina'));
    });

    it('makes the operator principals admin of every tenant', () => {
      const op = given(...decideOperatorPrincipal(OPERATOR_PRINCIPALS.cli, 'g-op', NOW));
      expect(op).toMatchObject({
        id: OPERATOR_PRINCIPALS.cli.id,
        name: 'operator/cli',
        kind: 'operator',
        createdBy: null,
      });
      expect(rolesOver(op.grants, ['*'])).toEqual(['admin']);
    });
  });

  describe('first legal person', () => {
    const first = { id: 'p-lena', name: 'lena', email: null, oidcSubject: null };

    it('is made by the operator: a person holding legal over every tenant at once', () => {
      const state = given(...decideFirstLegalPerson(operator('cli'), first, 'g-first', NOW));
      expect(state).toMatchObject({ kind: 'person', createdBy: OPERATOR_PRINCIPALS.cli.id });
      expect(rolesOver(state.grants, ['*'])).toEqual(['legal']);
    });

    it('is refused to anyone else, an admin of every tenant included', () => {
      expect(() => decideFirstLegalPerson(root, first, 'g-first', NOW)).toThrow(SecondPersonRequiredError);
      expect(() => decideFirstLegalPerson(lena, first, 'g-first', NOW)).toThrow(SecondPersonRequiredError);
      expect(() => decideFirstLegalPerson({ ...root, kind: 'service' }, first, 'g-first', NOW)).toThrow(
        SecondPersonRequiredError,
      );
    });
  });

  describe('service for a key', () => {
    it('is a service holding exactly the key roles over its tenants, at once', () => {
      const events = decideServiceForKey(
        root,
        { id: 'p-billing', name: 'billing' },
        [{ id: 'g1', role: 'emitter', tenants: ['acme'] }],
        NOW,
      );
      expect(events.map((e) => e.type)).toEqual(['principal.created', 'principal.grant_added']);
      const state = given(...events);
      expect(state.kind).toBe('service');
      expect(rolesOver(state.grants, ['acme'])).toEqual(['emitter']);
    });

    it('refuses legal, alone or beside another role', () => {
      const service = { id: 'p-billing', name: 'billing' };
      expect(() => decideServiceForKey(root, service, [{ id: 'g1', role: 'legal', tenants: ['acme'] }], NOW)).toThrow(
        GrantNeedsPersonError,
      );
      expect(() =>
        decideServiceForKey(
          operator('cli'),
          service,
          [
            { id: 'g1', role: 'emitter', tenants: ['acme'] },
            { id: 'g2', role: 'legal', tenants: ['*'] },
          ],
          NOW,
        ),
      ).toThrow(GrantNeedsPersonError);
    });

    it('refuses grants beyond its creator scope', () => {
      expect(() =>
        decideServiceForKey(
          acmeAdmin,
          { id: 'p-billing', name: 'billing' },
          [{ id: 'g1', role: 'emitter', tenants: ['globex'] }],
          NOW,
        ),
      ).toThrow(GrantExceedsHolderError);
    });
  });
});
