import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { erringWith } from '../errors/coded-error';
import { MetricsService } from '../metrics/metrics.service';
import { PersonalDataFinding, PersonalDataKind, findPersonalData } from './personal-data.detector';

const STATUS = { personal_data_outside: 422 } as const;

/** The codes of the personal-data guard. */
export type PersonalDataErrorCode = keyof typeof STATUS;

abstract class PersonalDataError extends erringWith(STATUS) {}

/**
 * A finding as the guard reports it: a detector's, or `declared` (a field its event type declares
 * personal, whatever it holds); `field` is the path's pattern for the metric (bounded labels).
 */
export interface GuardedFinding {
  readonly path: string;
  readonly kind: PersonalDataFinding['kind'] | 'declared';
  readonly field: string;
}

/**
 * Values that look like personal data outside `personal` (the immutable leaf could never forget
 * them): refused whole, naming each field and what it looks like, never the value.
 */
export class PersonalDataOutsideError extends PersonalDataError {
  readonly code = 'personal_data_outside';

  constructor(readonly findings: readonly GuardedFinding[]) {
    super(
      `${findings[0].path} looks like ${describe(findings[0])}: personal data must travel in personal.data ` +
        '(erasable), never in fields that become part of the immutable ledger entry',
    );
  }

  override get details(): readonly { path: string; message: string }[] {
    return this.findings.map((f) => ({
      path: f.path,
      message: `looks like ${describe(f)}; move it into personal.data (with personal.subject)`,
    }));
  }
}

function describe(finding: GuardedFinding): string {
  const names: Record<GuardedFinding['kind'], string> = {
    declared: 'a field its event type declares personal',
    email: 'an email address',
    ip: 'an IP address',
    phone: 'a phone number',
    card: 'a payment card number',
  };
  return names[finding.kind];
}

/** Where to scan: a JSON pointer, its value, and how its findings are labelled in the metric. */
export interface GuardedField {
  readonly path: string;
  readonly value: unknown;
  /** The metric's `field` label of a finding at `path` (bounded: no emitter-chosen names). */
  readonly field: (path: string) => string;
  /** Paths not scanned: fields declared not personal. */
  readonly skip?: (path: string) => boolean;
  /** Only these kinds here (a hold's subjects: emails only); all configured kinds by default. */
  readonly only?: readonly PersonalDataKind[];
}

/**
 * The personal-data guard (docs/api.md "Personal data outside `personal`"), used by every route
 * whose input becomes part of a ledger entry. `enforce` (default) refuses with 422
 * `personal_data_outside`; `report` accepts, counts `audit_personal_data_outside_total` and logs
 * the request kind, field path and kind, never the value.
 */
@Injectable()
export class PersonalDataGuard {
  private readonly logger = new Logger('PersonalDataGuard');
  private readonly kinds: ReadonlySet<PersonalDataKind>;
  private readonly mode: 'enforce' | 'report';

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.kinds = config.personalData.kinds;
    this.mode = config.personalData.mode;
  }

  /** Scans `fields`; `what` names the request in the log line (an event type, `hold`, `deletion_request`). */
  check(what: string, fields: readonly GuardedField[], declared: readonly GuardedFinding[] = []): void {
    const findings: GuardedFinding[] = [...declared];
    for (const field of fields) {
      if (field.value === undefined) continue;
      const kinds = field.only ? new Set(field.only.filter((k) => this.kinds.has(k))) : this.kinds;
      for (const found of findPersonalData(field.value, field.path, kinds, field.skip)) {
        findings.push({ ...found, field: field.field(found.path) });
      }
    }
    if (findings.length === 0) return;
    const outcome = this.mode === 'enforce' ? 'refused' : 'reported';
    for (const f of findings) {
      this.metrics.personalDataOutside.inc({ kind: f.kind, field: f.field, outcome });
    }
    if (this.mode === 'enforce') throw new PersonalDataOutsideError(findings);
    for (const f of findings) {
      this.logger.warn(
        `personal data outside personal accepted (report mode): ${what} ${f.path} looks like ${describe(f)}`,
      );
    }
  }
}
