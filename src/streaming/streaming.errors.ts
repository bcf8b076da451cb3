import { erringWith } from '../platform';

/** The HTTP status of each code the context raises: an error whose code is missing here does not type-check. */
const STATUS = {
  sink_not_found: 404,
  sink_outside_scope: 403,
  sink_not_pending: 409,
  approval_not_independent: 409,
  replay_forward: 409,
  sink_changed: 409,
} as const;

export type StreamingErrorCode = keyof typeof STATUS;

/** Errors of the streaming context, with stable codes and their HTTP status. */
export abstract class StreamingError extends erringWith(STATUS) {}

/** No such sink, or one outside the key's scope (they look alike). */
export class SinkNotFoundError extends StreamingError {
  readonly code = 'sink_not_found';

  constructor() {
    super('no such sink');
  }
}

/** Tenants outside the acting key's scope. */
export class SinkScopeError extends StreamingError {
  readonly code = 'sink_outside_scope';
}

/** Only a pending sink that carries personal data is approved. */
export class SinkNotApprovableError extends StreamingError {
  readonly code = 'sink_not_pending';

  constructor(status: string) {
    super(`only a pending sink that carries personal data is approved; this one is ${status}`);
  }
}

/** The approver is not a second, independent legal person. */
export class SinkApprovalNotIndependentError extends StreamingError {
  readonly code = 'approval_not_independent';
}

/** A replay moves a position back only. */
export class SinkReplayForwardError extends StreamingError {
  readonly code = 'replay_forward';

  constructor(position: number) {
    super(`a replay moves back only: the sink is at ${position} in this log`);
  }
}

/** Another change of the sink committed first: read it again and retry. */
export class SinkChangedError extends StreamingError {
  readonly code = 'sink_changed';

  constructor() {
    super('the sink was changed meanwhile: read it again and retry');
  }
}
