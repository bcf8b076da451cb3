import { NestFastifyApplication, FastifyAdapter } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/** Largest request body: a full batch of 1,000 events of a few KiB each. */
export const BODY_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * The HTTP adapter and what every app instance (service or test) shares: body limits, the
 * OpenAPI document at /docs.
 */
export function configureHttp(app: NestFastifyApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Audit trail')
      .setDescription('Immutable, verifiable audit trail with legal holds. Formats: DESIGN.md.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
}

configureHttp.adapter = (): FastifyAdapter => new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, logger: false });
