import { Inject, Injectable } from '@nestjs/common';
import { LedgerEntry } from '@audit/ledger';
import { APP_CONFIG, AppConfig, CLOCK, Clock, IDS, Ids } from '../platform';
import { failureMessage } from './delivery-backoff';
import { formatDelivery } from './sink-formats';
import { isRelpUrl } from './sink-request';
import { SinkRecord, SinkStore } from './sink.store';
import { sendDelivery } from './sink-transport';

/**
 * `POST /v1/sinks/{id}/test`: one signed test event, type `sink.test`, in the sink's own format,
 * outside every log (no index, no checkpoint: `metadata.sequence` is -1, the checkpoint header
 * empty). Moves no position.
 */
@Injectable()
export class SinkTester {
  constructor(
    private readonly store: SinkStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  async test(sink: SinkRecord): Promise<{ delivered: boolean; error: string | null }> {
    const now = this.clock.now();
    const entry: LedgerEntry = {
      v: 1,
      log: sink.tenants[0] === '*' ? 'test' : sink.tenants[0],
      index: -1,
      prev: '',
      id: this.ids.next(),
      recordedAt: now.toISOString(),
      occurredAt: now.toISOString(),
      source: 'audit-trail',
      type: 'sink.test',
      category: 'streaming',
      actor: { type: 'sink', id: sink.id },
      outcome: 'success',
    };
    const secret = (await this.store.secretOf(sink.id)) ?? '';
    try {
      const { payload } = formatDelivery({
        kind: sink.kind,
        relp: isRelpUrl(sink.url),
        leaves: [JSON.stringify(entry)],
        leafHashes: [''],
        personal: null,
        categories: null,
        types: null,
        checkpoint: '',
        secret,
        now: Math.floor(now.getTime() / 1000),
        host: this.config.logOriginPrefix,
      });
      await sendDelivery(sink.url, payload, this.config.sinks.timeoutMs);
      return { delivered: true, error: null };
    } catch (error) {
      return { delivered: false, error: failureMessage(error) };
    }
  }
}
