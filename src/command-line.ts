import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CommandBus } from '@nestjs/cqrs';
import { BundleVerifier, LedgerError, NoteKeyError, parseWitnessPolicy, type WitnessPolicy } from '@audit/ledger';
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { CreateApiKey, IssuedApiKey } from './access/keys/create-api-key.command';
import { parseCreateKey } from './access/keys/create-api-key.request';
import { RebuildApiKeys } from './access/keys/rebuild-api-keys.handler';
import { AccessError } from './access/access.errors';
import { CreateFirstLegalPerson } from './access/principals/principal.commands';
import { parseCreatePrincipal } from './access/principals/principals.request';
import { RebuildPrincipals } from './access/principals/rebuild-principals.handler';
import { actorOf, operator } from './access/roles';
import { AppModule } from './app.module';
import { RebuildHolds } from './holds/rebuild-holds.handler';
import { RestoreJournaledHolds } from './holds/restore-journaled-holds.handler';
import { MirrorCheck } from './ledger/mirror-check';
import { RebuildEventSearch } from './investigation/rebuild-event-search.handler';
import { LogStore } from './ledger/log-store';
import { LogVerification } from './ledger/log-verification';
import { PersonalSearchBackfill } from './ledger/personal-search-backfill';
import { SubjectKeyRotation } from './ledger/subject-key-rotation';
import { RollbackAcknowledged, RollbackAcknowledgement } from './ledger/rollback-acknowledgement';
import { Notifier } from './notifications/notifier';
import { loadConfig } from './platform/config/app-config';
import { ensureDatabase, runMigrations } from './platform/database/database-bootstrap';
import { RequestValidationError } from './platform/http/request.errors';
import { PinoLogger } from './platform/logging/pino-logger';
import { WITNESS_USAGE, WitnessUsageError, verifyProofFile, witnessKey } from './witness-commands';

