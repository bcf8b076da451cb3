import { ExportProblem, ExportVerificationReport, ExportVerifier, ExportVerifierOptions } from './export-verifier';

/**
 * What a check of a bundle found: one report per log section, in file order, with line numbers
 * of the whole file; `ok` exactly when every section is ok and there is at least one.
 */
export interface BundleVerificationReport {
  readonly ok: boolean;
  readonly sections: ExportVerificationReport[];
  /** Entry lines of every section. */
  readonly entries: number;
  readonly verified: number;
  readonly erased: number;
  /** Every section's problems, in line order, plus those between sections. */
  readonly problems: ExportProblem[];
}

const ENTRY_START = '{"index"';

/** Whether `line` is a header line: a JSON object with a `checkpoint` member (entry lines have none). */
function isHeader(line: string): boolean {
  if (line.startsWith(ENTRY_START)) return false;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) && 'checkpoint' in value;
  } catch {
    return false;
  }
}

/**
 * Checks a bundle: several exports (docs/ledger-format.md "Export format") one after another, as a
 * subject-access bundle spans several logs. Each header line starts a new section, checked by an
 * ExportVerifier of its own with the same options (one trusted key for every log); the first line
 * must be a header. A single export is a bundle of one section, with the same report. Memory stays
 * O(1) in the number of lines, but for one report per section.
 */
export class BundleVerifier {
  private readonly sections: { start: number; report: ExportVerificationReport }[] = [];
  private readonly between: ExportProblem[] = [];
  private current: ExportVerifier | null = null;
  private start = 0;
  private lineNumber = 0;
  private pendingBlank = 0;

  /** Requires `options.trustedKey`, when given, to be a valid verifier key text (as ExportVerifier). */
  constructor(private readonly options: ExportVerifierOptions = {}) {
    // Fails now on a bad key, as ExportVerifier does.
    new ExportVerifier(options);
  }

  /** Checks the next line of the file, given without its line ending. */
  push(line: string): void {
    const n = ++this.lineNumber;
    if (line === '' && this.current !== null) {
      // Only the file's last line may be empty: held back until the next line says otherwise.
      if (this.pendingBlank === 0) this.pendingBlank = n;
      else this.current.push('');
      return;
    }
    if (this.current === null || isHeader(line)) {
      if (this.current !== null && this.pendingBlank !== 0)
        this.between.push({ line: this.pendingBlank, code: 'blank_line', message: 'blank line before a header line' });
      this.pendingBlank = 0;
      this.close();
      this.current = new ExportVerifier(this.options);
      this.start = n;
    } else if (this.pendingBlank !== 0) {
      this.current.push('');
      this.pendingBlank = 0;
    }
    this.current.push(line);
  }

  /** Ends the check and reports. */
  finish(): BundleVerificationReport {
    if (this.current === null) this.current = new ExportVerifier(this.options);
    this.close();
    const sections = this.sections.map(({ start, report }) => shift(report, start - 1));
    const problems = [...sections.flatMap((s) => s.problems), ...this.between].sort((a, b) => a.line - b.line);
    return {
      ok: sections.length > 0 && sections.every((s) => s.ok) && this.between.length === 0,
      sections,
      entries: sections.reduce((sum, s) => sum + s.entries, 0),
      verified: sections.reduce((sum, s) => sum + s.verified, 0),
      erased: sections.reduce((sum, s) => sum + s.erased, 0),
      problems,
    };
  }

  private close(): void {
    if (this.current === null) return;
    this.sections.push({ start: this.start, report: this.current.finish() });
    this.current = null;
  }
}

/** The report with its line numbers moved by `offset`. */
function shift(report: ExportVerificationReport, offset: number): ExportVerificationReport {
  if (offset === 0) return report;
  return {
    ...report,
    problems: report.problems.map((p) => ({ ...p, line: p.line + offset })),
    ...(report.firstBadLine !== undefined ? { firstBadLine: report.firstBadLine + offset } : {}),
  };
}
