// `npm run bench [-- --quick]`: every figure beside its baseline from the same run, as a table.
// The quick mode is a smoke run for CI: it proves the benchmarks work, not the numbers.
import { runLedgerBench } from './ledger.bench';
import { BenchFigure, formatTable, meetsTarget } from './report';

function main(): void {
  const quick = process.argv.includes('--quick');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = Date.now();
  log(`bench: ${quick ? 'quick smoke run' : 'full run'}; node ${process.version}`);
  const figures: BenchFigure[] = [...runLedgerBench(quick, log)];
  process.stdout.write(`${formatTable(figures)}\n`);
  log(`bench: finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const missed = figures.filter((f) => meetsTarget(f) === false);
  if (missed.length > 0 && !quick) {
    log(`bench: ${missed.length} target(s) missed`);
    process.exitCode = 1;
  }
}

main();
