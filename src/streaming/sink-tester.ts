import { Inject, Injectable } from '@nestjs/common';
import { LedgerEntry } from '@audit/ledger';
import { APP_CONFIG, AppConfig, CLOCK, Clock, IDS, Ids } from '../platform';
import { failureMessage } from './delivery-backoff';
import { hecBatch, ndjsonBatch, syslogFrames, syslogMessages } from './sink-formats';
import { isRelpUrl } from './sink-request';
import { SinkRecord, SinkStore } from './sink.store';
import { sendHttp, sendRelp, sendSyslog } from './sink-transport';

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
    const entries = [{ entry, leafHash: '' }];
    const secret = (await this.store.secretOf(sink.id)) ?? '';
    const timeoutMs = this.config.sinks.timeoutMs;
    try {
      if (sink.kind === 'syslog' && isRelpUrl(sink.url))
        await sendRelp(sink.url, syslogMessages(entries, this.config.logOriginPrefix), timeoutMs);
      else if (sink.kind === 'syslog')
        await sendSyslog(sink.url, syslogFrames(entries, this.config.logOriginPrefix), timeoutMs);
      else
        await sendHttp(
          sink.url,
          sink.kind === 'ndjson'
            ? ndjsonBatch(entries, '', secret, Math.floor(now.getTime() / 1000))
            : hecBatch(entries, '', secret, this.config.logOriginPrefix),
          timeoutMs,
        );
      return { delivered: true, error: null };
    } catch (error) {
      return { delivered: false, error: failureMessage(error) };
    }
  }
}