const USAGE = `usage:
  npm run cli -- verify [<log> ...]
      Fully verifies the named logs (every log when none is named) as stored in DATABASE_URL:
      leaves, chain, tree nodes, signed checkpoints and the checkpoint mirror (AUDIT_CHECKPOINT_DIR).
      Prints one JSON report per log; exits 1 when any log fails.
  npm run cli -- verify-export <file> [--key <verifier key>] [--policy <tlog-policy file>]
      Verifies an export (GET /v1/exports, NDJSON) offline, needing no database or environment, or
      a bundle of several (GET /v1/subject-requests/<id>/bundle: each header line starts a log):
      its signed checkpoint, each entry's leaf, inclusion proof and personal data digest, the order
      and the number of entries. Give --key the log's published verifier key (GET /v1/logs/<log>/key):
      without it the file's own key is used, which shows the file is intact but not who signed it.
      With --policy the checkpoint must also be signed by a log of the witness policy and carry
      cosignatures meeting its quorum (an export made with quorum=1 does).
      Prints one JSON report, then each problem; exits 1 when a check fails.
  npm run cli -- holds rebuild
      Rebuilds the holds read model from the hold entries in the ledger (hold changes wait meanwhile)
      and prints how many holds and events it found.
  npm run cli -- search rebuild [<log> ...]
      Rebuilds the search read model of the named logs (every log when none is named) from their
      leaves (appends to a log wait while it is rebuilt) and prints how many entries it indexed.
  npm run cli -- search backfill-personal [--restart] [--batch <n>]
      Writes the personal search index rows (personalEmail=, personalIp=) that entries with personal
      data not erased lack (appended before the index existed, or rows lost), under the current
      search key; never for erased entries. Idempotent; an interrupted run goes on where it stopped
      (--restart: from the first entry). Prints {scanned, added, resumed}.
  npm run cli -- kek rotate [--batch <n>]
      Rewraps every subject data key under the current key-encryption key (AUDIT_KEY_ENCRYPTION_KEY
      or its file), opening the others with AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS, in batches; safe to
      run again or beside the service. Records ledger.kek_rotated (counts, key ids, never a key) in
      the platform log when it rewrapped anything, then compacts the key table. Once it printed
      rewrapped 0 (or finished), the previous keys can leave AUDIT_KEY_ENCRYPTION_KEYS_PREVIOUS.
      Prints {kekId, rewrapped, from, entry, compacted}.
  npm run cli -- keys create --name <name> --roles <role,...> --tenants <tenant,...|*> [--expires-at <RFC 3339>]
      Creates an API key as the operator (for the first admin key of a fresh install) and prints
      it once as JSON; the creation is recorded in the platform log like any other.
  npm run cli -- principals first-legal --name <name> --email <email>
      Creates the installation's first legal person (legal over every tenant) with a key, as the
      operator, and prints {principal, key} once as JSON. Refused once any person holds
      legal: later legal persons are granted through the API and approved by a legal person.
      The key's secret was seen by the operator: its holder rotates it (POST /v1/keys/<id>/rotate
      with the key itself) before its approvals count apart from the operator's.
  npm run cli -- keys rebuild
      Rebuilds the api_keys table from the key entries in the platform log (key changes wait
      meanwhile), keeping each key's secret hash; prints the counts and the ids of keys that had no
      row (they come back without a working secret: rotate them to issue one).
  npm run cli -- principals rebuild
      Rebuilds the principals and grants tables from the principal entries in the platform log
      (principal and grant changes wait meanwhile), emails from their entries' personal data (none
      once erased); prints the counts and, in keptForKeys, the principals the ledger never created
      that keys still name (kept without grants: "keys rebuild" gives those keys back the principal
      their entries name, and a second "principals rebuild" then deletes them).
  npm run cli -- ledger acknowledge-rollback --reason "<why>"
      While the database is behind or forked from the checkpoint mirror (AUDIT_CHECKPOINT_DIR: a
      restore from an old backup, a rollback), appends are refused with 503 ledger_behind_mirror.
      This accepts the database's history as the one to go on with: it records the acknowledgement
      (reason, logs, mirrored and database sizes and roots) in the platform log as
      ledger.rollback_acknowledged, notifies the webhook (AUDIT_WEBHOOK_URL), then moves the
      superseded checkpoints to AUDIT_CHECKPOINT_DIR/_superseded/<time>/ (kept, never deleted).
      Every service process takes appends again within 5 s. The reason is required and permanent
      record (a ticket or incident reference, no personal data). Prints the acknowledgement as
      JSON; records nothing (and says so) when the database agrees with the mirror.
${WITNESS_USAGE}
Exits 2 on bad usage. Reads the same environment as the service (DATABASE_URL, ...).`;

export class UsageError extends Error {}

/** Where the command line writes: its answers (JSON lines) and what it says to the operator. */
export interface Output {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Runs `work` against the database with the service's providers but no HTTP, timers or workers. */
async function withService<T>(env: Env, work: (app: INestApplicationContext) => Promise<T>): Promise<T> {
  const config = { ...loadConfig(env), components: new Set<never>(), bootstrapAdminKey: undefined };
  await ensureDatabase(config.databaseUrl);
  await runMigrations(config.databaseUrl);
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), {
    logger: new PinoLogger(config.logLevel === 'silent' ? 'silent' : 'warn'),
  });
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}

async function verify(env: Env, io: Output, logs: string[]): Promise<number> {
  return withService(env, async (app) => {
    const names = logs.length > 0 ? logs : await app.get(LogStore).logNames();
    let failed = 0;
    for (const log of names) {
      const report = await app.get(LogVerification).verify(log, ['*']);
      io.out(`${JSON.stringify(report)}\n`);
      if (!report.ok) failed++;
    }
    io.err(`${names.length - failed} of ${names.length} logs verified\n`);
    return failed > 0 ? 1 : 0;
  });
}

