import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase } from './support/test-database';

/**
 * Every route of the API × every role × own or other tenant. Each role's key is scoped to `acme`;
 * `globex` is the other tenant. A role without the route's permission gets 403 whatever the
 * tenant; with it, its own tenant works and the other tenant is refused (403) or looks missing (404).
 */
type Role = 'emitter' | 'investigator' | 'legal' | 'admin';
const ROLES: Role[] = ['emitter', 'investigator', 'legal', 'admin'];
const OWN = 'acme';
const OTHER = 'globex';

interface Route {
  readonly name: string;
  /** The roles whose permissions include the route. */
  readonly roles: readonly Role[];
  /** Status for the own tenant. */
  readonly ok: number;
  /** Statuses acceptable for the other tenant. */
  readonly refused: readonly number[];
  readonly call: (t: TestApp, key: string, tenant: string, fixtures: Fixtures) => Promise<{ status: number }>;
}

interface Fixtures {
  /** A fresh key of `tenant` (created by the bootstrap admin), for rotation and revocation. */
  keyOf(tenant: string): Promise<string>;
  /** A fresh active hold on `tenant`. */
  holdOf(tenant: string): Promise<string>;
  /** A deletion request of `tenant`. */
  deletionOf(tenant: string): Promise<string>;
  /** An access request (a data-subject request) over `tenant`. */
  subjectRequestOf(tenant: string): Promise<string>;
  /** The id of an entry of `tenant`. */
  eventOf(tenant: string): Promise<string>;
  /** A fresh principal (a service) that holds `emitter` over `tenant`. */
  principalOf(tenant: string): Promise<string>;
  /** A fresh principal without grants: every admin sees it. */
  ungrantedPrincipal(): Promise<string>;
  /** A pending `legal` grant over `tenant` of a fresh person, asked for by the bootstrap admin. */
  pendingLegalGrantOf(tenant: string): Promise<string>;
  /** The active `emitter` grant over `tenant` of a fresh principal. */
  grantOf(tenant: string): Promise<string>;
}

const event = (tenant: string) => ({ tenant, type: 'auth.logout', actor: { type: 'user', id: 'u1' } });
const auth = (key: string) => ({ authorization: `Bearer ${key}` });
let made = 0;
/** Names of principals and keys are unique: every fixture gets its own. */
const unique = (prefix: string) => `${prefix}-${++made}`;

/** Routes open to anyone: health, metrics (the OpenAPI document itself is not in its own list). */
const PUBLIC_ROUTES = ['GET /health', 'GET /metrics'];

const sinkBody = (tenant: string, extra: object = {}) => ({
  name: unique(`sink-${tenant}`),
  kind: 'ndjson',
  url: 'http://127.0.0.1:9/in',
  secret: 'sink-secret-0123456789abcdef',
  tenants: [tenant],
  from: 'end',
  ...extra,
});

/** A fresh sink of `tenant`, made by the bootstrap admin. */
async function sinkOf(t: TestApp, tenant: string, extra: object = {}): Promise<string> {
  const res = await t.http().post('/v1/sinks').set(auth(t.adminKey)).send(sinkBody(tenant, extra)).expect(201);
  return res.body.id as string;
}

