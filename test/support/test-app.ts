import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { generateNoteKey } from '@audit/ledger';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { CommandBus } from '@nestjs/cqrs';
import { CreateFirstLegalPerson } from '../../src/access/principals/principal.commands';
import { operator } from '../../src/access/roles';
import { AppModule } from '../../src/app.module';
import { CLOCK, Clock } from '../../src/platform/clock/clock';
import { AppConfig, loadConfig } from '../../src/platform/config/app-config';
import { configureHttp } from '../../src/platform/http/configure-http';
import { PinoLogger } from '../../src/platform/logging/pino-logger';
import { clearQueues } from './redis-keys';
import { assertTestDatabase, superuserClient } from './test-database';

export { clearQueues };

/** A clock a test moves forward (retention decisions read it); `startTestApp(db, env, {clock})`. */
export class MovableClock implements Clock {
  /** `offsetMs`: how far ahead of the real time it starts. */
  constructor(public offsetMs = 0) {}

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}

/** A running service instance on a test database, with its own queue names and mirror directory. */
export interface TestApp {
  readonly app: NestFastifyApplication;
  readonly config: AppConfig;
  readonly adminKey: string;
  http(): ReturnType<typeof request>;
  close(): Promise<void>;
}

/**
 * The signing key of every test instance on `databaseUrl` (derived from it: instances on one
 * database are one deployment, and no key file is left behind). Pass `AUDIT_SIGNING_KEY: ''` and
 * an AUDIT_SIGNING_KEY_FILE to test the key file instead.
 */
export function testSigningKey(databaseUrl: string): string {
  return generateNoteKey('audit-test', createHash('sha256').update(databaseUrl).digest()).privateKey;
}

/**
 * The key-encryption key of every test instance on `databaseUrl` (derived from it, as the signing
 * key: instances on one database must unwrap the same subject keys, and no key file is left behind).
 */
export function testKeyEncryptionKey(databaseUrl: string): string {
  return createHash('sha256').update(`key-encryption-key ${databaseUrl}`).digest('base64');
}

/** The personal search key of every test instance on `databaseUrl` (derived from it, as the key-encryption key). */
export function testPersonalSearchKey(databaseUrl: string): string {
  return createHash('sha256').update(`personal-search-key ${databaseUrl}`).digest('base64');
}

/** Environment for a test instance; `env` overrides (for example AUDIT_COMPONENTS). */
export function testEnv(databaseUrl: string, env: Record<string, string> = {}): Record<string, string> {
  assertTestDatabase(databaseUrl);
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL: 'redis://127.0.0.1:6379',
    AUDIT_BOOTSTRAP_ADMIN_KEY: `test-admin-${randomBytes(16).toString('hex')}`,
    AUDIT_CHECKPOINT_DIR: mkdtempSync(join(tmpdir(), 'audit-cp-')),
    AUDIT_QUEUE_PREFIX: `test-${randomBytes(6).toString('hex')}`,
    AUDIT_CHECKPOINT_INTERVAL_MS: '50',
    AUDIT_SIGNING_KEY: testSigningKey(databaseUrl),
    AUDIT_KEY_ENCRYPTION_KEY: testKeyEncryptionKey(databaseUrl),
    AUDIT_PERSONAL_SEARCH_KEY: testPersonalSearchKey(databaseUrl),
    LOG_LEVEL: 'silent',
    ...env,
  };
}

/**
 * `logs`: collect the service's JSON log lines (every level) here instead of discarding them.
 * `clock`: the service's clock (retention decisions), for tests that move time.
 */
export async function startTestApp(
  databaseUrl: string,
  env: Record<string, string> = {},
  options: { logs?: string[]; clock?: Clock } = {},
): Promise<TestApp> {
  const config = loadConfig(testEnv(databaseUrl, env));
  const logs = options.logs;
  const logger = logs ? new PinoLogger('trace', { write: (line: string) => void logs.push(line) }) : false;
  const builder = Test.createTestingModule({ imports: [AppModule.forRoot(config)] });
  if (options.clock) builder.overrideProvider(CLOCK).useValue(options.clock);
  const moduleRef = await builder.compile();
  moduleRef.useLogger(logger);
  const app = moduleRef.createNestApplication<NestFastifyApplication>(configureHttp.adapter(), {
    logger,
    abortOnError: false,
  });
  configureHttp(app);
  app.enableShutdownHooks();
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return {
    app,
    config,
    adminKey: config.bootstrapAdminKey as string,
    http: () => request(app.getHttpServer()),
    async close() {
      await app.close();
      await clearQueues(config.queuePrefix);
      rmSync(config.checkpointDir, { recursive: true, force: true });
    },
  };
}

