import { Inject, Injectable } from '@nestjs/common';
import { Principal, actorOf } from '../access';
import { Sequencer } from '../ledger';
import { CLOCK, Clock, IDS, Ids } from '../platform';
import { NewSink, SinkChange } from './sink-request';
import { decideApprove, decideChange, decideCreate, decideReplay, mayManageSink } from './sink.decider';
import { sinkEntry } from './sink.entries';
import { SinkRecord, SinkStore } from './sink.store';
import { SinkChangedError, SinkNotFoundError } from './streaming.errors';

/**
 * Every change of a sink: decided (sink.decider.ts), then its `platform` entry and the row in one
 * `Sequencer.append(entries, effect)` transaction, the row written only over the version decided
 * on (else 409 `sink_changed`: read again, retry).
 */
@Injectable()
export class SinkChanges {
  constructor(
    private readonly store: SinkStore,
    private readonly sequencer: Sequencer,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  /** The sink as `by` may see it: one outside its scope is not found. */
  async visible(by: Principal, id: string): Promise<SinkRecord> {
    const sink = await this.store.find(id);
    if (sink === undefined || !mayManageSink(by, sink)) throw new SinkNotFoundError();
    return sink;
  }

  async create(by: Principal, request: NewSink): Promise<SinkRecord> {
    const at = this.clock.now();
    const sink = decideCreate(by, this.ids.next(), request);
    await this.sequencer.append([sinkEntry('sink.created', actorOf(by), sink, at)], (sql) =>
      this.store.insert(sql, sink, request.secret, at),
    );
    return (await this.store.find(sink.id)) as SinkRecord;
  }

  async change(by: Principal, id: string, change: SinkChange): Promise<SinkRecord> {
    const current = await this.store.find(id);
    const { next, changed } = decideChange(by, current, change);
    if (changed.length === 0) return current as SinkRecord;
    const at = this.clock.now();
    await this.sequencer.append([sinkEntry('sink.changed', actorOf(by), next, at, { changed })], async (sql) => {
      if (!(await this.store.update(sql, next, (current as SinkRecord).version, change.secret)))
        throw new SinkChangedError();
    });
    return (await this.store.find(id)) as SinkRecord;
  }

  async approve(by: Principal, id: string): Promise<SinkRecord> {
    const current = await this.store.find(id);
    const next = decideApprove(by, current);
    const at = this.clock.now();
    await this.sequencer.append([sinkEntry('sink.approved', actorOf(by), next, at)], async (sql) => {
      if (!(await this.store.update(sql, next, (current as SinkRecord).version, undefined)))
        throw new SinkChangedError();
    });
    return (await this.store.find(id)) as SinkRecord;
  }

  /** Moves the sink's position in `log` back to `from`: recorded as `sink.replayed` with both positions. */
  async replay(by: Principal, id: string, log: string, from: number): Promise<SinkRecord> {
    const current = await this.store.find(id);
    const positions = current === undefined ? [] : await this.store.positions(current);
    const position = positions.find((p) => p.log === log)?.position ?? 0;
    decideReplay(by, current, log, from, position);
    const sink = current as SinkRecord;
    const at = this.clock.now();
    await this.sequencer.append(
      [sinkEntry('sink.replayed', actorOf(by), sink, at, { log, from: position, to: from })],
      async (sql) => {
        // The position the decision saw: a delivery that moved it meanwhile makes this a retry.
        if ((await this.store.lockPosition(sql, id, log)) !== position) throw new SinkChangedError();
        await this.store.rewind(sql, id, log, from, at);
      },
    );
    return sink;
  }

  async remove(by: Principal, id: string): Promise<void> {
    const current = await this.visible(by, id);
    const at = this.clock.now();
    await this.sequencer.append([sinkEntry('sink.deleted', actorOf(by), current, at)], async (sql) => {
      if (!(await this.store.remove(sql, id, current.version))) throw new SinkChangedError();
    });
  }
}