const ROUTES: Route[] = [
  {
    name: 'POST /v1/events',
    roles: ['emitter'],
    ok: 201,
    refused: [403],
    call: (t, k, tenant) => t.http().post('/v1/events').set(auth(k)).send(event(tenant)),
  },
  {
    name: 'POST /v1/events/batch',
    roles: ['emitter'],
    ok: 201,
    refused: [403],
    call: (t, k, tenant) =>
      t
        .http()
        .post('/v1/events/batch')
        .set(auth(k))
        .send({ events: [event(tenant)] }),
  },
  {
    name: 'GET /v1/event-types',
    roles: ROLES,
    ok: 200,
    refused: [],
    call: (t, k) => t.http().get('/v1/event-types').set(auth(k)),
  },
  {
    name: 'GET /v1/event-types/{type}',
    roles: ROLES,
    ok: 200,
    refused: [],
    call: (t, k) => t.http().get('/v1/event-types/auth.login.failed').set(auth(k)),
  },
  {
    name: 'GET /v1/events',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: (t, k, tenant) => t.http().get(`/v1/events?tenant=${tenant}`).set(auth(k)),
  },
  {
    name: 'GET /v1/events/{id}',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .get(`/v1/events/${await f.eventOf(tenant)}`)
        .set(auth(k)),
  },
  {
    name: 'GET /v1/exports',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: (t, k, tenant) => t.http().get(`/v1/exports?tenant=${tenant}`).set(auth(k)),
  },
  {
    name: 'GET /v1/logs/{log}/checkpoint',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: (t, k, tenant) => t.http().get(`/v1/logs/${tenant}/checkpoint`).set(auth(k)),
  },
  {
    name: 'GET /v1/witness/policy',
    roles: ['investigator'],
    ok: 200,
    refused: [],
    call: (t, k) => t.http().get('/v1/witness/policy').set(auth(k)),
  },
  {
    name: 'GET /v1/events/{id}/proof',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .get(`/v1/events/${await f.eventOf(tenant)}/proof`)
        .set(auth(k)),
  },
  {
    name: 'GET /v1/logs/{log}/key',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: (t, k, tenant) => t.http().get(`/v1/logs/${tenant}/key`).set(auth(k)),
  },
  {
    name: 'GET /v1/logs/{log}/proof/inclusion',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: (t, k, tenant) => t.http().get(`/v1/logs/${tenant}/proof/inclusion?index=0&size=1`).set(auth(k)),
  },
  {
    name: 'GET /v1/logs/{log}/proof/consistency',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: (t, k, tenant) => t.http().get(`/v1/logs/${tenant}/proof/consistency?from=1&size=1`).set(auth(k)),
  },
  {
    name: 'GET /v1/logs/{log}/tile/...',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: (t, k, tenant) => t.http().get(`/v1/logs/${tenant}/tile/0/000.p/1`).set(auth(k)),
  },
  {
    name: 'GET /v1/logs/{log}/tile/entries/...',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: (t, k, tenant) => t.http().get(`/v1/logs/${tenant}/tile/entries/000.p/1`).set(auth(k)),
  },
  {
    name: 'POST /v1/logs/{log}/verify',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: (t, k, tenant) => t.http().post(`/v1/logs/${tenant}/verify`).set(auth(k)),
  },
  {
    name: 'POST /v1/logs/{log}/checkpoint',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: (t, k, tenant) => t.http().post(`/v1/logs/${tenant}/checkpoint`).set(auth(k)),
  },
  {
    name: 'GET /v1/logs/{log}/quarantine',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: (t, k, tenant) => t.http().get(`/v1/logs/${tenant}/quarantine`).set(auth(k)),
  },
  {
    name: 'GET /v1/logs/{log}/stream',
    roles: ['investigator'],
    ok: 200,
    refused: [404],
    call: (t, k, tenant) => t.http().get(`/v1/logs/${tenant}/stream?from=0&limit=5`).set(auth(k)),
  },
  {
    name: 'POST /v1/keys',
    roles: ['admin'],
    ok: 201,
    refused: [403],
    call: (t, k, tenant) =>
      t
        .http()
        .post('/v1/keys')
        .set(auth(k))
        .send({ name: 'made', roles: ['emitter'], tenants: [tenant] }),
  },
  {
    name: 'GET /v1/keys',
    roles: ['admin'],
    ok: 200,
    refused: [],
    call: (t, k) => t.http().get('/v1/keys').set(auth(k)),
  },
  {
    name: 'POST /v1/keys/{id}/rotate',
    roles: ['admin'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .post(`/v1/keys/${await f.keyOf(tenant)}/rotate`)
        .set(auth(k)),
  },
  {
    name: 'DELETE /v1/keys/{id}',
    roles: ['admin'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .delete(`/v1/keys/${await f.keyOf(tenant)}`)
        .set(auth(k)),
  },
  {
    name: 'POST /v1/principals',
    roles: ['admin'],
    ok: 201,
    refused: [],
    call: (t, k) =>
      t
        .http()
        .post('/v1/principals')
        .set(auth(k))
        .send({ name: unique('p'), kind: 'service' }),
  },
  {
    name: 'GET /v1/principals',
    roles: ['admin'],
    ok: 200,
    refused: [],
    call: (t, k) => t.http().get('/v1/principals').set(auth(k)),
  },
  {
    name: 'GET /v1/principals/{id}',
    roles: ['admin'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .get(`/v1/principals/${await f.principalOf(tenant)}`)
        .set(auth(k)),
  },
  {
    name: 'DELETE /v1/principals/{id}',
    roles: ['admin'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .delete(`/v1/principals/${await f.principalOf(tenant)}`)
        .set(auth(k)),
  },
  {
    name: 'POST /v1/principals/{id}/grants',
    roles: ['admin'],
    ok: 201,
    refused: [403],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .post(`/v1/principals/${await f.ungrantedPrincipal()}/grants`)
        .set(auth(k))
        .send({ role: 'investigator', tenants: [tenant] }),
  },
  {
    name: 'POST /v1/grants/{id}/approve',
    roles: ['legal'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .post(`/v1/grants/${await f.pendingLegalGrantOf(tenant)}/approve`)
        .set(auth(k)),
  },
  {
    name: 'DELETE /v1/grants/{id}',
    roles: ['admin'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .delete(`/v1/grants/${await f.grantOf(tenant)}`)
        .set(auth(k)),
  },
  {
    name: 'POST /v1/holds',
    roles: ['legal'],
    ok: 201,
    refused: [403],
    call: (t, k, tenant) => t.http().post('/v1/holds').set(auth(k)).send({ tenant, matter: 'MAT', scope: {} }),
  },
  {
    name: 'GET /v1/holds',
    roles: ['legal', 'investigator'],
    ok: 200,
    refused: [],
    call: (t, k) => t.http().get('/v1/holds').set(auth(k)),
  },
  {
    name: 'GET /v1/holds/{id}',
    roles: ['legal', 'investigator'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .get(`/v1/holds/${await f.holdOf(tenant)}`)
        .set(auth(k)),
  },
  {
    name: 'POST /v1/holds/{id}/amend',
    roles: ['legal'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .post(`/v1/holds/${await f.holdOf(tenant)}/amend`)
        .set(auth(k))
        .send({ scope: {}, reason: 'wider' }),
  },
  {
    name: 'POST /v1/holds/{id}/release',
    roles: ['legal'],
    ok: 202,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .post(`/v1/holds/${await f.holdOf(tenant)}/release`)
        .set(auth(k))
        .send({ reason: 'done' }),
  },
  {
    name: 'POST /v1/holds/preview',
    roles: ['legal'],
    ok: 200,
    refused: [403],
    call: (t, k, tenant) =>
      t.http().post('/v1/holds/preview').set(auth(k)).send({ tenant, matter: 'M-preview', scope: {} }),
  },
  {
    name: 'POST /v1/holds/check',
    roles: ROLES,
    ok: 200,
    refused: [403],
    call: (t, k, tenant) => t.http().post('/v1/holds/check').set(auth(k)).send({ tenant, subject: 'u1' }),
  },
  // Retention policies hold for every tenant: any admin reads them, only a `*` admin changes them.
  {
    name: 'GET /v1/retention-policies',
    roles: ['admin'],
    ok: 200,
    refused: [],
    call: (t, k) => t.http().get('/v1/retention-policies').set(auth(k)),
  },
  {
    name: 'PUT /v1/retention-policies/{category}',
    roles: ['admin'],
    ok: 403,
    refused: [403],
    call: (t, k) =>
      t
        .http()
        .put('/v1/retention-policies/support')
        .set(auth(k))
        .send({ minDays: 120, maxDays: 400, mode: 'governance' }),
  },
  {
    name: 'POST /v1/deletion-requests',
    roles: ['legal', 'admin'],
    ok: 202,
    refused: [403],
    call: (t, k, tenant) =>
      t
        .http()
        .post('/v1/deletion-requests')
        .set(auth(k))
        .send({ kind: 'subject_erasure', tenant, subject: 'u1', reason: 'asked' }),
  },
  {
    name: 'GET /v1/deletion-requests',
    roles: ['legal', 'admin'],
    ok: 200,
    refused: [404],
    call: (t, k, tenant) => t.http().get('/v1/deletion-requests').query({ tenant }).set(auth(k)),
  },
  {
    name: 'GET /v1/deletion-requests/{id}',
    roles: ['legal', 'admin'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .get(`/v1/deletion-requests/${await f.deletionOf(tenant)}`)
        .set(auth(k)),
  },
  {
    name: 'POST /v1/subject-requests',
    roles: ['legal'],
    ok: 202,
    refused: [403],
    call: (t, k, tenant) =>
      t
        .http()
        .post('/v1/subject-requests')
        .set(auth(k))
        .send({ kind: 'access', subject: 'u1', tenants: [tenant], reason: 'asked' }),
  },
  {
    name: 'GET /v1/subject-requests',
    roles: ['legal'],
    ok: 200,
    refused: [],
    call: (t, k) => t.http().get('/v1/subject-requests').set(auth(k)),
  },
  {
    name: 'GET /v1/subject-requests/{id}',
    roles: ['legal'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .get(`/v1/subject-requests/${await f.subjectRequestOf(tenant)}`)
        .set(auth(k)),
  },
  {
    name: 'GET /v1/subject-requests/{id}/bundle',
    roles: ['legal'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant, f) =>
      t
        .http()
        .get(`/v1/subject-requests/${await f.subjectRequestOf(tenant)}/bundle`)
        .set(auth(k)),
  },
  // Sinks: admins of the sink's tenants manage them; a legal person of its tenants approves personal data.
  {
    name: 'POST /v1/sinks',
    roles: ['admin'],
    ok: 201,
    refused: [403],
    call: (t, k, tenant) => t.http().post('/v1/sinks').set(auth(k)).send(sinkBody(tenant)),
  },
  {
    name: 'GET /v1/sinks',
    roles: ['admin'],
    ok: 200,
    refused: [],
    call: (t, k) => t.http().get('/v1/sinks').set(auth(k)),
  },
  {
    name: 'GET /v1/sinks/{id}',
    roles: ['admin'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant) =>
      t
        .http()
        .get(`/v1/sinks/${await sinkOf(t, tenant)}`)
        .set(auth(k)),
  },
  {
    name: 'PATCH /v1/sinks/{id}',
    roles: ['admin'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant) =>
      t
        .http()
        .patch(`/v1/sinks/${await sinkOf(t, tenant)}`)
        .set(auth(k))
        .send({ name: 'renamed' }),
  },
  {
    name: 'DELETE /v1/sinks/{id}',
    roles: ['admin'],
    ok: 204,
    refused: [404],
    call: async (t, k, tenant) =>
      t
        .http()
        .delete(`/v1/sinks/${await sinkOf(t, tenant)}`)
        .set(auth(k)),
  },
  {
    name: 'POST /v1/sinks/{id}/replay',
    roles: ['admin'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant) =>
      t
        .http()
        .post(`/v1/sinks/${await sinkOf(t, tenant)}/replay`)
        .set(auth(k))
        .send({ log: tenant, from: 0 }),
  },
  {
    name: 'POST /v1/sinks/{id}/test',
    roles: ['admin'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant) =>
      t
        .http()
        .post(`/v1/sinks/${await sinkOf(t, tenant)}/test`)
        .set(auth(k)),
  },
  {
    name: 'POST /v1/sinks/{id}/approve',
    roles: ['legal'],
    ok: 200,
    refused: [404],
    call: async (t, k, tenant) =>
      t
        .http()
        .post(`/v1/sinks/${await sinkOf(t, tenant, { personalData: true })}/approve`)
        .set(auth(k)),
  },
];

/** Routes that exist only to say no: ledger entries cannot be deleted, by anyone, with or without a key. */
const IMMUTABLE_ROUTES = ['DELETE /v1/events/{id}', 'DELETE /v1/logs/{log}', 'DELETE /v1/logs/{log}/...'];

describe('access: every route × role × tenant', () => {
  let db: string;
  let t: TestApp;
  const keys = {} as Record<Role, string>;
  let fixtures: Fixtures;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    for (const role of ROLES) keys[role] = await createKey(t, `${role}-acme`, [role], [OWN]);
    // Both logs exist with a signed checkpoint, so "other tenant" is never just "missing".
    const setup = await createKey(t, 'setup', ['emitter', 'investigator'], ['*']);
    for (const tenant of [OWN, OTHER]) {
      await t.http().post('/v1/events').set(auth(setup)).send(event(tenant)).expect(201);
      await t.http().post(`/v1/logs/${tenant}/checkpoint`).set(auth(setup)).expect(200);
    }
    const counsel = await createKey(t, 'counsel', ['legal'], ['*']);
    fixtures = {
      async keyOf(tenant) {
        const res = await t
          .http()
          .post('/v1/keys')
          .set(auth(t.adminKey))
          .send({ name: unique(`victim-${tenant}`), roles: ['emitter'], tenants: [tenant] })
          .expect(201);
        return res.body.id as string;
      },
      async principalOf(tenant) {
        const res = await t
          .http()
          .post('/v1/keys')
          .set(auth(t.adminKey))
          .send({ name: unique(`service-${tenant}`), roles: ['emitter'], tenants: [tenant] })
          .expect(201);
        return res.body.principal as string;
      },
      async ungrantedPrincipal() {
        const res = await t
          .http()
          .post('/v1/principals')
          .set(auth(t.adminKey))
          .send({ name: unique('ungranted'), kind: 'service' })
          .expect(201);
        return res.body.id as string;
      },
      async pendingLegalGrantOf(tenant) {
        const name = unique(`counsel-${tenant}`);
        const person = await t
          .http()
          .post('/v1/principals')
          .set(auth(t.adminKey))
          .send({ name, kind: 'person', email: `${name}@example.test` })
          .expect(201);
        const grant = await t
          .http()
          .post(`/v1/principals/${person.body.id}/grants`)
          .set(auth(t.adminKey))
          .send({ role: 'legal', tenants: [tenant] })
          .expect(201);
        return grant.body.id as string;
      },
      async grantOf(tenant) {
        const principal = await this.principalOf(tenant);
        const res = await t.http().get(`/v1/principals/${principal}`).set(auth(t.adminKey)).expect(200);
        return res.body.grants[0].id as string;
      },
      async deletionOf(tenant) {
        const res = await t
          .http()
          .post('/v1/deletion-requests')
          .set(auth(counsel))
          .send({ kind: 'subject_erasure', tenant, subject: `person-of-${tenant}`, reason: 'asked' })
          .expect(202);
        return res.body.id as string;
      },
      async subjectRequestOf(tenant) {
        const res = await t
          .http()
          .post('/v1/subject-requests')
          .set(auth(counsel))
          .send({ kind: 'access', subject: 'u1', tenants: [tenant], reason: 'asked' })
          .expect(202);
        return res.body.id as string;
      },
      async eventOf(tenant) {
        const res = await t.http().post('/v1/events').set(auth(setup)).send(event(tenant)).expect(201);
        return res.body.id as string;
      },
      async holdOf(tenant) {
        const res = await t
          .http()
          .post('/v1/holds')
          .set(auth(counsel))
          .send({ tenant, matter: `MAT-${tenant}`, scope: { subjects: ['u1'] } })
          .expect(201);
        return res.body.id as string;
      },
    };
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('covers every route the service serves (as its OpenAPI document lists them)', async () => {
    const docs = await t.http().get('/docs-json').expect(200);
    const served = Object.entries(docs.body.paths as Record<string, object>)
      .flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{path\}$/, '...')}`),
      )
      .filter((route) => !PUBLIC_ROUTES.includes(route) && !IMMUTABLE_ROUTES.includes(route));
    expect(served.sort()).toEqual(ROUTES.map((r) => r.name).sort());
  });

  it.each(PUBLIC_ROUTES)('%s needs no key', async (route) => {
    await t.http().get(route.split(' ')[1]).expect(200);
  });

  it.each(IMMUTABLE_ROUTES)(
    '%s refuses every key, naming the immutability rule, after authentication',
    async (route) => {
      const served = Object.keys((await t.http().get('/docs-json').expect(200)).body.paths as object).map((path) =>
        path.replace(/\{path\}$/, '...'),
      );
      expect(served).toContain(route.split(' ')[1]);
      const path = route
        .split(' ')[1]
        .replace('{id}', '01890000-0000-7000-8000-000000000000')
        .replace('{log}', OWN)
        .replace('...', 'entries/0');
      expect((await t.http().delete(path).expect(401)).body.code).toBe('unauthenticated');
      for (const key of Object.values(keys)) {
        const res = await t.http().delete(path).set(auth(key)).expect(409);
        expect(res.body.code).toBe('ledger_immutable');
      }
    },
  );

  for (const route of ROUTES) {
    describe(route.name, () => {
      it('needs a key', async () => {
        const someId = async () => '01890000-0000-7000-8000-000000000000';
        const res = await route.call(t, 'atk_' + 'x'.repeat(43), OWN, {
          keyOf: someId,
          holdOf: someId,
          deletionOf: someId,
          subjectRequestOf: someId,
          eventOf: someId,
          principalOf: someId,
          ungrantedPrincipal: someId,
          pendingLegalGrantOf: someId,
          grantOf: someId,
        });
        expect(res.status).toBe(401);
      });

      for (const role of ROLES) {
        for (const tenant of [OWN, OTHER]) {
          const expected = !route.roles.includes(role)
            ? [403]
            : tenant === OWN
              ? [route.ok]
              : route.refused.length > 0
                ? route.refused
                : [route.ok];
          it(`${role} on ${tenant === OWN ? 'its own' : 'another'} tenant: ${expected.join(' or ')}`, async () => {
            const res = await route.call(t, keys[role], tenant, fixtures);
            expect(expected).toContain(res.status);
          });
        }
      }
    });
  }
});
