import { InjectQueue } from '@nestjs/bullmq';
import { Controller, Get, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { Queue } from 'bullmq';
import type { FastifyReply } from 'fastify';
import { RequirePermission } from '../access';
import { MAINTENANCE_QUEUE } from '../platform';
import { redisReady } from '../platform';
import { MetricsService } from '../platform';

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @InjectQueue(MAINTENANCE_QUEUE) private readonly queue: Queue,
  ) {}

  @Get()
  @RequirePermission('public')
  async scrape(@Res() reply: FastifyReply): Promise<void> {
    try {
      // Redis down: BullMQ would hold the command until it is back, and the scrape with it.
      if (!(await redisReady(this.queue))) throw new Error('redis unreachable');
      const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
      for (const [state, n] of Object.entries(counts))
        this.metrics.queueDepth.set({ queue: MAINTENANCE_QUEUE, state }, n);
    } catch {
      // Redis down: the other metrics still matter.
    }
    await reply.header('content-type', this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}
