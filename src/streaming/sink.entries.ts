import { JsonValue, PLATFORM_LOG } from '@audit/ledger';
import { EventToAppend, SERVICE_SOURCE } from '../ledger';
import { shownUrl } from './sink-request';
import { SinkState } from './sink.decider';

/** The category of sink changes in the `platform` log. */
export const STREAMING_CATEGORY = 'streaming';

export type SinkEntryType = 'sink.created' | 'sink.changed' | 'sink.approved' | 'sink.replayed' | 'sink.deleted';

/** What a sink entry says of the sink: never the secret (only whether one is set), the URL without its query. */
export function sinkJson(sink: SinkState): { [member: string]: JsonValue } {
  return {
    name: sink.name,
    kind: sink.kind,
    url: shownUrl(sink.url),
    tenants: [...sink.tenants],
    categories: sink.categories === null ? null : [...sink.categories],
    types: sink.types === null ? null : [...sink.types],
    from: sink.from,
    personalData: sink.personalData,
    status: sink.status,
    secretSet: sink.secretSet,
  };
}

/** A sink change as a `platform` entry: category `streaming`, the acting key as actor, the sink as target. */
export function sinkEntry(
  type: SinkEntryType,
  actor: { type: string; id: string },
  sink: SinkState,
  at: Date,
  context: { [member: string]: JsonValue } = {},
): EventToAppend {
  return {
    log: PLATFORM_LOG,
    source: SERVICE_SOURCE,
    type,
    category: STREAMING_CATEGORY,
    actor,
    target: { type: 'sink', id: sink.id },
    outcome: 'success',
    occurredAt: at.toISOString(),
    context: { sink: sinkJson(sink), ...context },
  };
}
