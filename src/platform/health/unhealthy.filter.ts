import { ArgumentsHost, Catch, ExceptionFilter, ServiceUnavailableException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

interface HealthReport {
  status: string;
  error?: Record<string, unknown>;
}

/**
 * `/health` while something it checks is down: terminus' report (`status`, `info`, `error`,
 * `details`: which indicator is down and why) with 503, the error code every other 503 carries
 * and `Retry-After`, instead of the general error body that would drop which dependency it is.
 */
@Catch(ServiceUnavailableException)
export class UnhealthyFilter implements ExceptionFilter {
  catch(exception: ServiceUnavailableException, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const report = exception.getResponse() as HealthReport;
    const down = Object.keys(report.error ?? {});
    void reply
      .status(503)
      .header('Retry-After', '1')
      .header('content-type', 'application/json; charset=utf-8')
      .send({
        ...report,
        statusCode: 503,
        code: 'unavailable',
        message: `unavailable: ${down.join(', ') || 'unknown'}`,
      });
  }
}
