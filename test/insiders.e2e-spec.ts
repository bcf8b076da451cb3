import { ConsoleSessions } from '../src/access';
import { TestApp, createKey, createPerson, rotateOwnKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase } from './support/test-database';

/**
 * No single insider can break a promise (docs/api.md "Threat model"): every attack an admin, a
 * tenant-scoped admin or a legal person could try alone, from their side of the API.
 */
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

describe('insiders: one person alone', () => {
  let db: string;
  let t: TestApp;
  /** An admin of tenant acme only. */
  let acmeAdmin: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    acmeAdmin = await createKey(t, 'acme-admin', ['admin'], ['acme']);
    // Holds are placed on tenants that exist: their logs have an entry.
    const emitter = await createKey(t, 'setup-emitter', ['emitter'], ['*']);
    for (const tenant of ['acme', 'globex'])
      await t
        .http()
        .post('/v1/events')
        .set(auth(emitter))
        .send({ tenant, type: 'auth.logout', actor: { type: 'user', id: 'u0' } })
        .expect(201);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  let holds = 0;
  async function holdOn(tenant: string, by: string): Promise<string> {
    const res = await t
      .http()
      .post('/v1/holds')
      .set(auth(by))
      .send({ tenant, matter: `MAT-${++holds}`, scope: { subjects: ['u1'] } })
      .expect(201);
    return res.body.id as string;
  }
  const release = (id: string, key: string) =>
    t.http().post(`/v1/holds/${id}/release`).set(auth(key)).send({ reason: 'matter closed' });
  const status = async (id: string, key: string) =>
    (await t.http().get(`/v1/holds/${id}`).set(auth(key)).expect(200)).body.status as string;

  describe('two-person release counts people, not keys', () => {
    for (const [who, admin] of [
      ['the admin of every tenant', () => t.adminKey],
      ['a tenant-scoped admin', () => acmeAdmin],
    ] as const) {
      it(`${who} cannot supply the second approval with a key it made for the first approver`, async () => {
        const alice = await createPerson(t, `alice-${holds}-a`, ['legal'], ['acme']);
        const id = await holdOn('acme', alice.key);
        expect((await release(id, alice.key).expect(202)).body).toMatchObject({ approvals: 1, required: 2 });
        // A second legal key for the same person: the admin holds its secret.
        const second = await t
          .http()
          .post('/v1/keys')
          .set(auth(admin()))
          .send({ principal: alice.principal, name: `alice-second-${holds}`, roles: ['legal'], tenants: ['acme'] })
          .expect(201);
        expect((await release(id, second.body.key).expect(202)).body).toMatchObject({ approvals: 1 });
        expect(await status(id, alice.key)).toBe('active');
      });

      it(`${who} cannot make a second legal person alone: the grant waits for a legal person`, async () => {
        const sock = await t
          .http()
          .post('/v1/principals')
          .set(auth(admin()))
          .send({ name: `sock-${++holds}`, kind: 'person', email: `sock-${holds}@example.test` })
          .expect(201);
        const grant = await t
          .http()
          .post(`/v1/principals/${sock.body.id}/grants`)
          .set(auth(admin()))
          .send({ role: 'legal', tenants: ['acme'] })
          .expect(201);
        expect(grant.body).toMatchObject({ role: 'legal', status: 'pending' });
        const key = await t
          .http()
          .post('/v1/keys')
          .set(auth(admin()))
          .send({ principal: sock.body.id, name: `sock-key-${holds}`, roles: ['legal'], tenants: ['acme'] })
          .expect(403);
        expect(key.body.code).toBe('beyond_principal_grants');
        // Nor may it approve the grant itself: approving is a legal person's act.
        await t.http().post(`/v1/grants/${grant.body.id}/approve`).set(auth(admin())).expect(403);
      });
    }

    it('two console sessions of one person signed in through the identity provider count as one approver', async () => {
      const subject = `https://idp.example.test#dana-${++holds}`;
      const dana = await createPerson(t, `dana-${holds}`, ['legal'], ['acme'], t.adminKey, subject);
      const sessions = t.app.get(ConsoleSessions);
      // Each sign-in acts through a key made for its session alone: two keys, one person.
      const first = await sessions.signInWithProvider(subject);
      const second = await sessions.signInWithProvider(subject);
      expect(first.principal.keyId).not.toBe(second.principal.keyId);
      const other = await createPerson(t, `other-${holds}`, ['legal'], ['acme']);
      const id = await holdOn('acme', other.key);
      expect((await release(id, first.token).expect(202)).body).toMatchObject({ approvals: 1, required: 2 });
      expect((await release(id, second.token).expect(202)).body).toMatchObject({ approvals: 1 });
      expect((await release(id, dana.key).expect(202)).body).toMatchObject({ approvals: 1 });
      expect(await status(id, other.key)).toBe('active');
      await release(id, other.key).expect(200);
      expect(await status(id, other.key)).toBe('released');
    });

    it('a person with both admin and legal can neither approve the legal grant it asked for nor release alone', async () => {
      const lena = await createPerson(t, 'lena', ['admin', 'legal'], ['acme']);
      const sock = await t
        .http()
        .post('/v1/principals')
        .set(auth(lena.key))
        .send({ name: 'lenas-sock', kind: 'person', email: 'sock@lena.example.test' })
        .expect(201);
      const grant = await t
        .http()
        .post(`/v1/principals/${sock.body.id}/grants`)
        .set(auth(lena.key))
        .send({ role: 'legal', tenants: ['acme'] })
        .expect(201);
      const approval = await t.http().post(`/v1/grants/${grant.body.id}/approve`).set(auth(lena.key)).expect(403);
      expect(approval.body.code).toBe('second_person_required');

      // A real second legal person, Bob: Lena makes a key for him and tries to approve as him.
      const bob = await createPerson(t, 'bob-of-acme', ['legal'], ['acme']);
      const bobsKeyByLena = await t
        .http()
        .post('/v1/keys')
        .set(auth(lena.key))
        .send({ principal: bob.principal, name: 'bob-by-lena', roles: ['legal'], tenants: ['acme'] })
        .expect(201);
      const id = await holdOn('acme', lena.key);
      await release(id, lena.key).expect(202);
      const second = await release(id, bobsKeyByLena.body.key).expect(409);
      expect(second.body.code).toBe('approval_not_independent');
      expect(await status(id, lena.key)).toBe('active');
      // Bob's own key (rotated by himself) is a second person.
      await release(id, bob.key).expect(200);
    });

    it("an admin cannot approve a legal grant it asked for through a legal person's key it made", async () => {
      const carol = await createPerson(t, 'carol', ['legal'], ['*']);
      const carolsKeyByAdmin = await t
        .http()
        .post('/v1/keys')
        .set(auth(t.adminKey))
        .send({ principal: carol.principal, name: 'carol-by-admin', roles: ['legal'], tenants: ['*'] })
        .expect(201);
      const sock = await t
        .http()
        .post('/v1/principals')
        .set(auth(t.adminKey))
        .send({ name: 'admins-sock', kind: 'person', email: 'sock@admin.example.test' })
        .expect(201);
      const grant = await t
        .http()
        .post(`/v1/principals/${sock.body.id}/grants`)
        .set(auth(t.adminKey))
        .send({ role: 'legal', tenants: ['*'] })
        .expect(201);
      const refused = await t
        .http()
        .post(`/v1/grants/${grant.body.id}/approve`)
        .set(auth(carolsKeyByAdmin.body.key))
        .expect(403);
      expect(refused.body.code).toBe('second_person_required');
      // Carol herself, with the key only she knows, may approve it.
      const approved = await t.http().post(`/v1/grants/${grant.body.id}/approve`).set(auth(carol.key)).expect(200);
      expect(approved.body).toMatchObject({ status: 'active', approvedBy: carol.principal });
    });

    for (const [what, revoke] of [
      [
        'its key',
        (p: { principal: string; keyId: string }) => t.http().delete(`/v1/keys/${p.keyId}`).set(auth(t.adminKey)),
      ],
      [
        'its person',
        (p: { principal: string; keyId: string }) =>
          t.http().delete(`/v1/principals/${p.principal}`).set(auth(t.adminKey)),
      ],
      [
        "its person's legal grant",
        async (p: { principal: string; keyId: string }) => {
          const principal = await t.http().get(`/v1/principals/${p.principal}`).set(auth(t.adminKey)).expect(200);
          const legal = principal.body.grants.find((g: { role: string }) => g.role === 'legal');
          return t.http().delete(`/v1/grants/${legal.id}`).set(auth(t.adminKey));
        },
      ],
    ] as const) {
      it(`an approval no longer counts once ${what} is revoked before the release`, async () => {
        const first = await createPerson(t, `first-${++holds}`, ['legal'], ['acme']);
        const second = await createPerson(t, `second-${holds}`, ['legal'], ['acme']);
        const third = await createPerson(t, `third-${holds}`, ['legal'], ['acme']);
        const id = await holdOn('acme', second.key);
        await release(id, first.key).expect(202);
        await (
          await revoke(first)
        ).ok;
        expect((await release(id, second.key).expect(202)).body).toMatchObject({ approvals: 1, required: 2 });
        expect(await status(id, second.key)).toBe('active');
        const released = await release(id, third.key).expect(200);
        const entry = (await t.http().get(`/v1/holds/${id}`).set(auth(third.key)).expect(200)).body.history.at(-1);
        expect(entry.type).toBe('hold.released');
        expect(entry.approvers.map((a: { principal: string }) => a.principal).sort()).toEqual(
          [second.principal, third.principal].sort(),
        );
        expect(released.body.status).toBe('released');
      });
    }

    it('a revoked grant or person stops its keys at once', async () => {
      const dave = await createPerson(t, 'dave', ['investigator'], ['acme']);
      await t.http().get('/v1/events?tenant=acme').set(auth(dave.key)).expect(200);
      const principal = await t.http().get(`/v1/principals/${dave.principal}`).set(auth(acmeAdmin)).expect(200);
      await t.http().delete(`/v1/grants/${principal.body.grants[0].id}`).set(auth(acmeAdmin)).expect(200);
      await t.http().get('/v1/events?tenant=acme').set(auth(dave.key)).expect(403);

      const erin = await createKey(t, 'erin-service', ['emitter'], ['acme']);
      const keys = (await t.http().get('/v1/keys').set(auth(acmeAdmin)).expect(200)).body.items;
      const erinsKey = keys.find((k: { name: string }) => k.name === 'erin-service');
      await t.http().delete(`/v1/principals/${erinsKey.principal}`).set(auth(acmeAdmin)).expect(200);
      await t
        .http()
        .post('/v1/events')
        .set(auth(erin))
        .send({ tenant: 'acme', type: 'auth.logout', actor: { type: 'user', id: 'u1' } })
        .expect(401);
    });

    it('a tenant-scoped admin grants nothing outside its tenants and does not see principals beyond them', async () => {
      const other = await createKey(t, 'globex-service', ['emitter'], ['globex']);
      expect(other).toBeTruthy();
      const listed = (await t.http().get('/v1/principals').set(auth(acmeAdmin)).expect(200)).body.items;
      expect(listed.map((p: { name: string }) => p.name)).not.toContain('globex-service');
      const fresh = await t
        .http()
        .post('/v1/principals')
        .set(auth(acmeAdmin))
        .send({ name: 'fresh-service', kind: 'service' })
        .expect(201);
      const refused = await t
        .http()
        .post(`/v1/principals/${fresh.body.id}/grants`)
        .set(auth(acmeAdmin))
        .send({ role: 'admin', tenants: ['*'] })
        .expect(403);
      expect(refused.body.code).toBe('grant_exceeds_holder');
    });
  });

  describe('provenance', () => {
    it.each(['audit-trail', 'Audit-Trail', 'operator'])(
      'refuses the reserved name %s for keys and principals',
      async (name) => {
        const key = await t
          .http()
          .post('/v1/keys')
          .set(auth(t.adminKey))
          .send({ name, roles: ['emitter'], tenants: ['acme'] })
          .expect(409);
        expect(key.body.code).toBe('reserved_name');
        const principal = await t
          .http()
          .post('/v1/principals')
          .set(auth(acmeAdmin))
          .send({ name, kind: 'service' })
          .expect(409);
        expect(principal.body.code).toBe('reserved_name');
      },
    );

    it('refuses operator/… names (no slash in a name)', async () => {
      await t
        .http()
        .post('/v1/principals')
        .set(auth(t.adminKey))
        .send({ name: 'operator/cli', kind: 'service' })
        .expect(400);
    });

    it('refuses a second key or principal of a name, whatever the case, even after revocation', async () => {
      await createKey(t, 'billing', ['emitter'], ['acme']);
      const again = await t
        .http()
        .post('/v1/keys')
        .set(auth(t.adminKey))
        .send({ name: 'BILLING', roles: ['emitter'], tenants: ['globex'] })
        .expect(409);
      expect(again.body.code).toBe('name_taken');
      const gone = await t.http().post('/v1/principals').set(auth(t.adminKey)).send({ name: 'gone', kind: 'service' });
      await t.http().delete(`/v1/principals/${gone.body.id}`).set(auth(t.adminKey)).expect(200);
      const reused = await t
        .http()
        .post('/v1/principals')
        .set(auth(t.adminKey))
        .send({ name: 'gone', kind: 'service' })
        .expect(409);
      expect(reused.body.code).toBe('name_taken');
    });

    it("scopes idempotency to the emitting principal: one tenant's retry never meets another's key", async () => {
      const acme = await createKey(t, 'billing-acme', ['emitter'], ['acme']);
      const globex = await createKey(t, 'billing-globex', ['emitter'], ['globex']);
      const idempotencyKey = 'invoice-42';
      const send = (key: string, tenant: string) =>
        t
          .http()
          .post('/v1/events')
          .set(auth(key))
          .set('idempotency-key', idempotencyKey)
          .send({ tenant, type: 'billing.invoice.issued', actor: { type: 'service', id: 'billing' } });
      const first = await send(acme, 'acme').expect(201);
      const second = await send(globex, 'globex').expect(201);
      expect(second.body.id).not.toBe(first.body.id);
      // The same principal's retry is still answered with its first acknowledgement.
      expect((await send(acme, 'acme').expect(201)).body.id).toBe(first.body.id);
    });

    it("sets the leaf's source to the emitting principal's name, not the key's", async () => {
      const service = await t
        .http()
        .post('/v1/principals')
        .set(auth(t.adminKey))
        .send({ name: 'marketplace', kind: 'service' })
        .expect(201);
      await t
        .http()
        .post(`/v1/principals/${service.body.id}/grants`)
        .set(auth(t.adminKey))
        .send({ role: 'emitter', tenants: ['acme'] })
        .expect(201);
      const key = await t
        .http()
        .post('/v1/keys')
        .set(auth(t.adminKey))
        .send({ principal: service.body.id, name: 'marketplace-2026', roles: ['emitter'], tenants: ['acme'] })
        .expect(201);
      const appended = await t
        .http()
        .post('/v1/events')
        .set(auth(key.body.key))
        .send({ tenant: 'acme', type: 'auth.logout', actor: { type: 'user', id: 'u1' } })
        .expect(201);
      const investigator = await createKey(t, 'provenance-investigator', ['investigator'], ['*']);
      const read = await t.http().get(`/v1/events/${appended.body.id}`).set(auth(investigator)).expect(200);
      expect(read.body.source).toBe('marketplace');
    });

    it('refuses a legal key for a service: legal is a person’s role', async () => {
      const res = await t
        .http()
        .post('/v1/keys')
        .set(auth(t.adminKey))
        .send({ name: 'robo-lawyer', roles: ['legal'], tenants: ['acme'] })
        .expect(422);
      expect(res.body.code).toBe('grant_needs_person');
    });
  });

  describe('keys', () => {
    it('a key rotates itself, after which only its holder has seen the secret; it cannot rotate another', async () => {
      const frank = await createPerson(t, 'frank', ['investigator'], ['acme']);
      const other = await createKey(t, 'other-service', ['emitter'], ['acme']);
      const keys = (await t.http().get('/v1/keys').set(auth(t.adminKey)).expect(200)).body.items;
      const otherId = keys.find((k: { name: string }) => k.name === 'other-service').id as string;
      const refused = await t.http().post(`/v1/keys/${otherId}/rotate`).set(auth(frank.key)).expect(403);
      expect(refused.body.code).toBe('forbidden');
      await t.http().get('/v1/events?tenant=acme').set(auth(other)).expect(403);

      const made = await t
        .http()
        .post('/v1/keys')
        .set(auth(t.adminKey))
        .send({ principal: frank.principal, name: 'frank-2', roles: ['investigator'], tenants: ['acme'] })
        .expect(201);
      let listed = (await t.http().get('/v1/keys').set(auth(t.adminKey)).expect(200)).body.items;
      expect(listed.find((k: { id: string }) => k.id === made.body.id).knownTo).toHaveLength(2);
      const rotated = await rotateOwnKey(t, made.body.id, made.body.key);
      await t.http().get('/v1/events?tenant=acme').set(auth(made.body.key)).expect(401);
      await t.http().get('/v1/events?tenant=acme').set(auth(rotated)).expect(200);
      listed = (await t.http().get('/v1/keys').set(auth(t.adminKey)).expect(200)).body.items;
      expect(listed.find((k: { id: string }) => k.id === made.body.id).knownTo).toEqual([frank.principal]);
    });
  });
});
