import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { configureHttp } from './platform/http/configure-http';
import { ConfigError, loadConfig } from './platform/config/app-config';
import { ensureDatabase, runMigrations } from './platform/database/database-bootstrap';
import { PinoLogger } from './platform/logging/pino-logger';
import { closeOnSignal } from './platform/shutdown/shutdown-deadline';

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = new PinoLogger(config.logLevel);
  await ensureDatabase(config.databaseUrl);
  await runMigrations(config.databaseUrl);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), configureHttp.adapter(), {
    logger,
    bufferLogs: true,
  });
  configureHttp(app);
  const progress = closeOnSignal(app, config.shutdownDeadlineMs, logger);
  await progress.track('start-up', () => app.listen(config.port, '0.0.0.0'));
  logger.log(`listening on port ${config.port}`, 'Bootstrap');
}

bootstrap().catch((e: unknown) => {
  process.stderr.write(`start-up failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
