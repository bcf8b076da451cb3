import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { LogStore } from './ledger/log-store';
import { LogVerification } from './ledger/log-verification';
import { loadConfig } from './platform/config/app-config';
import { ensureDatabase, runMigrations } from './platform/database/database-bootstrap';
import { PinoLogger } from './platform/logging/pino-logger';

const USAGE = `usage: npm run verify -- [<log> ...]
  Fully verifies the named logs (every log when none is named) as stored in DATABASE_URL:
  leaves, chain, tree nodes, signed checkpoints and the checkpoint mirror (AUDIT_CHECKPOINT_DIR).
  Prints one JSON report per log; exits 1 when any log fails, 2 on bad usage.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command !== 'verify' || args.includes('--help')) {
    process.stderr.write(`${USAGE}\n`);
    return command === 'verify' ? 0 : 2;
  }
  const config = { ...loadConfig(), components: new Set<never>() };
  await ensureDatabase(config.databaseUrl);
  await runMigrations(config.databaseUrl);
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: new PinoLogger('warn') });
  try {
    const logs = args.length > 0 ? args : await app.get(LogStore).logNames();
    let failed = 0;
    for (const log of logs) {
      const report = await app.get(LogVerification).verify(log);
      process.stdout.write(`${JSON.stringify(report)}\n`);
      if (!report.ok) failed++;
    }
    process.stderr.write(`${logs.length - failed} of ${logs.length} logs verified\n`);
    return failed > 0 ? 1 : 0;
  } finally {
    await app.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`verify failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  },
);
