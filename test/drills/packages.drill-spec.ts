import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGES, ROOT, installOffline, linkOwnDependencies, manifest, packPackages } from './support/packed-packages';

/**
 * Drill (issue 20): the four libraries are npm packages another project installs. The drill builds
 * them (`npm run build:packages`), packs each with `npm pack`, installs the tarballs into a new
 * project with npm and runs a plain CommonJS script there that requires each package by name
 * and uses it. The project reaches nothing of this repository but through the tarballs, except:
 * - the packages' registry dependencies (canonicalize, uuid) are copied into its node_modules
 *   from this repository's before the install, which then runs `--offline` (no registry needed);
 * - the peer dependencies (@nestjs/*, rxjs, reflect-metadata, bullmq) are what the consuming
 *   app brings; here they are this repository's, on the script's NODE_PATH, and the install runs
 *   with `--legacy-peer-deps` so npm does not fetch them.
 */

const run = promisify(execFile);

/** Every `.js` file under `dir`. */
function scripts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.js'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The packages a built file requires by name (`@scope/name` or `name`), not relative files or Node's modules. */
function requiredPackages(file: string): string[] {
  const names = [...readFileSync(file, 'utf8').matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
  return names
    .filter((name) => !name.startsWith('.') && !name.startsWith('node:') && !builtinModules.includes(name))
    .map((name) =>
      name
        .split('/')
        .slice(0, name.startsWith('@') ? 2 : 1)
        .join('/'),
    );
}

/** What the consuming project runs: requires each package by name and uses it; prints what it found as JSON. */
const CONSUMER = String.raw`
'use strict';
require('reflect-metadata');
const { randomUUID } = require('node:crypto');
const ledger = require('@audit/ledger');
const { readFileSync } = require('node:fs');
const { AuditClient, OUTBOX_MIGRATION_SQL, categoryOf, receiptProblems } = require('@audit/client');
const { AuditModule, AuditService } = require('@audit/nestjs');
const { HoldCheckClient, HoldCheckError, withHoldGuard } = require('@audit/hold-guard');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');

/** Answers like POST /v1/events/batch: a leaf per event, encoded with @audit/ledger; 'tamper' changes the leaf hash. */
function fakeService(mode) {
  const sent = [];
  const fetch = async (_url, init) => {
    const { events } = JSON.parse(init.body);
    const results = events.map(({ idempotencyKey: _key, ...event }, index) => {
      sent.push(event);
      const entry = {
        v: 1, log: event.tenant, index, prev: ledger.GENESIS_PREV, id: randomUUID(), recordedAt: new Date().toISOString(),
        source: 'consumer', type: event.type, category: categoryOf(event), actor: event.actor,
        outcome: event.outcome ?? 'unknown', occurredAt: event.occurredAt, context: event.context,
      };
      const leaf = ledger.encodeLeaf(entry);
      const hash = ledger.leafHash(mode === 'tamper' ? Buffer.concat([leaf, Buffer.from(' ')]) : leaf);
      return { id: entry.id, log: entry.log, index, leafHash: hash.toString('base64'), recordedAt: entry.recordedAt, leaf: leaf.toString('base64') };
    });
    return new Response(JSON.stringify({ results }), { status: 201, headers: { 'content-type': 'application/json' } });
  };
  return { fetch, sent };
}

const event = { tenant: 'acme', type: 'auth.login.succeeded', actor: { type: 'user', id: 'u1' }, context: { via: 'package' } };

async function main() {
  const found = {};

  // @audit/ledger: a five-leaf tree; leaf 3's inclusion proof verifies against the root, a changed leaf's does not.
  const leaves = [0, 1, 2, 3, 4].map((i) => Buffer.from('leaf ' + i));
  const tree = ledger.TreeBuilder.empty();
  const stored = new Map();
  for (const leaf of leaves) {
    const completed = [];
    tree.append(ledger.leafHash(leaf), completed);
    for (const node of completed) stored.set(node.level + '/' + node.index, node.hash);
  }
  const proof = ledger.hashRanges(ledger.inclusionProofRanges(3, 5), (node) => stored.get(node.level + '/' + node.index));
  ledger.verifyInclusion(3, 5, ledger.leafHash(leaves[3]), proof, tree.root());
  let wrongLeaf = 'accepted';
  try {
    ledger.verifyInclusion(3, 5, ledger.leafHash(Buffer.from('leaf X')), proof, tree.root());
  } catch (error) {
    wrongLeaf = error.constructor.name;
  }
  found.ledger = { proofLength: proof.length, wrongLeaf };

  // @audit/client: emit through the in-memory client; the receipt is checked, a tampered one raises the alarm.
  const alarms = [];
  const honest = fakeService('honest');
  const client = new AuditClient({ baseUrl: 'http://audit.invalid', apiKey: 'k', lingerMs: 1, fetch: honest.fetch, onAlarm: (a) => alarms.push(a.kind) });
  const ack = await client.emit(event);
  const tampered = fakeService('tamper');
  const alarmed = new AuditClient({ baseUrl: 'http://audit.invalid', apiKey: 'k', lingerMs: 1, fetch: tampered.fetch, onAlarm: (a) => alarms.push(a.kind) });
  const badAck = await alarmed.emit(event);
  const migration = readFileSync(require.resolve('@audit/client/migrations/001-audit-outbox.sql'), 'utf8');
  found.client = {
    receipt: receiptProblems(honest.sent[0], ack), tampered: receiptProblems(tampered.sent[0], badAck), alarms,
    migrationShipped: migration === OUTBOX_MIGRATION_SQL,
  };

  // @audit/nestjs: AuditModule.forRoot in a Nest application context; AuditService records by hand.
  const nestService = fakeService('honest');
  class AppModule {}
  Module({ imports: [AuditModule.forRoot({ client: { baseUrl: 'http://audit.invalid', apiKey: 'k', lingerMs: 1, fetch: nestService.fetch }, tenant: () => 'acme' })] })(AppModule);
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  await app.get(AuditService).record({ ...event, context: { via: 'nest' } });
  await app.close();
  found.nestjs = { recorded: nestService.sent.map((e) => e.context) };

  // @audit/hold-guard: a "not held" answer runs the processor; an unreachable service stops it (fail closed).
  const answer = (body) => async () => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  const job = { data: { tenant: 'acme', customerId: 'c1' } };
  const question = (j) => ({ tenant: j.data.tenant, subject: j.data.customerId });
  const notHeld = withHoldGuard(async () => 'deleted', { client: new HoldCheckClient({ baseUrl: 'http://audit.invalid', apiKey: 'k', fetch: answer({ held: false, holds: [] }) }), question });
  const unreachable = withHoldGuard(async () => 'deleted', {
    client: new HoldCheckClient({ baseUrl: 'http://audit.invalid', apiKey: 'k', fetch: async () => { throw new TypeError('fetch failed'); } }),
    question,
  });
  const stopped = await unreachable(job).then((r) => r, (error) => (error instanceof HoldCheckError ? 'HoldCheckError' : String(error)));
  found.holdGuard = { notHeld: await notHeld(job), unreachable: stopped };

  process.stdout.write(JSON.stringify(found));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack) + '\n');
  process.exit(1);
});
`;

describe('drill: the packages, packed and installed by another project', () => {
  let work: string;
  let project: string;
  const tarballs: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'audit-packages-'));
    tarballs.push(...(await packPackages(join(work, 'tarballs'))));
    project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    await installOffline(project, tarballs);
  }, 120_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('npm pack ships the built JavaScript, its declarations and the README, and no TypeScript source or test', async () => {
    for (const [i, name] of PACKAGES.entries()) {
      const { stdout } = await run('tar', ['-tzf', tarballs[i]]);
      const files = stdout.trim().split('\n');
      expect(files).toEqual(
        expect.arrayContaining([
          'package/package.json',
          'package/README.md',
          'package/dist/index.js',
          'package/dist/index.d.ts',
        ]),
      );
      expect(files.filter((f) => (f.endsWith('.ts') && !f.endsWith('.d.ts')) || /spec/.test(f))).toEqual([]);
      if (name === 'audit-client') expect(files).toContain('package/migrations/001-audit-outbox.sql');
    }
  });

  it('each installed package requires only its declared dependencies and peer dependencies', () => {
    for (const name of PACKAGES) {
      const installed = join(project, 'node_modules', manifest(join(ROOT, 'libs', name)).name);
      const { dependencies = {}, peerDependencies = {} } = manifest(installed);
      const declared = new Set([...Object.keys(dependencies), ...Object.keys(peerDependencies)]);
      const required = new Set(scripts(join(installed, 'dist')).flatMap(requiredPackages));
      expect(required.size).toBeGreaterThan(0);
      expect({ name, undeclared: [...required].filter((dep) => !declared.has(dep)) }).toEqual({ name, undeclared: [] });
    }
  });

  it('a plain CommonJS script of the project requires each package by name and uses it', async () => {
    writeFileSync(join(project, 'check.js'), CONSUMER);
    // The app's own peer dependencies: this repository's, by name only (not the @audit/* sources).
    const peers = join(work, 'peers');
    linkOwnDependencies(peers, ['@nestjs/common', '@nestjs/core', 'rxjs', 'reflect-metadata', 'bullmq']);
    const { stdout } = await run(process.execPath, ['check.js'], {
      cwd: project,
      env: { ...process.env, NODE_PATH: peers },
    });
    expect(JSON.parse(stdout)).toEqual({
      ledger: { proofLength: 3, wrongLeaf: 'RootMismatchError' },
      client: { receipt: [], tampered: ['leafHash differs'], alarms: ['receipt_mismatch'], migrationShipped: true },
      nestjs: { recorded: [{ via: 'nest' }] },
      holdGuard: { notHeld: 'deleted', unreachable: 'HoldCheckError' },
    });
  });
});
