/** One measured figure beside the baseline it is judged against, both from the same run. */
export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The baseline measured in this run, when the figure is a ratio target. */
  readonly baseline?: { readonly name: string; readonly value: number };
  /** The target: a minimum or maximum ratio to the baseline, or a maximum/minimum absolute value. */
  readonly target?: { readonly kind: 'min-ratio' | 'max-ratio' | 'max' | 'min'; readonly value: number };
}

export function ratio(f: BenchFigure): number | undefined {
  return f.baseline ? f.value / f.baseline.value : undefined;
}

export function meetsTarget(f: BenchFigure): boolean | undefined {
  if (!f.target) return undefined;
  switch (f.target.kind) {
    case 'min-ratio':
      return (ratio(f) ?? 0) >= f.target.value;
    case 'max-ratio':
      return (ratio(f) ?? Infinity) <= f.target.value;
    case 'max':
      return f.value <= f.target.value;
    case 'min':
      return f.value >= f.target.value;
  }
}

const fmt = (n: number) => (Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n < 10 ? 3 : 2));

/** A plain-text table: figure, value, baseline, ratio, target, verdict. */
export function formatTable(figures: readonly BenchFigure[]): string {
  const rows = [['figure', 'value', 'baseline (same run)', 'ratio', 'target', 'met']];
  for (const f of figures) {
    const r = ratio(f);
    const met = meetsTarget(f);
    rows.push([
      f.name,
      `${fmt(f.value)} ${f.unit}`,
      f.baseline ? `${fmt(f.baseline.value)} ${f.unit} (${f.baseline.name})` : '',
      r === undefined ? '' : r.toFixed(2),
      !f.target
        ? ''
        : f.target.kind === 'min-ratio' || f.target.kind === 'max-ratio'
          ? `${f.target.kind === 'min-ratio' ? '>=' : '<='} ${f.target.value}x`
          : `${f.target.kind === 'max' ? '<=' : '>='} ${f.target.value}`,
      met === undefined ? '' : met ? 'yes' : 'NO',
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows
    .map((row) =>
      row
        .map((cell, c) => cell.padEnd(widths[c]))
        .join(' | ')
        .trimEnd(),
    )
    .join('\n');
}