async function createKey(env: Env, io: Output, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      roles: { type: 'string' },
      tenants: { type: 'string' },
      'expires-at': { type: 'string' },
    },
    strict: true,
  });
  const list = (value: string | undefined) => (value === undefined ? undefined : value.split(',').map((s) => s.trim()));
  let request: ReturnType<typeof parseCreateKey>;
  try {
    request = parseCreateKey({
      name: values.name,
      roles: list(values.roles),
      tenants: list(values.tenants),
      expiresAt: values['expires-at'],
    });
  } catch (e) {
    if (e instanceof RequestValidationError)
      throw new UsageError(e.problems.map((p) => `--${p.path.split('/')[1] || 'arguments'}: ${p.message}`).join('\n'));
    throw e;
  }
  let key: IssuedApiKey;
  try {
    key = await withService(env, (app) =>
      app
        .get(CommandBus)
        .execute<CreateApiKey, IssuedApiKey>(
          new CreateApiKey(operator('cli'), request.name, request.roles, request.tenants, request.expiresAt),
        ),
    );
  } catch (e) {
    if (!(e instanceof AccessError)) throw e;
    io.err(`${e.code}: ${e.message}\n`);
    return 1;
  }
  io.out(`${JSON.stringify(key)}\n`);
  io.err('the key is shown once: keep it now\n');
  return 0;
}

async function firstLegalPerson(env: Env, io: Output, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { name: { type: 'string' }, email: { type: 'string' } },
    strict: true,
  });
  let person: ReturnType<typeof parseCreatePrincipal>;
  try {
    person = parseCreatePrincipal({ name: values.name, kind: 'person', email: values.email });
  } catch (e) {
    if (e instanceof RequestValidationError)
      throw new UsageError(e.problems.map((p) => `--${p.path.split('/')[1] || 'arguments'}: ${p.message}`).join('\n'));
    throw e;
  }
  try {
    const made = await withService(env, (app) =>
      app
        .get(CommandBus)
        .execute(new CreateFirstLegalPerson(operator('cli'), { name: person.name, email: person.email as string })),
    );
    io.out(`${JSON.stringify(made)}\n`);
    io.err('the key is shown once: hand it to its holder, who rotates it with itself\n');
    return 0;
  } catch (e) {
    if (!(e instanceof AccessError)) throw e;
    io.err(`${e.code}: ${e.message}\n`);
    return 1;
  }
}

async function acknowledgeRollback(env: Env, io: Output, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { reason: { type: 'string' } }, strict: true });
  const reason = values.reason?.trim() ?? '';
  if (reason === '') throw new UsageError('ledger acknowledge-rollback needs --reason "<why>" (permanent record)');
  if (reason.length > 2000) throw new UsageError('--reason: at most 2000 characters');
  const { acknowledged, placedAgain } = await withService(env, async (app) => {
    const ack = await app
      .get(RollbackAcknowledgement)
      .acknowledge(reason, actorOf(operator('cli')), (done) => app.get(Notifier).notify(rollbackNotification(done)));
    if (ack === null || ack.remaining.length > 0) return { acknowledged: ack, placedAgain: [] };
    // The history goes on from the database's: holds it forgot (placed after its backup) come back.
    await app.get(MirrorCheck).check();
    const restored = await app.get(CommandBus).execute(new RestoreJournaledHolds());
    return { acknowledged: ack, placedAgain: restored.placedAgain };
  });
  if (acknowledged === null) {
    io.err('the database agrees with the checkpoint mirror: nothing to acknowledge\n');
    return 0;
  }
  const { entry, logs, superseded, remaining } = acknowledged;
  io.out(
    `${JSON.stringify({ entry: { log: entry.log, index: entry.index, id: entry.id }, logs, superseded, remaining, placedAgain })}\n`,
  );
  if (placedAgain.length > 0)
    io.err(
      `${placedAgain.length} hold(s) the restored database had forgotten were placed again from the hold journal: ${placedAgain.join(', ')}\n`,
    );
  io.err(
    remaining.length === 0
      ? `acknowledged in the platform log (entry ${entry.index}); the superseded checkpoints are in ${superseded} ` +
          'under AUDIT_CHECKPOINT_DIR; every service process takes appends again within 5 s\n'
      : `acknowledged in the platform log (entry ${entry.index}), but ${remaining.length} log(s) disagree with the ` +
          'checkpoint mirror again: appends stay refused (see "remaining")\n',
  );
  return 0;
}

