import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConsoleModule } from './console.module';
import { Database } from './console.services';

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(ConsoleModule, new FastifyAdapter());
  app.enableShutdownHooks();
  await app.get(Database).migrate();
  await app.listen(Number(process.env.PORT ?? 3100), process.env.HOST ?? '127.0.0.1');
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