/**
 * Creates an API key through the API (with the bootstrap admin key unless `by` is given) and
 * returns its secret. A key with `legal` belongs to a person (`createPerson`); any other to a
 * service principal named `name`.
 */
export async function createKey(
  t: TestApp,
  name: string,
  roles: string[],
  tenants: string[],
  by = t.adminKey,
): Promise<string> {
  if (roles.includes('legal')) return (await createPerson(t, name, roles, tenants, by)).key;
  const res = await t
    .http()
    .post('/v1/keys')
    .set('authorization', `Bearer ${by}`)
    .send({ name, roles, tenants })
    .expect(201);
  return res.body.key as string;
}

/** A person with a key only they know, as an install makes one: see `createPerson`. */
export interface TestPerson {
  readonly principal: string;
  readonly keyId: string;
  readonly key: string;
}

const firstLegalPersons = new WeakMap<TestApp, Promise<TestPerson>>();

/** Rotates a key with itself: afterwards only its holder has seen its secret. */
export async function rotateOwnKey(t: TestApp, keyId: string, key: string): Promise<string> {
  const res = await t.http().post(`/v1/keys/${keyId}/rotate`).set('authorization', `Bearer ${key}`).expect(200);
  return res.body.key as string;
}

/**
 * The test app's first legal person (legal over every tenant), made once as the operator does it
 * (`principals first-legal`), its key rotated by itself. It approves the legal grants of `createPerson`.
 */
export function firstLegalPerson(t: TestApp): Promise<TestPerson> {
  let person = firstLegalPersons.get(t);
  if (person === undefined) {
    person = (async () => {
      const made: { principal: { id: string }; key: { id: string; key: string } } = await t.app
        .get(CommandBus)
        .execute(
          new CreateFirstLegalPerson(operator('cli'), { name: 'first-legal', email: 'first-legal@example.test' }),
        );
      return {
        principal: made.principal.id,
        keyId: made.key.id,
        key: await rotateOwnKey(t, made.key.id, made.key.key),
      };
    })();
    firstLegalPersons.set(t, person);
  }
  return person;
}

/**
 * A person named `name` (email `<name>@example.test`) holding `roles` over `tenants`, granted by
 * `by` (a `legal` grant approved by the first legal person), with a key of those roles that the
 * person then rotates with itself, as a real person would before their approvals count.
 */
export async function createPerson(
  t: TestApp,
  name: string,
  roles: string[],
  tenants: string[],
  by = t.adminKey,
  oidcSubject?: string,
): Promise<TestPerson> {
  const approver = roles.includes('legal') ? await firstLegalPerson(t) : undefined;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const principal = await t
    .http()
    .post('/v1/principals')
    .set(as(by))
    .send({ name, kind: 'person', email: `${name}@example.test`, ...(oidcSubject ? { oidcSubject } : {}) })
    .expect(201);
  const id = principal.body.id as string;
  for (const role of roles) {
    const grant = await t.http().post(`/v1/principals/${id}/grants`).set(as(by)).send({ role, tenants }).expect(201);
    if (grant.body.status === 'pending')
      await t
        .http()
        .post(`/v1/grants/${grant.body.id}/approve`)
        .set(as((approver as TestPerson).key))
        .expect(200);
  }
  const key = await t.http().post('/v1/keys').set(as(by)).send({ principal: id, name, roles, tenants }).expect(201);
  return { principal: id, keyId: key.body.id, key: await rotateOwnKey(t, key.body.id, key.body.key) };
}

/** The `platform` log's entries as decoded leaves, read as the superuser. */
export async function platformEntries(databaseUrl: string): Promise<Record<string, any>[]> {
  const client = await superuserClient(databaseUrl);
  try {
    const { rows } = await client.query(
      "SELECT convert_from(leaf, 'UTF8') AS leaf FROM entries WHERE log = 'platform' ORDER BY idx",
    );
    return rows.map((r: { leaf: string }) => JSON.parse(r.leaf));
  } finally {
    await client.end();
  }
}

/** A supertest parser that keeps a binary body (tiles, entry bundles) as one Buffer. */
export function binary(res: unknown, done: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  const stream = res as NodeJS.ReadableStream;
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}