/** The webhook notification of an acknowledgement: ids, times and positions only (never the reason). */
function rollbackNotification(ack: Omit<RollbackAcknowledged, 'remaining'>) {
  return {
    type: 'ledger.rollback_acknowledged' as const,
    id: ack.entry.id,
    tenant: '*',
    at: ack.entry.recordedAt,
    subjectRef: { type: 'checkpoint_mirror', id: ack.superseded },
    ledger: { log: ack.entry.log, index: ack.entry.index },
  };
}

async function rebuildHolds(env: Env, io: Output): Promise<number> {
  const counts = await withService(env, (app) => app.get(CommandBus).execute(new RebuildHolds()));
  io.out(`${JSON.stringify(counts)}\n`);
  return 0;
}

async function rebuildKeys(env: Env, io: Output): Promise<number> {
  const counts = await withService(env, (app) => app.get(CommandBus).execute(new RebuildApiKeys()));
  io.out(`${JSON.stringify(counts)}\n`);
  return 0;
}

async function rebuildPrincipals(env: Env, io: Output): Promise<number> {
  const counts = await withService(env, (app) => app.get(CommandBus).execute(new RebuildPrincipals()));
  io.out(`${JSON.stringify(counts)}\n`);
  return 0;
}

/** `--batch <n>`: rows per transaction, 1 to 10000. */
function batchSize(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const batch = Number(value);
  if (!Number.isInteger(batch) || batch < 1 || batch > 10_000)
    throw new UsageError('--batch: an integer from 1 to 10000');
  return batch;
}

async function rotateKek(env: Env, io: Output, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { batch: { type: 'string' } }, strict: true });
  const batch = batchSize(values.batch);
  const rotation = await withService(env, (app) =>
    app.get(SubjectKeyRotation).rotate(actorOf(operator('cli')), {
      batch,
      progress: (rewrapped) => io.err(`rewrapped ${rewrapped} subject keys\n`),
    }),
  );
  const { entry } = rotation;
  io.out(`${JSON.stringify({ ...rotation, entry: entry && { log: entry.log, index: entry.index, id: entry.id } })}\n`);
  io.err(
    rotation.rewrapped === 0
      ? `every subject key is wrapped by ${rotation.kekId}: nothing to rewrap, nothing recorded\n`
      : `every subject key is wrapped by ${rotation.kekId} now; recorded in the platform log (entry ${entry?.index})\n`,
  );
  return 0;
}

async function backfillPersonalSearch(env: Env, io: Output, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { batch: { type: 'string' }, restart: { type: 'boolean' } },
    strict: true,
  });
  const batch = batchSize(values.batch);
  const done = await withService(env, (app) =>
    app.get(PersonalSearchBackfill).run({
      restart: values.restart === true,
      batch,
      progress: (p) => io.err(`scanned ${p.scanned} entries, added ${p.added} index rows\n`),
    }),
  );
  io.out(`${JSON.stringify(done)}\n`);
  return 0;
}

async function rebuildSearch(env: Env, io: Output, logs: string[]): Promise<number> {
  const counts = await withService(env, (app) => app.get(CommandBus).execute(new RebuildEventSearch(logs)));
  io.out(`${JSON.stringify(counts)}\n`);
  return 0;
}

/**
 * Verifies an export file offline (no withService, database or environment), reading it line by
 * line so that memory stays flat for files of any size. Exits 0 when it verifies, 1 when a check
 * failed, 2 when the file cannot be read.
 */
async function verifyExportFile(io: Output, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { key: { type: 'string' }, policy: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError('verify-export needs exactly one <file>');
  const [file] = positionals;
  let policy: WitnessPolicy | undefined;
  if (values.policy !== undefined) {
    try {
      policy = parseWitnessPolicy(readFileSync(values.policy, 'utf8'));
    } catch (e) {
      if (e instanceof LedgerError) throw new UsageError(`--policy: ${e.message}`);
      throw new UsageError(`--policy: cannot read ${values.policy}: ${(e as Error).message}`);
    }
  }
  let verifier: BundleVerifier;
  try {
    verifier = new BundleVerifier({
      ...(values.key === undefined ? {} : { trustedKey: values.key.trim() }),
      ...(policy === undefined ? {} : { policy }),
    });
  } catch (e) {
    if (e instanceof NoteKeyError) throw new UsageError(`--key: ${e.message}`);
    throw e;
  }
  try {
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity }))
      verifier.push(line);
  } catch (e) {
    // Only the file system's errors (they name a syscall) mean an unreadable file. Duck-typed:
    // errors from node's own realm fail `instanceof Error` under jest.
    const { syscall, message } = e as { syscall?: unknown; message?: unknown };
    if (typeof syscall !== 'string') throw e;
    io.err(`cannot read ${file}: ${String(message)}\n`);
    return 2;
  }
  // One export is a bundle of one section, reported as it always was; a bundle (a subject-access
  // bundle spans several logs, each header starting a section) adds a report per log.
  const bundle = verifier.finish();
  const report =
    bundle.sections.length === 1
      ? bundle.sections[0]
      : {
          ok: bundle.ok,
          logs: bundle.sections.map((section) => section.log),
          entries: bundle.entries,
          verified: bundle.verified,
          erased: bundle.erased,
          keyTrusted: bundle.sections.every((section) => section.keyTrusted),
          sections: bundle.sections.map(({ problems: _problems, ...section }) => section),
          problems: bundle.problems,
        };
  io.out(`${JSON.stringify(report)}\n`);
  for (const p of report.problems) io.err(`line ${p.line}: ${p.code}: ${p.message}\n`);
  for (const section of bundle.sections)
    if (section.problemsOmitted !== undefined)
      io.err(`${section.problemsOmitted} more problems not listed (log ${section.log ?? '?'})\n`);
  if (values.key === undefined) {
    const logs = bundle.sections.length === 1 ? (bundle.sections[0].log ?? '<log>') : '<log>';
    io.err(
      `warning: no --key given, so the export was checked against the key it carries itself: that shows it is intact, ` +
        `not who signed it. Compare the key on its first line with the one published at /v1/logs/${logs}/key.\n`,
    );
  }
  return report.ok ? 0 : 1;
}

/**
 * Runs one command and returns its exit code: 0 done, 1 a verification failed, 2 bad usage (the
 * usage is printed). Other failures reject.
 */
export async function runCommandLine(argv: readonly string[], env: Env, io: Output): Promise<number> {
  const [command, ...args] = argv;
  if (args.includes('--help') || command === undefined || command === '--help') {
    io.err(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  try {
    if (command === 'verify') return await verify(env, io, args);
    if (command === 'verify-export') return await verifyExportFile(io, args);
    if (command === 'verify-proof') return verifyProofFile(io, args);
    if (command === 'witness-key') return witnessKey(io, args);
    if (command === 'keys' && args[0] === 'create') return await createKey(env, io, args.slice(1));
    if (command === 'keys' && args[0] === 'rebuild' && args.length === 1) return await rebuildKeys(env, io);
    if (command === 'principals' && args[0] === 'first-legal') return await firstLegalPerson(env, io, args.slice(1));
    if (command === 'principals' && args[0] === 'rebuild' && args.length === 1) return await rebuildPrincipals(env, io);
    if (command === 'holds' && args[0] === 'rebuild' && args.length === 1) return await rebuildHolds(env, io);
    if (command === 'search' && args[0] === 'backfill-personal')
      return await backfillPersonalSearch(env, io, args.slice(1));
    if (command === 'kek' && args[0] === 'rotate') return await rotateKek(env, io, args.slice(1));
    if (command === 'search' && args[0] === 'rebuild') return await rebuildSearch(env, io, args.slice(1));
    if (command === 'ledger' && args[0] === 'acknowledge-rollback')
      return await acknowledgeRollback(env, io, args.slice(1));
    throw new UsageError(`unknown command "${argv.join(' ')}"`);
  } catch (e) {
    const usage = e instanceof UsageError || e instanceof WitnessUsageError;
    if (!usage && !(e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw e;
    io.err(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
}
